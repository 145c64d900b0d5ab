"""The wheel and sdist build, and the wheel installed with NumPy alone, in a fresh virtual environment outside
the checkout, imports, runs `tensorgrad --version` and trains on real data (one test: building is the cost)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tarfile
import venv
import zipfile
from pathlib import Path

import tensorgrad
from tensorgrad.data import load_fashion_mnist

ROOT = Path(__file__).resolve().parents[2]
WHEEL_PACKAGES = {"tensorgrad/models/mlp.py", "tensorgrad/onnx/export.py", "tensorgrad/cli/main.py"}


def run(command, cwd: Path, timeout: int = 300) -> subprocess.CompletedProcess:
    # No PYTHONPATH: the installed wheel, not this checkout, must be what runs.
    env = {key: value for key, value in os.environ.items() if key not in ("PYTHONPATH", "PYTHONHOME")}
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


def test_the_wheel_installs_with_numpy_alone_and_trains(tmp_path):
    dist = tmp_path / "dist"
    built = run([sys.executable, "-m", "build", "--outdir", str(dist), str(ROOT)], cwd=tmp_path)
    assert built.returncode == 0, built.stdout[-3000:] + built.stderr[-3000:]
    version = tensorgrad.__version__
    wheel = dist / f"tensorgrad-{version}-py3-none-any.whl"
    sdist = dist / f"tensorgrad-{version}.tar.gz"

    # what the wheel holds: the one package (no top-level `models`), its entry points, NumPy as its only need
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        metadata = archive.read(f"tensorgrad-{version}.dist-info/METADATA").decode()
        entry_points = archive.read(f"tensorgrad-{version}.dist-info/entry_points.txt").decode()
    assert {name.split("/")[0] for name in names} == {"tensorgrad", f"tensorgrad-{version}.dist-info"}
    assert names >= WHEEL_PACKAGES
    requirements = [line for line in metadata.splitlines() if line.startswith("Requires-Dist:")]
    assert [r for r in requirements if "extra ==" not in r] == ["Requires-Dist: numpy>=1.24"]
    for extra in ("train", "viz", "onnx", "all", "dev"):
        assert f"Provides-Extra: {extra}" in metadata
    for script in (
        "tensorgrad",
        "tensorgrad-train",
        "tensorgrad-evaluate",
        "tensorgrad-predict",
        "tensorgrad-export",
    ):
        assert f"\n{script} = tensorgrad.cli." in entry_points
    with tarfile.open(sdist) as archive:
        members = {name.split("/", 1)[1] for name in archive.getnames() if "/" in name}
    assert {"README.md", "setup.cfg", "pyproject.toml"} | WHEEL_PACKAGES <= members

    # a fresh environment with the wheel and NumPy only (pip runs from outside it, with its cache)
    env_dir = tmp_path / "env"
    venv.create(env_dir, with_pip=False)
    python, scripts = env_dir / "bin" / "python", env_dir / "bin"
    pip = [
        sys.executable,
        "-m",
        "pip",
        "--python",
        str(python),
        "install",
        "-q",
        "--disable-pip-version-check",
    ]
    installed = run([*pip, str(wheel)], cwd=tmp_path)
    assert installed.returncode == 0, installed.stderr[-3000:]
    work = tmp_path / "elsewhere"  # outside the checkout
    work.mkdir()

    probe = (
        "import importlib.metadata as m, importlib.util as u, json, sys, tensorgrad\n"
        "print(json.dumps({'file': tensorgrad.__file__, 'models': u.find_spec('models') is not None,"
        " 'dists': sorted(d.metadata['Name'].lower() for d in m.distributions()),"
        " 'optional': [n for n in ('tqdm', 'matplotlib', 'PIL', 'graphviz', 'onnx') if u.find_spec(n)]}))"
    )
    imported = run([str(python), "-c", probe], cwd=work)
    assert imported.returncode == 0, imported.stderr
    found = json.loads(imported.stdout)
    assert Path(found["file"]).is_relative_to(env_dir)
    assert found == {**found, "models": False, "dists": ["numpy", "tensorgrad"], "optional": []}

    shown = run([str(scripts / "tensorgrad"), "--version"], cwd=work)
    assert (shown.returncode, shown.stdout) == (0, f"tensorgrad {version}\n")

    data_dir = load_fashion_mnist(download=False).source
    flags = ["--epochs", "1", "--max-train-examples", "2000", "--val-size", "1000", "--batch-size", "100"]
    flags += ["--data-dir", str(data_dir), "--no-download", "--out", "run"]
    trained = run([str(scripts / "tensorgrad"), "train", *flags], cwd=work)
    assert trained.returncode == 0, trained.stdout + trained.stderr
    assert trained.stdout.startswith(
        f"data: {data_dir}\n"
        "note: curves.png, confusion.png and graph.svg will not be drawn: matplotlib and graphviz are not "
        "installed (pip install tensorgrad[train] installs them)\n"
    )
    results = json.loads((work / "run" / "results.json").read_text())
    assert results["epochs_run"] == 1 and results["test_accuracy"] > 0.5
    assert sorted(p.name for p in (work / "run").iterdir()) == [
        "best.npz",
        "config.json",
        "last.npz",
        "metrics.jsonl",
        "results.json",
    ]

    exported = run([str(scripts / "tensorgrad-export"), "run", "model.onnx"], cwd=work)
    assert (exported.returncode, exported.stderr) == (
        1,
        "tensorgrad-export: error: ONNX export needs onnx, which is not installed: pip install tensorgrad[onnx]\n",
    )
