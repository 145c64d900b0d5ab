"""The new ops compose: a small transformer-style block, written only with library pieces, learns to sort.

Embedding (F.embedding), LayerNorm (F.layer_norm), single-head attention (matmul, softmax), a GELU MLP and
residual connections; the loss is cross_entropy over (N, C, L) logits. Sorting short sequences needs each
position to compare its query against every token, so it fails without working attention.
"""

from __future__ import annotations

import math

import numpy as np

import tensorgrad as tg
import tensorgrad.functional as F
from tensorgrad import nn, optim

VOCAB, LENGTH, WIDTH = 8, 6, 32


class SortingBlock(nn.Module):
    def __init__(self, rng: np.random.Generator):
        super().__init__()

        def weights(*shape, scale=None):
            scale = 1 / math.sqrt(shape[-1]) if scale is None else scale
            return nn.Parameter((rng.standard_normal(shape) * scale).astype(np.float32))

        self.token_embedding = weights(VOCAB, WIDTH, scale=1.0)
        self.position_embedding = weights(LENGTH, WIDTH, scale=1.0)
        self.query, self.key, self.value, self.mix = (weights(WIDTH, WIDTH) for _ in range(4))
        self.norm1_weight, self.norm1_bias = (
            nn.Parameter(np.ones(WIDTH, np.float32)),
            nn.Parameter(np.zeros(WIDTH, np.float32)),
        )
        self.norm2_weight, self.norm2_bias = (
            nn.Parameter(np.ones(WIDTH, np.float32)),
            nn.Parameter(np.zeros(WIDTH, np.float32)),
        )
        self.hidden, self.hidden_bias = (
            weights(4 * WIDTH, WIDTH),
            nn.Parameter(np.zeros(4 * WIDTH, np.float32)),
        )
        self.back, self.back_bias = weights(WIDTH, 4 * WIDTH), nn.Parameter(np.zeros(WIDTH, np.float32))
        self.readout = weights(VOCAB, WIDTH)

    def forward(self, tokens: np.ndarray) -> tg.Tensor:
        x = F.embedding(tokens, self.token_embedding) + self.position_embedding  # (N, L, W)
        h = F.layer_norm(x, (WIDTH,), self.norm1_weight, self.norm1_bias)
        q, k, v = h @ self.query, h @ self.key, h @ self.value
        attention = F.softmax(q @ k.transpose(-1, -2) * (1 / math.sqrt(WIDTH)), axis=-1)  # (N, L, L)
        x = x + (attention @ v) @ self.mix
        h = F.layer_norm(x, (WIDTH,), self.norm2_weight, self.norm2_bias)
        x = x + F.linear(F.gelu(F.linear(h, self.hidden, self.hidden_bias)), self.back, self.back_bias)
        return (x @ self.readout.T).permute(
            0, 2, 1
        )  # (N, C, L): the class axis second, as cross_entropy wants


def test_a_transformer_block_of_library_pieces_learns_to_sort_short_sequences():
    rng = np.random.default_rng(0)
    model = SortingBlock(rng)
    optimizer = optim.Adam(list(model.parameters()), lr=3e-3)
    first = None
    for _ in range(120):
        tokens = rng.integers(0, VOCAB, (64, LENGTH))
        loss = F.cross_entropy(model(tokens), np.sort(tokens, axis=1))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        first = loss.item() if first is None else first
    tokens = rng.integers(0, VOCAB, (256, LENGTH))
    with tg.no_grad():
        logits = model(tokens)
        held_out = F.cross_entropy(logits, np.sort(tokens, axis=1)).item()
    accuracy = (logits.data.argmax(1) == np.sort(tokens, axis=1)).mean()
    assert first > 1.9  # chance: log(8) = 2.08
    assert held_out < 0.3, f"held-out loss {held_out:.3f} after 120 steps"
    assert accuracy > 0.9
