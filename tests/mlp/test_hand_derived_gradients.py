"""The engine's gradients for the paper's MLP against the paper's backprop written out by hand."""

from __future__ import annotations

import numpy as np
import pytest

import tensorgrad as tg
import tensorgrad.functional as F
from tensorgrad.models import MLP
from tensorgrad.models.numpy_reference import forward_backward


def engine_and_reference(activation="relu", keep_prob=0.9, l2=0.01, batch=16, sizes=(784, 196, 64, 10)):
    """(engine loss, engine grads, reference loss, reference grads) for one float64 batch."""
    model = MLP(sizes=sizes, activation=activation, keep_prob=keep_prob, rng=3, dtype=np.float64)
    rng = np.random.default_rng(7)
    x = rng.random((batch, sizes[0]))
    y = rng.integers(0, sizes[-1], batch)

    # The reference draws the same dropout masks: same generator state, same calls, in the same order.
    mask_rng = np.random.default_rng()
    mask_rng.bit_generator.state = model.rng.bit_generator.state
    p = round(1.0 - keep_prob, 12)
    masks = [F.dropout_mask((batch, width), p, mask_rng, np.float64) for width in sizes[1:-1]]

    loss = model.loss(x, y, l2=l2)
    loss.backward()
    layers = [(layer.weight.data, layer.bias.data) for layer in model if isinstance(layer, tg.nn.Linear)]
    engine_grads = [
        (layer.weight.grad.data, layer.bias.grad.data) for layer in model if isinstance(layer, tg.nn.Linear)
    ]
    ref_loss, ref_grads = forward_backward(layers, x, y, masks, l2=l2, activation=activation)
    return loss.item(), engine_grads, ref_loss, ref_grads


@pytest.mark.parametrize("activation", ["relu", "tanh"])
def test_mlp_gradients_equal_the_hand_derived_backprop(activation):
    loss, engine_grads, ref_loss, ref_grads = engine_and_reference(activation=activation)
    assert loss == pytest.approx(ref_loss, rel=1e-12)
    for layer, ((dw, db), (ref_dw, ref_db)) in enumerate(zip(engine_grads, ref_grads)):
        np.testing.assert_allclose(dw, ref_dw, rtol=1e-10, atol=1e-14, err_msg=f"dW{layer + 1}")
        np.testing.assert_allclose(db, ref_db, rtol=1e-10, atol=1e-14, err_msg=f"db{layer + 1}")


def test_mlp_gradients_without_dropout_or_l2_equal_the_hand_derived_backprop():
    loss, engine_grads, ref_loss, ref_grads = engine_and_reference(keep_prob=1.0, l2=0.0)
    assert loss == pytest.approx(ref_loss, rel=1e-12)
    for (dw, db), (ref_dw, ref_db) in zip(engine_grads, ref_grads):
        np.testing.assert_allclose(dw, ref_dw, rtol=1e-10, atol=1e-14)
        np.testing.assert_allclose(db, ref_db, rtol=1e-10, atol=1e-14)


def test_output_layer_gradient_is_softmax_minus_onehot_over_m():
    """dZ3 = (A3 - Y) / m, so dW3 = dZ3^T A2 + lam/m W3 and db3 = column sums of dZ3."""
    model = MLP(sizes=(5, 4, 3), keep_prob=1.0, rng=0, dtype=np.float64)
    x = np.random.default_rng(1).random((6, 5))
    y = np.array([0, 1, 2, 2, 1, 0])
    model.loss(x, y).backward()
    hidden = np.maximum(x @ model[0].weight.data.T + model[0].bias.data, 0)
    logits = hidden @ model[3].weight.data.T + model[3].bias.data
    probs = np.exp(logits - logits.max(1, keepdims=True))
    probs /= probs.sum(1, keepdims=True)
    dz3 = (probs - np.eye(3)[y]) / 6
    np.testing.assert_allclose(model[3].weight.grad.data, dz3.T @ hidden, rtol=1e-12)
    np.testing.assert_allclose(model[3].bias.grad.data, dz3.sum(0), rtol=1e-12)


def test_mlp_gradients_pass_gradcheck_on_a_small_network():
    model = MLP(sizes=(6, 5, 4, 3), keep_prob=0.7, rng=2, dtype=np.float64)
    x = np.random.default_rng(0).random((4, 6))
    y = np.array([0, 2, 1, 2])
    state = model.rng.bit_generator.state
    params = list(model.parameters())

    def loss_of_params(*_):
        model.rng.bit_generator.state = state  # the same dropout masks on every evaluation
        return model.loss(x, y, l2=0.1)

    assert tg.gradcheck(loss_of_params, params, eps=1e-6, atol=1e-7, rtol=1e-5)
