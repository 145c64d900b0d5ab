"""dtype discipline: float32 stays float32 (outputs and gradients), float64 stays float64, ints stay ints."""

from __future__ import annotations

import numpy as np
import pytest

import tensorgrad as tg
import tensorgrad.functional as F

from .helpers import leaf

# Each case: a function of two positive (2, 3) leaves of the same float dtype.
OPS = {
    "add": lambda a, b: a + b,
    "sub": lambda a, b: a - b,
    "mul": lambda a, b: a * b,
    "div": lambda a, b: a / b,
    "pow_tensor_tensor": lambda a, b: a**b,
    "pow_tensor_scalar": lambda a, b: a**3,
    "pow_scalar_tensor": lambda a, b: 2**a,
    "neg": lambda a, b: -a,
    "matmul": lambda a, b: a @ b.T,
    "matmul_vector": lambda a, b: a[0] @ b[1],
    "sum": lambda a, b: a.sum(axis=1),
    "mean": lambda a, b: a.mean(),
    "mean_axis": lambda a, b: a.mean(axis=(0, 1), keepdims=True),
    "max": lambda a, b: a.max(axis=0),
    "reshape": lambda a, b: a.reshape(-1),
    "transpose": lambda a, b: a.transpose(),
    "permute": lambda a, b: a.permute(1, 0),
    "getitem": lambda a, b: a[[0, 0], 1:],
    "getitem_mask": lambda a, b: a[a > 1],
    "exp": lambda a, b: a.exp(),
    "log": lambda a, b: a.log(),
    "relu": lambda a, b: a.relu(),
    "tanh": lambda a, b: a.tanh(),
    "sigmoid": lambda a, b: a.sigmoid(),
    "softmax": lambda a, b: F.softmax(a, axis=0),
    "log_softmax": lambda a, b: F.log_softmax(a),
    "linear": lambda a, b: F.linear(a, b, b[:, 0]),
    "cross_entropy_indices": lambda a, b: F.cross_entropy(a, np.array([0, 2])),
    "cross_entropy_probabilities": lambda a, b: F.cross_entropy(a, b.softmax(), reduction="sum"),
    "cross_entropy_float64_target": lambda a, b: F.cross_entropy(a, np.full((2, 3), 1 / 3), reduction="none"),
    "dropout": lambda a, b: F.dropout(a, 0.5, rng=0),
    "l2_penalty": lambda a, b: F.l2_penalty([a, b], 0.1),
    "cast_round_trip": lambda a, b: a.to(np.float64).to(a.dtype),
}


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
@pytest.mark.parametrize("name", list(OPS))
def test_op_keeps_the_float_dtype_of_its_inputs_in_output_and_gradients(name, dtype, rng):
    a = leaf(rng.uniform(0.5, 2.0, (2, 3)), dtype=dtype)
    b = leaf(rng.uniform(0.5, 2.0, (2, 3)), dtype=dtype)
    out = OPS[name](a, b)
    assert out.dtype == dtype, f"{name} turned {np.dtype(dtype)} into {out.dtype}"
    out.backward(np.ones(out.shape, dtype=dtype))
    assert a.grad is not None
    for x in (a, b):
        if x.grad is not None:
            assert x.grad.dtype == dtype and x.grad.shape == x.shape


CONSTANTS = {
    "python_int": 2,
    "python_float": 2.5,
    "numpy_float64_scalar": np.float64(2.5),
    "numpy_float32_scalar": np.float32(2.5),
    "numpy_int64_scalar": np.int64(2),
    "np_mean_result": np.mean(np.array([1.0, 4.0])),
    "zero_d_float64_array": np.array(2.5),
}

BINARY = {
    "add": lambda x, c: (x + c, c + x),
    "sub": lambda x, c: (x - c, c - x),
    "mul": lambda x, c: (x * c, c * x),
    "div": lambda x, c: (x / c, c / x),
    "pow": lambda x, c: (x**c, c**x),
}


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
@pytest.mark.parametrize("constant", list(CONSTANTS))
@pytest.mark.parametrize("op", list(BINARY))
def test_scalar_constant_on_either_side_takes_the_tensors_dtype(op, constant, dtype):
    c = CONSTANTS[constant]
    for side in (0, 1):  # tensor op constant, then constant op tensor
        x = leaf([0.5, 1.5, 3.0], dtype=dtype)
        out = BINARY[op](x, c)[side]
        assert isinstance(out, tg.Tensor)
        assert out.dtype == dtype, f"{op} with {constant} on side {side} gave {out.dtype}"
        reference = BINARY[op](x.data.astype(np.float64), float(c))[side]
        np.testing.assert_allclose(out.data, reference, rtol=1e-6 if dtype == np.float32 else 1e-15)
        out.sum().backward()
        assert x.grad.dtype == dtype


