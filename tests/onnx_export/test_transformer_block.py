"""A transformer-style block of library pieces, exported whole, gives tensorgrad's outputs in onnxruntime.

The block is pre-norm: layer_norm, single-head causal attention from matmul, where and softmax, a GELU MLP,
and a residual around each; a batch of sequences (N, L, W) of float32 in, the same shape out. One file
serves every batch size. Opset 17 writes GELU as its erf formula and layer_norm as the ops it records
(mean, var, rsqrt); opset 20 has a Gelu node.
"""

from __future__ import annotations

import math

import numpy as np
import onnx
import pytest

import tensorgrad as tg
import tensorgrad.functional as F
from tensorgrad import nn

from .conftest import run_onnx

LENGTH, WIDTH = 6, 16
#: the largest absolute difference from tensorgrad allowed for outputs of size about 1 in float32
TOLERANCE = 1e-5


class Block(nn.Module):
    def __init__(self, rng: np.random.Generator):
        super().__init__()

        def weights(*shape):
            return nn.Parameter((rng.standard_normal(shape) / math.sqrt(shape[-1])).astype(np.float32))

        def vector(center, scale):  # not ones and zeros, so that a scale or shift mixed up would show
            return nn.Parameter((center + scale * rng.standard_normal(WIDTH)).astype(np.float32))

        self.norm1_weight, self.norm1_bias = vector(1.0, 0.1), vector(0.0, 0.5)
        self.query, self.key, self.value, self.mix = (weights(WIDTH, WIDTH) for _ in range(4))
        self.norm2_weight, self.norm2_bias = vector(1.0, 0.1), vector(0.0, 0.5)
        self.hidden, self.hidden_bias = (
            weights(4 * WIDTH, WIDTH),
            nn.Parameter(np.zeros(4 * WIDTH, np.float32)),
        )
        self.back, self.back_bias = weights(WIDTH, 4 * WIDTH), nn.Parameter(np.zeros(WIDTH, np.float32))
        self.future = np.triu(np.ones((LENGTH, LENGTH), dtype=bool), k=1)  # position i sees 0..i

    def forward(self, x):
        h = F.layer_norm(x, (WIDTH,), self.norm1_weight, self.norm1_bias)
        q, k, v = h @ self.query, h @ self.key, h @ self.value
        scores = q @ k.transpose(-1, -2) * (1 / math.sqrt(WIDTH))  # (N, L, L)
        attention = F.softmax(tg.where(self.future, -1e9, scores), axis=-1)
        x = x + (attention @ v) @ self.mix
        h = F.layer_norm(x, (WIDTH,), self.norm2_weight, self.norm2_bias)
        return x + F.linear(F.gelu(F.linear(h, self.hidden, self.hidden_bias)), self.back, self.back_bias)


@pytest.fixture(scope="module")
def block():
    return Block(np.random.default_rng(0))


def sequences(batch: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((batch, LENGTH, WIDTH)).astype(np.float32)


@pytest.mark.parametrize(("opset", "gelu_node"), [(17, "Erf"), (20, "Gelu")])
def test_the_block_gives_tensorgrads_outputs_for_any_batch_size(block, opset, gelu_node, tmp_path):
    path = tmp_path / "block.onnx"
    tg.onnx.export(block, sequences(3, seed=1), path, output_names=("output",), opset=opset)
    node_types = [node.op_type for node in onnx.load(str(path)).graph.node]
    assert gelu_node in node_types and "Where" in node_types and node_types.count("Softmax") == 1
    for batch in (1, 5):
        x = sequences(batch, seed=batch)
        with tg.no_grad():
            expected = block(tg.tensor(x)).data
        (got,) = run_onnx(path, x)
        assert got.shape == expected.shape == (batch, LENGTH, WIDTH)
        np.testing.assert_allclose(got, expected, rtol=0, atol=TOLERANCE)


def test_the_attention_of_the_exported_block_is_causal(block, tmp_path):
    # a later position changes no earlier output, in the file as in the model
    path = tmp_path / "block.onnx"
    tg.onnx.export(block, sequences(2, seed=3), path)
    x = sequences(2, seed=4)
    changed = x.copy()
    changed[:, -1] += 10
    (before,), (after,) = run_onnx(path, x), run_onnx(path, changed)
    np.testing.assert_allclose(after[:, :-1], before[:, :-1], rtol=0, atol=TOLERANCE)
    assert np.abs(after[:, -1] - before[:, -1]).max() > 0.1
