"""README.md's example of training any model runs: an image model, augmentation, label smoothing, EMA."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

README = (Path(__file__).resolve().parent.parent / "README.md").read_text()


def test_readme_any_model_example_trains_and_evaluates_the_average():
    example = re.search(r"<!-- any-model-example -->\n```python\n(.*?)```", README, re.S).group(1)
    scope = {}
    exec(compile(example, "README any-model example", "exec"), scope)
    state, ema, model = scope["state"], scope["ema"], scope["model"]
    assert state.epoch == 2 and 0.0 <= scope["accuracy"] <= 1.0
    # the average, not the trained weights, is what was evaluated and kept
    best = state.best_weights["layers.1.weight"]
    assert np.array_equal(ema.module.layers[1].weight.data, best)
    assert not np.array_equal(model.layers[1].weight.data, best)