def test_float32_computation_with_a_numpy_float64_scalar_stays_float32():
    x = leaf([1.0, 2.0], dtype=np.float32)
    scale = np.float64(2)
    y = (x * scale + np.mean(np.array([1.0, 2.0]))) / np.array(3.0)
    assert y.dtype == np.float32
    y.sum().backward()
    assert x.grad.dtype == np.float32
    np.testing.assert_allclose(x.grad.data, [2 / 3, 2 / 3], rtol=1e-6)


def test_float32_tensor_with_a_float64_array_promotes_like_numpy():
    x = leaf([1.0, 2.0], dtype=np.float32)
    y = x * np.array([1.0, 2.0])
    assert y.dtype == np.float64
    y.sum().backward()
    assert x.grad.dtype == np.float32  # the gradient comes back in the leaf's dtype


def test_mixed_float32_and_float64_tensors_promote_and_grads_keep_each_leafs_dtype():
    a, b = leaf([1.0, 2.0], dtype=np.float32), leaf([3.0, 4.0])
    out = a * b
    assert out.dtype == np.float64
    out.sum().backward()
    assert a.grad.dtype == np.float32 and b.grad.dtype == np.float64
    np.testing.assert_array_equal(a.grad.data, [3.0, 4.0])


@pytest.mark.parametrize(
    ("data", "dtype"),
    [
        (1.0, np.float32),
        ([1.0, 2.0], np.float32),
        ([[1, 2.5]], np.float32),
        (np.array([1.0]), np.float64),
        (np.array([1.0], dtype=np.float32), np.float32),
        (np.float64(1.0), np.float64),
        (1, np.int64),
        ([1, 2, 3], np.int64),
        (np.array([1, 2], dtype=np.int32), np.int32),
        ([True, False], np.bool_),
    ],
    ids=[
        "python_float",
        "float_list",
        "mixed_list",
        "float64_array",
        "float32_array",
        "numpy_float64_scalar",
        "python_int",
        "int_list",
        "int32_array",
        "bools",
    ],
)
def test_tensor_factory_dtype_defaults_follow_pytorch(data, dtype):
    assert tg.tensor(data).dtype == dtype


def test_tensor_factory_honours_an_explicit_dtype_and_copies_its_input():
    assert tg.tensor(1.0, dtype=np.float64).dtype == np.float64
    assert tg.tensor([1, 2], dtype=np.float32).dtype == np.float32
    source = np.array([1.0, 2.0])
    t = tg.tensor(source)
    source[0] = 9
    assert t.data[0] == 1.0
    assert tg.tensor(t).data is not t.data


@pytest.mark.parametrize(
    "make",
    [
        lambda: tg.tensor([1, 2], requires_grad=True),
        lambda: tg.tensor([True], requires_grad=True),
        lambda: tg.Tensor(np.arange(3), requires_grad=True),
        lambda: tg.zeros(2, dtype=np.int64, requires_grad=True),
        lambda: tg.tensor([1, 2]).requires_grad_(),
    ],
    ids=["tensor", "bool", "Tensor", "zeros", "requires_grad_"],
)
def test_integer_and_bool_tensors_cannot_require_grad(make):
    with pytest.raises(TypeError, match="floating-point"):
        make()


def test_setting_requires_grad_on_an_integer_tensor_raises():
    t = tg.tensor([1, 2])
    with pytest.raises(TypeError, match="int64"):
        t.requires_grad = True
    assert not t.requires_grad


def test_mean_of_an_integer_tensor_raises_a_clear_type_error():
    with pytest.raises(TypeError, match=r"mean\(\) needs a floating-point tensor.*int64"):
        tg.tensor([1, 2, 3]).mean()
    assert tg.tensor([1, 2, 3]).float().mean().item() == 2.0


def test_integer_tensors_compute_in_integers_without_a_graph():
    t = tg.tensor([[1, 2], [3, 4]])
    assert (t + 1).dtype == np.int64 and (t * t).dtype == np.int64
    assert t.sum().item() == 10 and t.sum().dtype == np.int64
    assert t.max(axis=0).tolist() == [3, 4]
    assert t.double().dtype == np.float64 and t.float().dtype == np.float32


def test_gradient_of_a_float32_leaf_through_a_float64_detour_comes_back_float32():
    x = leaf([1.0, 2.0], dtype=np.float32)
    y = (x.double() * np.float64(1e-3)).exp().float()
    assert y.dtype == np.float32
    y.sum().backward()
    assert x.grad.dtype == np.float32
    np.testing.assert_allclose(x.grad.data, 1e-3 * np.exp(1e-3 * np.array([1.0, 2.0])), rtol=1e-6)
