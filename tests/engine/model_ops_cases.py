"""The table the model-vocabulary op tests read: each op's tensorgrad call, a NumPy reference and its inputs.

A case's inputs are (kind, shape) pairs; `make_inputs` draws them. The kinds keep finite differences away
from kinks and ties (see helpers), so a gradient check measures the formula and not the step.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

import tensorgrad as tg
import tensorgrad.functional as F

from .helpers import away_from_zero, distinct, leaf, normal, positive


@dataclass(frozen=True)
class Case:
    name: str
    fn: object  # tensors -> Tensor
    ref: object  # float64 ndarrays -> ndarray
    inputs: tuple  # (kind, shape) per input
    second_order: bool = True  # False where the first derivative is piecewise constant (nothing to check)


def _probabilities(rng, shape, dtype=np.float64, requires_grad=True):
    return leaf(rng.uniform(0.1, 0.9, shape), dtype=dtype, requires_grad=requires_grad)


MAKERS = {
    "normal": normal,
    "positive": positive,
    "away": away_from_zero,
    "distinct": distinct,
    "probability": _probabilities,
}


def make_inputs(case: Case, rng, dtype=np.float64) -> list:
    made = []
    for kind, shape in case.inputs:
        maker = MAKERS[kind]
        tensor = maker(rng, shape) if kind == "distinct" else maker(rng, shape, dtype=dtype)
        made.append(tensor if tensor.dtype == dtype else leaf(tensor.data, dtype=dtype))
    return made


def _erf(x):
    return np.vectorize(math.erf)(x)


def _gelu_tanh(x):
    return 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x**3)))


def _pad_ref(x):
    out = np.zeros((x.shape[0] + 3, x.shape[1]))
    out[2:5, 1:] = x[:, :-1]  # last axis: 1 before, -1 after (a crop); first axis: 2 before, 1 after
    return out


_GATHER_INDEX = np.array([[2, 0, 2], [1, 1, 0]])
_TAKE_INDEX = np.array([[1], [3], [0]])
_ROWS = np.array([[0, 3], [3, 1], [2, 2]])

CASES = [
    # element-wise
    Case("abs", lambda x: x.abs(), np.abs, (("away", (2, 3)),), second_order=False),
    Case("sqrt", lambda x: x.sqrt(), np.sqrt, (("positive", (2, 3)),)),
    Case("rsqrt", lambda x: x.rsqrt(), lambda x: 1 / np.sqrt(x), (("positive", (2, 3)),)),
    Case("square", lambda x: x.square(), np.square, (("normal", (2, 3)),)),
    Case("log1p", lambda x: x.log1p(), np.log1p, (("positive", (2, 3)),)),
    Case("expm1", lambda x: x.expm1(), np.expm1, (("normal", (2, 3)),)),
    Case("sin", lambda x: x.sin(), np.sin, (("normal", (2, 3)),)),
    Case("cos", lambda x: x.cos(), np.cos, (("normal", (2, 3)),)),
    Case("erf", lambda x: x.erf(), _erf, (("normal", (2, 3)),)),
    Case(
        "clamp",
        lambda x: x.clamp(-0.6, 0.6),
        lambda x: np.clip(x, -0.6, 0.6),
        (("distinct", (2, 3)),),
        second_order=False,
    ),
    Case(
        "clamp_min",
        lambda x: tg.clamp(x, min=0.1),
        lambda x: np.maximum(x, 0.1),
        (("distinct", (2, 3)),),
        False,
    ),
    Case("maximum", tg.maximum, np.maximum, (("normal", (2, 3)), ("normal", (3,))), second_order=False),
    Case("minimum", tg.minimum, np.minimum, (("normal", (2, 1)), ("normal", (2, 3))), second_order=False),
    Case(
        "where",
        lambda a, b: tg.where(a > b, a, b * 2),
        lambda a, b: np.where(a > b, a, b * 2),
        (("normal", (2, 3)), ("normal", (3,))),
        second_order=False,
    ),
    Case(
        "leaky_relu",
        lambda x: F.leaky_relu(x, 0.2),
        lambda x: np.where(x > 0, x, 0.2 * x),
        (("away", (2, 3)),),
        second_order=False,
    ),
    Case("gelu", F.gelu, lambda x: 0.5 * x * (1 + _erf(x / math.sqrt(2))), (("normal", (2, 3)),)),
    Case("gelu_tanh", lambda x: F.gelu(x, approximate="tanh"), _gelu_tanh, (("normal", (2, 3)),)),
    Case("silu", F.silu, lambda x: x / (1 + np.exp(-x)), (("normal", (2, 3)),)),
    Case("softplus", F.softplus, lambda x: np.log1p(np.exp(x)), (("normal", (2, 3)),)),
    Case(
        "softplus_beta",
        lambda x: F.softplus(x, beta=2.0, threshold=1.0),
        lambda x: np.where(2 * x > 1, x, np.log1p(np.exp(2 * x)) / 2),
        (("away", (2, 3)),),
    ),
    # reductions
    Case("min", lambda x: x.min(axis=1), lambda x: x.min(axis=1), (("distinct", (2, 3, 2)),), False),
    Case(
        "amin_dims",
        lambda x: tg.amin(x, (0, 2), True),
        lambda x: x.min(axis=(0, 2), keepdims=True),
        (("distinct", (2, 3, 2)),),
        False,
    ),
    Case("prod_all", lambda x: x.prod(), np.prod, (("normal", (2, 3)),)),
    Case(
        "prod_dim",
        lambda x: x.prod(1, keepdim=True),
        lambda x: x.prod(axis=1, keepdims=True),
        (("normal", (2, 5)),),
    ),
    Case("prod_negative_dim", lambda x: tg.prod(x, -3), lambda x: x.prod(axis=0), (("normal", (3, 2, 2)),)),
    Case("var", lambda x: x.var(), lambda x: x.var(ddof=1), (("normal", (2, 3)),)),
    Case(
        "var_dim_biased", lambda x: x.var(1, unbiased=False), lambda x: x.var(axis=1), (("normal", (2, 3)),)
    ),
    Case(
        "var_correction",
        lambda x: x.var((0, 2), keepdim=True, correction=2),
        lambda x: x.var(axis=(0, 2), ddof=2, keepdims=True),
        (("normal", (2, 3, 2)),),
    ),
    Case("std", lambda x: x.std(-1), lambda x: x.std(axis=-1, ddof=1), (("normal", (2, 3)),)),
    Case(
        "logsumexp", lambda x: x.logsumexp(1), lambda x: np.log(np.exp(x).sum(axis=1)), (("normal", (2, 3)),)
    ),
    Case(
        "logsumexp_keepdim",
        lambda x: tg.logsumexp(x, (0, 1), keepdim=True),
        lambda x: np.log(np.exp(x).sum(axis=(0, 1), keepdims=True)),
        (("normal", (2, 3)),),
    ),
    Case("norm", lambda x: x.norm(), lambda x: np.sqrt((x * x).sum()), (("normal", (2, 3)),)),
    Case("norm_p1", lambda x: x.norm(1, dim=1), lambda x: np.abs(x).sum(axis=1), (("away", (2, 3)),), False),
    Case(
        "norm_p3",
        lambda x: tg.norm(x, 3, dim=0, keepdim=True),
        lambda x: (np.abs(x) ** 3).sum(axis=0, keepdims=True) ** (1 / 3),
        (("away", (2, 3)),),
    ),
    Case(
        "norm_inf",
        lambda x: x.norm(math.inf, dim=1),
        lambda x: np.abs(x).max(axis=1),
        (("distinct", (2, 3)),),
        False,
    ),
    # joining and splitting
    Case(
        "cat",
        lambda a, b: tg.cat([a, b, a], dim=-1),
        lambda a, b: np.concatenate([a, b, a], axis=-1),
        (("normal", (2, 3)), ("normal", (2, 1))),
    ),
    Case(
        "stack",
        lambda a, b: tg.stack([a, b], 1),
        lambda a, b: np.stack([a, b], 1),
        (("normal", (2, 3)), ("normal", (2, 3))),
    ),
    Case("split", lambda x: x.split([1, 3], 1)[1], lambda x: x[:, 1:], (("normal", (2, 4)),)),
    Case("chunk", lambda x: x.chunk(2, 0)[1], lambda x: x[3:], (("normal", (5, 2)),)),
    # shape
    Case("squeeze", lambda x: x.squeeze(), lambda x: x.squeeze(), (("normal", (2, 1, 3, 1)),)),
    Case("unsqueeze", lambda x: x.unsqueeze(-2), lambda x: x[:, None, :], (("normal", (2, 3)),)),
    Case(
        "expand", lambda x: x.expand(4, -1, 3), lambda x: np.broadcast_to(x, (4, 2, 3)), (("normal", (2, 1)),)
    ),
    Case(
        "broadcast_to",
        lambda x: tg.broadcast_to(x, (2, 3)),
        lambda x: np.broadcast_to(x, (2, 3)),
        (("normal", (3,)),),
    ),
    Case("flip", lambda x: x.flip(0, -1), lambda x: x[::-1, :, ::-1], (("normal", (2, 3, 2)),)),
    Case("pad", lambda x: F.pad(x, (1, -1, 2, 1)), _pad_ref, (("normal", (3, 3)),)),
    Case(
        "gather",
        lambda x: tg.gather(x, 1, _GATHER_INDEX),
        lambda x: np.take_along_axis(x[:2], _GATHER_INDEX, 1),
        (("normal", (3, 4)),),
    ),
    Case(
        "take_along_dim",
        lambda x: x.take_along_dim(_TAKE_INDEX, 1),
        lambda x: np.take_along_axis(x, _TAKE_INDEX, 1),
        (("normal", (3, 4)),),
    ),
    Case("embedding", lambda w: F.embedding(_ROWS, w), lambda w: w[_ROWS], (("normal", (4, 2)),)),
    Case(
        "einsum",
        lambda a, b: tg.einsum("bij,jk->bik", a, b),
        lambda a, b: np.einsum("bij,jk->bik", a, b),
        (("normal", (2, 2, 3)), ("normal", (3, 2))),
    ),
    Case("einsum_trace", lambda a: tg.einsum("ii", a), np.trace, (("normal", (3, 3)),)),
    # normalization
    Case(
        "normalize",
        lambda x: F.normalize(x, dim=-1),
        lambda x: x / np.sqrt((x * x).sum(axis=-1, keepdims=True)),
        (("normal", (2, 3)),),
    ),
    Case(
        "layer_norm",
        lambda x, w, b: F.layer_norm(x, (3,), w, b),
        lambda x, w, b: (x - x.mean(-1, keepdims=True)) / np.sqrt(x.var(-1, keepdims=True) + 1e-5) * w + b,
        (("normal", (2, 3)), ("normal", (3,)), ("normal", (3,))),
    ),
    # losses
    Case(
        "mse_loss", F.mse_loss, lambda a, b: ((a - b) ** 2).mean(), (("normal", (2, 3)), ("normal", (2, 3)))
    ),
    Case(
        "l1_loss",
        lambda a, b: F.l1_loss(a, b, reduction="sum"),
        lambda a, b: np.abs(a - b).sum(),
        (
            ("away", (2, 3)),
            (
                "normal",
                (2, 3),
            ),
        ),
        second_order=False,
    ),
    Case(
        "smooth_l1_loss",
        lambda a: F.smooth_l1_loss(a, a.detach() * 0, reduction="none", beta=0.8),
        lambda a: np.where(np.abs(a) < 0.8, 0.5 * a * a / 0.8, np.abs(a) - 0.4),
        (("away", (2, 3)),),
    ),
    Case(
        "huber_loss",
        lambda a: F.huber_loss(a, a.detach() * 0, delta=0.8),
        lambda a: np.where(np.abs(a) < 0.8, 0.5 * a * a, 0.8 * (np.abs(a) - 0.4)).mean(),
        (("away", (2, 3)),),
    ),
    Case(
        "binary_cross_entropy",
        F.binary_cross_entropy,
        lambda p, t: -(t * np.log(p) + (1 - t) * np.log(1 - p)).mean(),
        (("probability", (2, 3)), ("probability", (2, 3))),
    ),
    Case(
        "binary_cross_entropy_with_logits",
        lambda x, t: F.binary_cross_entropy_with_logits(
            x, t, pos_weight=tg.tensor([1.0, 2.0, 0.5], dtype=x.dtype)
        ),
        lambda x, t: (
            -(
                np.array([1.0, 2.0, 0.5]) * t * np.log(1 / (1 + np.exp(-x)))
                + (1 - t) * np.log(1 - 1 / (1 + np.exp(-x)))
            )
        ).mean(),
        (("normal", (2, 3)), ("probability", (2, 3))),
    ),
    Case(
        "nll_loss",
        lambda x: F.nll_loss(x, np.array([2, 0, 1])),
        lambda x: -x[[0, 1, 2], [2, 0, 1]].mean(),
        (("normal", (3, 4)),),
    ),
    Case(
        "cross_entropy_label_smoothing",
        lambda x: F.cross_entropy(x, np.array([2, 0, 1]), label_smoothing=0.2),
        lambda x: (
            (-(np.eye(4)[[2, 0, 1]] * 0.8 + 0.05) * (x - np.log(np.exp(x).sum(1, keepdims=True))))
            .sum(1)
            .mean()
        ),
        (("normal", (3, 4)),),
    ),
]
