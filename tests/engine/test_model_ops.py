"""Every op of the model vocabulary, read from one table: values against NumPy, gradients against finite
differences (float64), second derivatives through `backward(create_graph=True)`, and float32 kept."""

from __future__ import annotations

import numpy as np
import pytest

import tensorgrad as tg

from .model_ops_cases import CASES, make_inputs

IDS = [case.name for case in CASES]


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_op_values_match_the_numpy_reference(case, rng):
    inputs = make_inputs(case, rng)
    out = case.fn(*inputs)
    np.testing.assert_allclose(out.data, case.ref(*[x.data for x in inputs]), rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_op_gradients_pass_gradcheck(case, rng):
    assert tg.gradcheck(case.fn, make_inputs(case, rng)) is True


@pytest.mark.parametrize(
    "case", [c for c in CASES if c.second_order], ids=[c.name for c in CASES if c.second_order]
)
def test_op_second_derivatives_pass_gradgradcheck(case, rng):
    assert tg.gradgradcheck(recording(case.fn), make_inputs(case, rng)) is True


def recording(fn):
    """`fn` with recording switched on, also where gradcheck evaluates it under no_grad for the finite
    differences: the first derivatives that gradgradcheck differentiates need a graph to start from."""

    def recorded(*inputs):
        with tg.enable_grad():
            return fn(*inputs)

    return recorded


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_op_keeps_float32_in_its_output_and_gradients(case, rng):
    inputs = make_inputs(case, rng, dtype=np.float32)
    out = case.fn(*inputs)
    assert out.dtype == np.float32, f"{case.name} turned float32 into {out.dtype}"
    out.backward(np.ones(out.shape, dtype=np.float32))
    assert any(x.grad is not None for x in inputs)
    for x in inputs:
        if x.grad is not None:
            assert x.grad.dtype == np.float32 and x.grad.shape == x.shape
