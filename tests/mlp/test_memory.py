"""A training step's graph is freed by backward(), so a long run's memory stays flat."""

from __future__ import annotations

import gc
import tracemalloc
import weakref

import numpy as np

from tensorgrad import optim
from tensorgrad.models import MLP


def test_graph_of_a_training_step_is_freed_after_backward():
    model = MLP(rng=0)
    x = np.random.default_rng(0).random((32, 784), dtype=np.float32)
    y = np.arange(32) % 10
    loss = model.loss(x, y, l2=1e-4)
    # Reach into the graph: the logits and the first hidden activation are intermediate tensors.
    cross_entropy = loss.grad_fn.inputs[0].grad_fn
    logits = cross_entropy.inputs[0]
    first_linear_out = logits.grad_fn.inputs[0].grad_fn.inputs[0].grad_fn.inputs[0]
    refs = [weakref.ref(logits), weakref.ref(first_linear_out), weakref.ref(logits.data)]
    del cross_entropy, logits, first_linear_out
    loss.backward()
    gc.collect()
    assert [r() for r in refs] == [None, None, None]
    assert loss.grad_fn.released


def traced_bytes_after(steps, model, opt, x, y, keep=None):
    for _ in range(steps):
        opt.zero_grad()
        loss = model.loss(x, y, l2=1e-4)
        loss.backward()
        opt.step()
        if keep is not None:
            keep.append(loss)
    gc.collect()
    return tracemalloc.get_traced_memory()[0]


def test_memory_stays_flat_over_many_steps():
    model = MLP(rng=0)
    opt = optim.Adam(model.parameters())
    x = np.random.default_rng(0).random((64, 784), dtype=np.float32)
    y = np.arange(64) % 10
    tracemalloc.start()
    try:
        before = traced_bytes_after(5, model, opt, x, y)
        after = traced_bytes_after(50, model, opt, x, y)
        # The check can see a leak: keeping each step's loss alive (with its graph, if it were kept) grows.
        kept = []
        leaking = traced_bytes_after(50, model, opt, x, y, keep=kept)
    finally:
        tracemalloc.stop()
    assert after - before < 64 * 1024  # one step's activations alone are ~200 KB
    assert leaking - after < 50 * 8 * 1024  # released graphs: a kept loss costs a few hundred bytes
