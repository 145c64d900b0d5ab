"""Where an op becomes a function and a Tensor method: one `register` line per op.

`@register("exp")` on an op class makes `tg.exp(x)`, `tensorgrad.functional.exp(x)` and `x.exp()`; the
positional arguments after the op's tensors, and any keywords, go to the op's constructor
(`x.sum(1, keepdims=True)` is `apply(Sum(1, keepdims=True), x)`). An op whose call needs more than that (a
shape given as `*sizes`, checks of its arguments) defines a classmethod `call`, which is used instead.
The shared op tests read `OPS`, so a registered op is tested without another edit.
"""

from __future__ import annotations

import inspect

from ..autograd.engine import apply
from ..dtypes import operand_array
from ..tensor import Tensor, _make

#: name -> the function behind tg.<name>, tensorgrad.functional.<name> and Tensor.<name>
FUNCTIONS: dict = {}
#: name -> op class, for every registered op
OPS: dict = {}


def register(name: str, *, method: bool = True, function: bool = True, operators: tuple = ()):
    """Class decorator: make the op available as a function (`tg.name`) and a method (`x.name(...)`).

    `operators` names the Python operators it implements, e.g. ("__add__", "__radd__"): the second, if
    given, is the reflected one (`2 + x`).
    """

    def decorate(op_class):
        OPS[name] = op_class
        front = _custom_front(op_class.call) if hasattr(op_class, "call") else _front(op_class)
        front.__name__ = front.__qualname__ = name
        front.__doc__ = op_class.__doc__
        expose(name, front, method=method, function=function)
        if operators:
            _install_operators(op_class, *operators)
        return op_class

    return decorate


def expose(name: str, front, *, method: bool = True, function: bool = True) -> None:
    """Make `front` available as tg.<name> (and F.<name>) and as the Tensor method `name`."""
    if inspect.ismethod(front):  # a classmethod `call`: a plain function binds `self` as a method
        front = _custom_front(front)
    if function:
        FUNCTIONS[name] = front
    if method:
        setattr(Tensor, name, front)


def as_input(x, function: str) -> Tensor:
    """The first input of a function, which must be a Tensor."""
    if not isinstance(x, Tensor):
        raise TypeError(f"{function}(): expected a Tensor, got {type(x).__name__}; wrap it with tg.tensor()")
    return x


def either_spelling(function: str, torch_name: str, torch_value, numpy_name: str, numpy_value):
    """An argument PyTorch and NumPy spell differently (`dim` and `axis`): whichever was given (None: not
    given; a list as a tuple, as PyTorch takes `dim=[0, 1]`); both only if they agree, else a TypeError
    naming them."""
    torch_value, numpy_value = (tuple(v) if isinstance(v, list) else v for v in (torch_value, numpy_value))
    if torch_value is None:
        return numpy_value
    if numpy_value is not None and numpy_value != torch_value:
        raise TypeError(
            f"{function}() got {torch_name}={torch_value!r} and {numpy_name}={numpy_value!r}: give one of them"
        )
    return torch_value


def operand(value, like: Tensor) -> Tensor:
    """The other operand of a binary op as a tensor; scalars take the float dtype of `like`."""
    if isinstance(value, Tensor):
        return value
    return _make(operand_array(value, like.data.dtype))


def pair(a, b, function: str):
    """Two operands of which at least one is a Tensor, both as Tensors."""
    if isinstance(a, Tensor):
        return a, operand(b, a)
    if isinstance(b, Tensor):
        return operand(a, b), b
    raise TypeError(
        f"{function}(): expected a Tensor, got {type(a).__name__} and {type(b).__name__}; "
        "wrap one with tg.tensor()"
    )


def _custom_front(call):
    def front(*args, **kwargs):
        return call(*args, **kwargs)

    front.__signature__ = inspect.signature(call)  # help() and IDEs show the real arguments
    return front


def _front(op_class):
    arity = op_class.arity
    name = op_class.name
    if arity == 1:

        def front(x, *args, **kwargs):
            return apply(op_class(*args, **kwargs), as_input(x, name))

    elif arity == 2:

        def front(a, b, *args, **kwargs):
            return apply(op_class(*args, **kwargs), *pair(a, b, name))

    elif arity is None:

        def front(tensors, *args, **kwargs):
            if isinstance(tensors, Tensor):
                raise TypeError(f"{name}(): expected a sequence of Tensors, got a single Tensor")
            return apply(op_class(*args, **kwargs), *[as_input(t, name) for t in tensors])

    else:
        raise TypeError(f"register: {op_class.__name__}.arity must be 1, 2 or None, or define call()")
    front.__doc__ = op_class.__doc__
    tensors = {1: ["input"], 2: ["input", "other"], None: ["tensors"]}[arity]
    options = list(inspect.signature(op_class.__init__).parameters.values())[1:]
    if options and options[0].kind is inspect.Parameter.VAR_POSITIONAL:  # Op's own __init__ (no options)
        options = []
    positional = [inspect.Parameter(name, inspect.Parameter.POSITIONAL_OR_KEYWORD) for name in tensors]
    front.__signature__ = inspect.Signature(positional + options)  # help() and IDEs show the real arguments
    return front


def _install_operators(op_class, forward_name: str, reflected_name: str | None = None) -> None:
    if op_class.arity == 1:

        def unary(self):
            return apply(op_class(), self)

        setattr(Tensor, forward_name, unary)
        return

    def operator(self, other):
        return apply(op_class(), self, operand(other, self))

    setattr(Tensor, forward_name, operator)
    if reflected_name:

        def reflected(self, other):
            return apply(op_class(), operand(other, self), self)

        setattr(Tensor, reflected_name, reflected)
