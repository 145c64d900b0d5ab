"""The paper's MLP with its backward pass derived by hand, in plain NumPy (no graph).

This is the independent reference the tests compare the engine's gradients against, and the hand-written
baseline the benchmark times. It follows the paper's formulas in row-major form (a batch is (m, features),
a weight is (out, in)):

    Z_l = A_{l-1} W_l^T + b_l,   A_l = relu(Z_l) * M_l (dropout mask, scaled by 1/keep),   A_L = softmax(Z_L)
    dZ_L = (A_L - Y) / m
    dW_l = dZ_l^T A_{l-1} + (lam / m) W_l,   db_l = sum_rows(dZ_l)
    dZ_{l-1} = (dZ_l W_l) * M_{l-1} * relu'(Z_{l-1})
    L = -1/m sum(Y log A_L) + lam / (2 m) sum_l ||W_l||^2
"""

from __future__ import annotations

import math

import numpy as np


def forward_backward(layers, x, y, masks, l2: float = 0.0, activation: str = "relu"):
    """Loss and gradients of the MLP for one batch, by the hand-derived formulas.

    `layers` is [(W, b), ...]; `y` holds class indices; `masks` has one scaled dropout mask per hidden layer
    (or None for no dropout). Returns (loss, [(dW, db), ...]).
    """
    m = x.shape[0]
    activations = [x]  # the input of each layer, after activation and dropout
    pre_activations = []
    a = x
    for i, (w, b) in enumerate(layers[:-1]):
        z = a @ w.T
        z += b
        pre_activations.append(z)
        a = np.maximum(z, 0) if activation == "relu" else np.tanh(z)
        if masks is not None and masks[i] is not None:
            a = a * masks[i]
        activations.append(a)
    w_out, b_out = layers[-1]
    logits = a @ w_out.T
    logits += b_out

    # softmax cross-entropy through log-sum-exp
    shifted = logits - logits.max(axis=1, keepdims=True)
    exp = np.exp(shifted)
    sum_exp = exp.sum(axis=1, keepdims=True)
    rows = np.arange(m)
    loss = float(np.log(sum_exp[:, 0]).sum() - shifted[rows, y].sum()) / m
    if l2:
        loss += l2 / (2 * m) * sum(float(np.vdot(w, w)) for w, _ in layers)

    grads = [None] * len(layers)
    dz = exp / sum_exp  # A_L
    dz[rows, y] -= 1
    dz /= m  # dZ_L = (A_L - Y) / m
    for i in range(len(layers) - 1, -1, -1):
        w, _ = layers[i]
        dw = dz.T @ activations[i]
        if l2:
            dw += (l2 / m) * w
        grads[i] = (dw, dz.sum(axis=0))
        if i == 0:
            break
        da = dz @ w
        if masks is not None and masks[i - 1] is not None:
            da *= masks[i - 1]  # the forward's mask, reapplied
        z = pre_activations[i - 1]
        if activation == "relu":
            da *= z > 0
        else:
            t = np.tanh(z)
            da *= 1 - t * t
        dz = da
    return loss, grads


class HandwrittenAdam:
    """Adam written out per parameter with PyTorch's formula, in place with one scratch array each."""

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8):
        self.params = params
        self.lr, self.betas, self.eps = lr, betas, eps
        self.m = [np.zeros_like(p) for p in params]
        self.v = [np.zeros_like(p) for p in params]
        self.scratch = [np.empty_like(p) for p in params]
        self.t = 0

    def step(self, grads) -> None:
        self.t += 1
        beta1, beta2 = self.betas
        step_size = self.lr / (1 - beta1**self.t)
        root_correction = 1 / math.sqrt(1 - beta2**self.t)
        for p, g, m, v, tmp in zip(self.params, grads, self.m, self.v, self.scratch):
            m *= beta1
            m += np.multiply(g, 1 - beta1, out=tmp)
            v *= beta2
            np.multiply(g, g, out=tmp)
            tmp *= 1 - beta2
            v += tmp
            np.sqrt(v, out=tmp)
            tmp *= root_correction
            tmp += self.eps
            np.divide(m, tmp, out=tmp)
            tmp *= step_size
            p -= tmp


class HandwrittenMLPTrainer:
    """One training step of the paper's MLP without any engine: masks, forward, hand backward, Adam.

    `layers` is [(W, b), ...] of float32 arrays, updated in place.
    """

    def __init__(self, layers, keep_prob=0.9, l2=0.0, lr=1e-3, rng=None):
        self.layers = layers
        self.keep_prob = keep_prob
        self.l2 = l2
        self.rng = np.random.default_rng(rng)
        self.optimizer = HandwrittenAdam([p for layer in layers for p in layer], lr=lr)

    def step(self, x, y) -> float:
        p = 1.0 - self.keep_prob
        masks = None
        if p > 0:
            masks = []
            for w, _ in self.layers[:-1]:
                keep = self.rng.random((x.shape[0], w.shape[0]), dtype=np.float32) >= p
                masks.append(np.multiply(keep, 1.0 / self.keep_prob, dtype=np.float32))
        loss, grads = forward_backward(self.layers, x, y, masks, self.l2)
        self.optimizer.step([g for pair in grads for g in pair])
        return loss
