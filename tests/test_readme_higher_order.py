"""README.md's higher-order example runs and computes what its comments say."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

README = (Path(__file__).resolve().parent.parent / "README.md").read_text()


def test_readme_higher_order_example_runs_and_its_numbers_hold():
    example = re.search(r"<!-- higher-order-example -->\n```python\n(.*?)```", README, re.S).group(1)
    scope = {}
    exec(compile(example, "README higher-order example", "exec"), scope)
    x = scope["x"].data
    t = np.tanh(x)
    # y = sum(x tanh x): dy/dx = tanh + x (1 - tanh^2); its derivative 2 (1 - tanh^2) (1 - x tanh)
    np.testing.assert_allclose(scope["second"].data, 2 * (1 - t**2) * (1 - x * t), rtol=1e-6)
    np.testing.assert_array_equal(scope["hessian"].data, [[6.0, 0.0], [0.0, 12.0]])
    np.testing.assert_array_equal(scope["hv"].data, [6.0, 12.0])
    # x.grad: the create_graph gradient, then the Cube's gradient halved by the hook
    np.testing.assert_allclose(scope["x"].grad.data, t + x * (1 - t**2) + 0.5 * 3 * x**2, rtol=1e-6)
