"""Every recorded operation, each a small class with its forward beside its backward."""

from .base import Op, sum_to
from .elementwise import Add, Cast, Div, Exp, Log, Mul, Neg, Pow, ReLU, Sigmoid, Sub, Tanh
from .linalg import Linear, MatMul
from .losses import REDUCTIONS, CrossEntropy, L2Penalty
from .reductions import Max, Mean, Sum
from .shape import GetItem, Permute, Reshape
from .softmax import LogSoftmax, Softmax

__all__ = [
    "REDUCTIONS",
    "Add",
    "Cast",
    "CrossEntropy",
    "Div",
    "Exp",
    "GetItem",
    "L2Penalty",
    "Linear",
    "Log",
    "LogSoftmax",
    "MatMul",
    "Max",
    "Mean",
    "Mul",
    "Neg",
    "Op",
    "Permute",
    "Pow",
    "ReLU",
    "Reshape",
    "Sigmoid",
    "Softmax",
    "Sub",
    "Sum",
    "Tanh",
    "sum_to",
]
