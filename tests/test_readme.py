"""README.md stays true: its example runs, and it gives exactly the two commands that CI relies on."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()


def test_readme_example_runs(tmp_path, monkeypatch):
    example = re.search(r"```python\n(.*?)```", README, re.S).group(1)
    monkeypatch.chdir(tmp_path)
    exec(compile(example, "README example", "exec"), {})
    assert (tmp_path / "graph.svg").read_text().lstrip().startswith("<")


def test_readme_gives_one_train_and_one_test_command_on_setup():
    commands = re.findall(r"```bash\n(.*?)\n```", README, re.S)
    setup_commands = [c for c in commands if c.startswith("bash scripts/setup.sh && ")]
    assert len(setup_commands) == 2
    assert any("tensorgrad-train" in c for c in setup_commands)
    assert any("pytest" in c for c in setup_commands)


def test_ci_runs_the_readme_test_command():
    extracted = subprocess.run(
        ["bash", ".ci/run", "--print-command"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert extracted == "bash scripts/setup.sh && .venv/bin/python -m pytest"
