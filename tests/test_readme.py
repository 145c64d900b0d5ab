"""README.md stays true: its example runs, and it gives exactly the two commands that CI relies on."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()


def test_readme_example_runs(tmp_path, monkeypatch):
    example = re.search(r"```python\n(.*?)```", README, re.S).group(1)
    monkeypatch.chdir(tmp_path)
    exec(compile(example, "README example", "exec"), {})
    assert (tmp_path / "graph.svg").read_text().lstrip().startswith("<")


def test_readme_param_groups_and_schedule_example_runs(capsys):
    example = next(b for b in re.findall(r"```python\n(.*?)```", README, re.S) if "lr_scheduler" in b)
    exec(compile(example, "README schedule example", "exec"), {})
    rates = json.loads(capsys.readouterr().out)  # the example prints a list of two floats
    assert len(rates) == 2 and max(rates) < 1e-12  # after the last epoch the cosine decay has reached 0


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


def test_readme_custom_op_example_registers_an_op_differentiable_twice():
    block = next(b for b in re.findall(r"```python\n(.*?)```", README, re.S) if '@register("cube")' in b)
    example = textwrap.dedent(block) + "\nprint(g.tolist(), x.grad.tolist())\n"
    # in a process of its own: registering an op changes the registry that other tests read
    result = subprocess.run([sys.executable, "-c", example], capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "[3.0, 12.0] [6.0, 12.0]\n"
