"""Every mapped op, exported on its own and run by onnxruntime, gives what tensorgrad gives.

Each case pins one op class (and checks that its graph really holds that op); together the cases cover
every entry of `tensorgrad.onnx.EMITTERS`. A case marked batch-free is also run at another batch size from
the same file, which the symbolic batch dimension must allow.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import pytest

import tensorgrad as tg
import tensorgrad.functional as F
from tensorgrad import nn, ops
from tensorgrad.onnx import EMITTERS

from .conftest import declared_shapes, fits, run_onnx

RNG = np.random.default_rng(0)
W = tg.tensor(RNG.standard_normal((5, 3), dtype=np.float32), requires_grad=True)
V = tg.tensor(RNG.standard_normal(5, dtype=np.float32), requires_grad=True)
LABELS = np.array([0, 4, 2, 4])
PROBABILITIES = RNG.dirichlet(np.ones(5), size=4).astype(np.float32)
MASK = np.array([True, False, True, True, False])


@dataclass
class Case:
    op: type  # the op class this case is about
    fn: Callable  # the model: a function of one tensor, or a Module
    shape: tuple = (4, 5)
    low: float = -2.0
    high: float = 2.0
    batch_free: bool = True
    opset: int = tg.onnx.DEFAULT_OPSET
    dtype: type = np.float32


CASES = {
    "add": Case(ops.Add, lambda x: x + np.arange(5, dtype=np.float32)),
    "add_scalar": Case(ops.Add, lambda x: 2.5 + x),
    "add_int_array_promotes_to_float64": Case(ops.Add, lambda x: x + np.arange(5)),
    "sub": Case(ops.Sub, lambda x: 1.0 - x),
    "mul": Case(ops.Mul, lambda x: x * x),
    "div": Case(ops.Div, lambda x: 3.0 / (x * x + 1.0)),
    "pow": Case(ops.Pow, lambda x: x**2),
    "pow_of_a_constant": Case(ops.Pow, lambda x: 2.0**x),
    "neg": Case(ops.Neg, lambda x: -x),
    "exp": Case(ops.Exp, lambda x: x.exp()),
    "log": Case(ops.Log, lambda x: x.log(), low=0.1),
    "relu": Case(ops.ReLU, lambda x: x.relu()),
    "tanh": Case(ops.Tanh, lambda x: x.tanh()),
    "sigmoid": Case(ops.Sigmoid, lambda x: x.sigmoid(), low=-30.0, high=30.0),
    "cast_to_float64": Case(ops.Cast, lambda x: x.double() * 2),
    "cast_to_float32": Case(ops.Cast, lambda x: x.float().exp(), dtype=np.float64),
    "matmul": Case(ops.MatMul, lambda x: x @ W),
    "matmul_batched": Case(ops.MatMul, lambda x: x @ W, shape=(2, 4, 5)),
    "matmul_vector": Case(ops.MatMul, lambda x: x @ V),
    "linear": Case(ops.Linear, nn.Linear(5, 3, rng=0)),
    "linear_without_bias": Case(ops.Linear, nn.Linear(5, 3, bias=False, rng=1)),
    "linear_3d": Case(ops.Linear, nn.Linear(5, 3, rng=2), shape=(2, 4, 5)),
    "sum": Case(ops.Sum, lambda x: x.sum(axis=1)),
    "sum_all": Case(ops.Sum, lambda x: x.sum()),
    "sum_tuple_keepdims": Case(ops.Sum, lambda x: x.sum(axis=(0, 2), keepdims=True), shape=(4, 2, 3)),
    "sum_no_axes": Case(ops.Sum, lambda x: x.sum(axis=())),
    "mean": Case(ops.Mean, lambda x: x.mean(axis=-1, keepdims=True)),
    "mean_all": Case(ops.Mean, lambda x: x.mean()),
    "mean_opset_13": Case(ops.Mean, lambda x: x.mean(axis=0), opset=13),
    "mean_opset_18": Case(ops.Mean, lambda x: x.mean(axis=0), opset=18),
    "max": Case(ops.Max, lambda x: x.max(axis=0)),
    "max_opset_18": Case(ops.Max, lambda x: x.max(axis=1, keepdims=True), opset=18),
    "reshape_flatten": Case(ops.Reshape, lambda x: x.flatten(1), shape=(4, 2, 3)),
    "reshape_all": Case(ops.Reshape, lambda x: x.reshape(-1)),
    "reshape_fixed_batch": Case(ops.Reshape, lambda x: x.reshape(2, 10), batch_free=False),
    "permute": Case(ops.Permute, lambda x: x.permute(0, 2, 1), shape=(4, 2, 3)),
    "transpose": Case(ops.Permute, lambda x: x.T),
    "getitem_int": Case(ops.GetItem, lambda x: x[:, 1]),
    "getitem_last_row": Case(ops.GetItem, lambda x: x[-1]),
    "getitem_slices": Case(ops.GetItem, lambda x: x[::2, 1:-1]),
    "getitem_reversed": Case(ops.GetItem, lambda x: x[:, ::-1]),
    "getitem_negative_step": Case(ops.GetItem, lambda x: x[:, 3:0:-2]),
    "getitem_new_axis": Case(ops.GetItem, lambda x: x[:, None, 2:]),
    "getitem_ellipsis": Case(ops.GetItem, lambda x: x[..., 0, None], shape=(4, 2, 3)),
    "getitem_array": Case(ops.GetItem, lambda x: x[:, [0, 2, 2, -1]]),
    "getitem_mask": Case(ops.GetItem, lambda x: x[:, MASK]),
    "getitem_everything": Case(ops.GetItem, lambda x: x[...]),
    "softmax": Case(ops.Softmax, lambda x: x.softmax(axis=1), low=-50.0, high=50.0),
    "log_softmax": Case(ops.LogSoftmax, lambda x: x.log_softmax(axis=0)),
    "cross_entropy_mean": Case(ops.CrossEntropy, lambda x: F.cross_entropy(x, LABELS), batch_free=False),
    "cross_entropy_sum": Case(
        ops.CrossEntropy, lambda x: F.cross_entropy(x, LABELS, reduction="sum"), batch_free=False
    ),
    "cross_entropy_none": Case(
        ops.CrossEntropy,
        lambda x: F.cross_entropy(x, LABELS.astype(np.int32), reduction="none"),
        batch_free=False,
    ),
    "cross_entropy_probabilities": Case(
        ops.CrossEntropy, lambda x: F.cross_entropy(x, PROBABILITIES), batch_free=False
    ),
    "l2_penalty": Case(ops.L2Penalty, lambda x: F.l2_penalty([W, V], 0.1) + x.sum()),
}


def recorded_ops(fn, x: np.ndarray) -> set:
    """The op classes in the graph `fn` records on `x`."""
    stack, found = [fn(tg.tensor(x, requires_grad=True))], set()
    while stack:
        node = stack.pop().grad_fn
        if node is not None:
            found.add(type(node))
            stack.extend(node.inputs)
    return found


def test_every_mapped_op_has_a_case():
    assert {case.op for case in CASES.values()} == set(EMITTERS)


@pytest.mark.parametrize("name", sorted(CASES))
def test_op_gives_what_tensorgrad_gives(name, tmp_path):
    case = CASES[name]
    rng = np.random.default_rng(len(name))

    def example(batch: int) -> np.ndarray:
        return rng.uniform(case.low, case.high, (batch, *case.shape[1:])).astype(case.dtype)

    x = example(case.shape[0])
    assert case.op in recorded_ops(case.fn, x)
    path = tmp_path / f"{name}.onnx"
    tg.onnx.export(case.fn, x, path, opset=case.opset, dynamic_batch=case.batch_free)
    (declared,) = declared_shapes(path)
    for batch in (case.shape[0], case.shape[0] + 3) if case.batch_free else (case.shape[0],):
        x = example(batch)
        with tg.no_grad():
            expected = case.fn(tg.tensor(x)).data
        (got,) = run_onnx(path, x)
        assert (got.shape, got.dtype) == (expected.shape, expected.dtype)
        assert fits(declared, got.shape), (declared, got.shape)
        tolerance = 1e-5 if expected.dtype == np.float32 else 1e-12
        np.testing.assert_allclose(got, expected, rtol=tolerance, atol=tolerance)
