"""Every mapped op, exported on its own and run by onnxruntime, gives what tensorgrad gives.

Each case pins one op class (and checks that its graph really holds that op, and, where named, that the
file holds the ONNX nodes the mapping promises); together the cases cover every entry of
`tensorgrad.onnx.EMITTERS`. A case marked batch-free is also run at batch size 1 and at a larger one from
the same file, which the symbolic batch dimension must allow.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import onnx
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
ROW_MASK = np.array([[True], [False], [False], [True]])  # one per example: fixes the batch size
E = tg.tensor(RNG.standard_normal((7, 5), dtype=np.float32), requires_grad=True)  # 7 embeddings of width 5
IDS = np.array([[6, 0, 3], [3, 3, 1]])
GATHER_INDEX = np.array([[4, 0], [1, 1], [0, 3], [2, 4]])
LN_WEIGHT = tg.tensor(RNG.standard_normal(5, dtype=np.float32), requires_grad=True)
LN_BIAS = tg.tensor(RNG.standard_normal(5, dtype=np.float32), requires_grad=True)
CONV = nn.Conv2d(2, 4, 3, stride=2, padding=1, rng=3)
RUNNING_MEAN = RNG.standard_normal(2).astype(np.float32)
RUNNING_VAR = RNG.uniform(0.5, 2.0, 2).astype(np.float32)


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
    nodes: tuple = ()  # ONNX node types the file must hold


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
    "where": Case(ops.Where, lambda x: tg.where(MASK, x, -x), nodes=("Where",)),
    "where_scalar": Case(ops.Where, lambda x: tg.where(MASK, 0.5, x)),
    "where_per_example": Case(ops.Where, lambda x: tg.where(ROW_MASK, x, x * x), batch_free=False),
    "abs": Case(ops.pointwise.Abs, lambda x: tg.abs(x)),
    "sqrt": Case(ops.pointwise.Sqrt, lambda x: x.sqrt(), low=0.0),
    "rsqrt": Case(ops.pointwise.Rsqrt, lambda x: x.rsqrt(), low=0.1),
    "square": Case(ops.pointwise.Square, lambda x: x.square()),
    "log1p": Case(ops.pointwise.Log1p, lambda x: x.log1p(), low=-0.99, high=3.0),
    "expm1": Case(ops.pointwise.Expm1, lambda x: x.expm1(), low=-3.0, high=3.0),
    "sin": Case(ops.pointwise.Sin, lambda x: x.sin(), low=-6.0, high=6.0),
    "cos": Case(ops.pointwise.Cos, lambda x: x.cos(), low=-6.0, high=6.0),
    "erf": Case(ops.pointwise.Erf, lambda x: x.erf(), nodes=("Erf",)),
    "clamp": Case(ops.pointwise.Clamp, lambda x: x.clamp(-0.5, 1.0), nodes=("Clip",)),
    "clamp_min": Case(ops.pointwise.Clamp, lambda x: x.clamp(min=0.25)),
    "clamp_max": Case(ops.pointwise.Clamp, lambda x: tg.clip(x, max=-0.25)),
    "clamp_min_above_max": Case(ops.pointwise.Clamp, lambda x: x.clamp(1.0, -1.0)),
    "clamp_float64": Case(ops.pointwise.Clamp, lambda x: x.clamp(-0.3, 0.7), dtype=np.float64),
    "maximum": Case(ops.pointwise.Maximum, lambda x: tg.maximum(x, x.sin()), nodes=("Max",)),
    "maximum_of_a_constant": Case(ops.pointwise.Maximum, lambda x: tg.maximum(0.5, x)),
    "minimum": Case(ops.pointwise.Minimum, lambda x: tg.minimum(x, np.arange(5, dtype=np.float32) - 2)),
    "leaky_relu": Case(ops.activations.LeakyReLU, lambda x: F.leaky_relu(x, 0.2), nodes=("LeakyRelu",)),
    "leaky_relu_float64": Case(ops.activations.LeakyReLU, lambda x: F.leaky_relu(x), dtype=np.float64),
    "gelu_erf_before_opset_20": Case(
        ops.activations.GELU, lambda x: F.gelu(x), low=-5.0, high=5.0, nodes=("Erf",)
    ),
    "gelu_opset_20": Case(
        ops.activations.GELU, lambda x: F.gelu(x), low=-5.0, high=5.0, opset=20, nodes=("Gelu",)
    ),
    "gelu_tanh_before_opset_20": Case(
        ops.activations.GELU, lambda x: F.gelu(x, approximate="tanh"), low=-5.0, high=5.0, nodes=("Tanh",)
    ),
    "gelu_tanh_opset_20": Case(
        ops.activations.GELU,
        lambda x: F.gelu(x, approximate="tanh"),
        low=-5.0,
        high=5.0,
        opset=20,
        nodes=("Gelu",),
    ),
    "gelu_tanh_float64_opset_20_is_the_formula": Case(
        ops.activations.GELU,
        lambda x: F.gelu(x, approximate="tanh"),
        opset=20,
        dtype=np.float64,
        nodes=("Tanh",),
    ),
    "silu": Case(ops.activations.SiLU, lambda x: F.silu(x), low=-10.0, high=10.0),
    "softplus": Case(
        ops.activations.Softplus, lambda x: F.softplus(x), low=-30.0, high=30.0, nodes=("Softplus",)
    ),
    "softplus_beta_threshold": Case(
        ops.activations.Softplus, lambda x: F.softplus(x, beta=2.0, threshold=3.0)
    ),
    "softplus_without_threshold": Case(
        ops.activations.Softplus, lambda x: F.softplus(x, 1.0, float("inf")), low=-30.0, high=30.0
    ),
    "einsum_matmul": Case(ops.einsum.Einsum, lambda x: tg.einsum("ij,jk->ik", x, W), nodes=("Einsum",)),
    "einsum_ellipsis": Case(ops.einsum.Einsum, lambda x: tg.einsum("...i,i", x, V), shape=(4, 2, 5)),
    "einsum_outer_per_example": Case(ops.einsum.Einsum, lambda x: tg.einsum("bi,bj->bij", x, x.exp())),
    "einsum_trace_per_example": Case(ops.einsum.Einsum, lambda x: tg.einsum("bii->b", x), shape=(4, 3, 3)),
    "min": Case(ops.reductions.Min, lambda x: x.min(axis=1)),
    "amin_opset_18": Case(ops.reductions.Min, lambda x: x.amin(dim=(0, 1), keepdim=True), opset=18),
    "logsumexp": Case(ops.reductions.LogSumExp, lambda x: x.logsumexp(1), low=-80.0, high=80.0),
    "logsumexp_keepdims_opset_18": Case(
        ops.reductions.LogSumExp, lambda x: x.logsumexp(-1, keepdims=True), opset=18
    ),
    "var": Case(ops.statistics.Var, lambda x: x.var(1)),
    "var_over_the_batch": Case(ops.statistics.Var, lambda x: x.var(0, keepdim=True)),
    "var_of_everything_opset_18": Case(ops.statistics.Var, lambda x: x.var(correction=0), opset=18),
    "std": Case(ops.statistics.Std, lambda x: x.std(-1, correction=0)),
    "std_over_the_batch_too_large_correction": Case(
        ops.statistics.Std, lambda x: x.std((0, 1), correction=3)
    ),
    "layer_norm": Case(ops.statistics.Var, lambda x: F.layer_norm(x, (5,), LN_WEIGHT, LN_BIAS)),
    "layer_norm_two_axes": Case(ops.statistics.Var, lambda x: F.layer_norm(x, (2, 3)), shape=(4, 2, 3)),
    "norm": Case(ops.normalization.Norm, lambda x: tg.norm(x, dim=1), nodes=("ReduceL2",)),
    "norm_1": Case(ops.normalization.Norm, lambda x: tg.norm(x, 1, dim=1, keepdim=True), nodes=("ReduceL1",)),
    "norm_3_opset_18": Case(ops.normalization.Norm, lambda x: tg.norm(x, 3, dim=(0, 1)), opset=18),
    "normalize": Case(ops.normalization.Norm, lambda x: F.normalize(x, dim=1)),
    "reshape_squeeze": Case(ops.Reshape, lambda x: x.squeeze(1), shape=(4, 1, 5), nodes=("Squeeze",)),
    "reshape_unsqueeze_before_the_batch": Case(ops.Reshape, lambda x: x.unsqueeze(0), nodes=("Unsqueeze",)),
    "reshape_unsqueeze_last": Case(ops.Reshape, lambda x: x[:, 0].unsqueeze(-1)),
    "reshape_same_shape": Case(ops.Reshape, lambda x: x.reshape(-1, 5), nodes=("Identity",)),
    "broadcast_to": Case(ops.BroadcastTo, lambda x: x.expand(4, 3, 5), shape=(4, 1, 5), batch_free=False),
    "expand_keeps_the_batch_free": Case(ops.BroadcastTo, lambda x: x.expand(-1, 3, 5), shape=(4, 1, 5)),
    "broadcast_to_new_leading_axis": Case(
        ops.BroadcastTo, lambda x: x.broadcast_to(2, 4, 5), batch_free=False
    ),
    "sum_to_size": Case(ops.shape.SumTo, lambda x: x.sum_to_size(1, 5)),
    "sum_to_size_fewer_axes": Case(ops.shape.SumTo, lambda x: x.sum_to_size(2, 1), shape=(4, 2, 3)),
    "flip": Case(ops.shape.Flip, lambda x: x.flip(1)),
    "flip_two_axes": Case(ops.shape.Flip, lambda x: tg.flip(x, (0, 2)), shape=(4, 2, 3)),
    "pad": Case(ops.padding.Pad, lambda x: F.pad(x, (1, 2)), nodes=("Pad",)),
    "pad_the_batch_axis_too": Case(ops.padding.Pad, lambda x: F.pad(x, (0, 1, 2, 1), value=-1.5)),
    "pad_negative_crops": Case(ops.padding.Pad, lambda x: F.pad(x, (-1, 2), value=3.0)),
    "prod_of_an_odd_axis": Case(ops.padding.Pad, lambda x: x.prod(1), low=0.5, high=1.5),
    "cat": Case(ops.joining.Cat, lambda x: tg.cat([x, x * 2], dim=1), nodes=("Concat",)),
    "cat_a_constant_along_the_batch": Case(
        ops.joining.Cat, lambda x: tg.cat([x, np.ones((2, 5), np.float32) + W[:2, :1]], 0)
    ),
    "cat_promotes": Case(ops.joining.Cat, lambda x: tg.cat([x, x.double()], dim=-1)),
    "stack": Case(ops.joining.Stack, lambda x: tg.stack([x, -x, x * x], dim=1)),
    "stack_last": Case(ops.joining.Stack, lambda x: tg.stack([x, x.exp()], dim=-1)),
    "split": Case(ops.GetItem, lambda x: tg.split(x, 2, dim=1)[2]),
    "chunk": Case(ops.GetItem, lambda x: tg.chunk(x, 2, dim=1)[0]),
    "gather": Case(
        ops.GetItem, lambda x: tg.gather(x, 1, GATHER_INDEX), batch_free=False, nodes=("GatherElements",)
    ),
    "gather_batch_axis": Case(ops.GetItem, lambda x: tg.gather(x, 0, GATHER_INDEX[1:3]), batch_free=False),
    "take_along_dim": Case(
        ops.GetItem, lambda x: tg.take_along_dim(x, GATHER_INDEX, dim=-1), batch_free=False
    ),
    "take_along_dim_stretches_the_input": Case(
        ops.GetItem,
        lambda x: tg.take_along_dim(x, np.array([[[4, 0], [1, 1], [0, 3]]] * 4), dim=2),
        shape=(4, 1, 5),
        batch_free=False,
        nodes=("Expand", "GatherElements"),
    ),
    "take_along_dim_broadcasting_the_index": Case(
        ops.GetItem, lambda x: tg.take_along_dim(x, GATHER_INDEX[:1], dim=1), batch_free=False
    ),
    "take_along_dim_flattened": Case(
        ops.GetItem, lambda x: tg.take_along_dim(x, np.array([19, 0, 7])), batch_free=False
    ),
    "embedding": Case(
        ops.indexing.Embedding, lambda x: x @ F.embedding(IDS, E).permute(0, 2, 1), nodes=("Gather",)
    ),
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
    "conv2d": Case(ops.convolution.Conv2d, CONV, shape=(3, 2, 7, 6), nodes=("Conv",)),
    "max_pool2d": Case(ops.pooling.MaxPool2d, lambda x: F.max_pool2d(x, 3, 2, padding=1), shape=(3, 2, 7, 6)),
    "avg_pool2d": Case(
        ops.pooling.AvgPool2d,
        lambda x: F.avg_pool2d(x, 3, 2, padding=1),
        shape=(3, 2, 7, 6),
        nodes=("AveragePool",),
    ),
    "adaptive_avg_pool2d_global": Case(
        ops.pooling.AvgPool2d,
        lambda x: F.adaptive_avg_pool2d(x, 1),
        shape=(3, 2, 5, 4),
        nodes=("GlobalAveragePool",),
    ),
    "batch_norm_running_statistics": Case(
        ops.batchnorm.BatchNormRunning,
        lambda x: F.batch_norm(x, RUNNING_MEAN, RUNNING_VAR, LN_WEIGHT[:2], LN_BIAS[:2], eps=1e-3),
        shape=(3, 2, 4, 5),
        nodes=("BatchNormalization",),
    ),
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
    node_types = {node.op_type for node in onnx.load(str(path)).graph.node}
    assert set(case.nodes) <= node_types, node_types
    (declared,) = declared_shapes(path)
    for batch in (case.shape[0], 1, case.shape[0] + 3) if case.batch_free else (case.shape[0],):
        x = example(batch)
        with tg.no_grad():
            expected = case.fn(tg.tensor(x)).data
        (got,) = run_onnx(path, x)
        assert (got.shape, got.dtype) == (expected.shape, expected.dtype)
        assert fits(declared, got.shape), (declared, got.shape)
        tolerance = 1e-5 if expected.dtype == np.float32 else 1e-12
        np.testing.assert_allclose(got, expected, rtol=tolerance, atol=tolerance)


@pytest.mark.parametrize("name", ["log1p", "expm1"])
def test_log1p_and_expm1_keep_their_relative_accuracy_near_zero(name, tmp_path):
    # ONNX has neither; log(1 + x) and exp(x) - 1 would give 0 for the tiniest of these, or lose digits
    x = np.array([[1e-30, -1e-12, 3e-8, -2e-6, 1e-4, -0.3, 0.49, 2.0]], dtype=np.float32)
    tg.onnx.export(lambda t: getattr(t, name)(), x, tmp_path / "m.onnx")
    (got,) = run_onnx(tmp_path / "m.onnx", x)
    exact = getattr(np, name)(x.astype(np.float64))
    np.testing.assert_allclose(got, exact, rtol=4e-7, atol=0)


def test_a_squeeze_recorded_at_batch_1_keeps_the_batch_free(tmp_path):
    # at batch 1 the batch axis is itself of size 1: it must not be squeezed away and put back
    def model(x):
        return x.squeeze(1).unsqueeze(-1) * 2

    tg.onnx.export(model, np.ones((1, 1, 5), np.float32), tmp_path / "m.onnx")
    x = RNG.standard_normal((3, 1, 5), dtype=np.float32)
    (got,) = run_onnx(tmp_path / "m.onnx", x)
    np.testing.assert_array_equal(got, x.reshape(3, 5, 1) * 2)
