"""`import tensorgrad` needs NumPy alone: optional libraries are imported only where they are used."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

import tensorgrad as tg
from tensorgrad.optional import MissingDependencyError, is_available, require

#: libraries that no import of a tensorgrad module may load by itself
OPTIONAL = ("tqdm", "matplotlib", "graphviz", "PIL", "onnx", "onnxruntime")


def modules_loaded_by(code: str, watched) -> list[str]:
    """Which of `watched` are in sys.modules after running `code` in a fresh interpreter."""
    probe = f"{code}\nimport json, sys\nprint(json.dumps(sorted(m for m in {list(watched)!r} if m in sys.modules)))"
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.splitlines()[-1])


def test_import_tensorgrad_loads_no_optional_library_and_not_the_downloader():
    watched = (*OPTIONAL, "tensorgrad.data", "tensorgrad.training", "tensorgrad.onnx", "http.client")
    assert modules_loaded_by("import tensorgrad", watched) == []
    # the control: the probe does see an import
    assert modules_loaded_by("import tensorgrad, tqdm", watched) == ["tqdm"]


def test_the_tools_and_the_exporter_import_without_their_optional_libraries():
    code = (
        "import tensorgrad.viz, tensorgrad.training, tensorgrad.onnx, tensorgrad.data\n"
        "import tensorgrad.cli.main, tensorgrad.cli.train, tensorgrad.cli.evaluate, tensorgrad.cli.predict\n"
        "import tensorgrad.cli.export, tensorgrad.cli.draw"
    )
    assert modules_loaded_by(code, OPTIONAL) == []


def test_lazy_submodules_are_attributes_of_the_package():
    assert {"data", "models", "onnx", "training", "viz"} <= set(dir(tg))
    assert tg.models.MLP.__module__ == "tensorgrad.models.mlp"
    assert tg.onnx.export.__module__ == "tensorgrad.onnx.export"
    assert tg.data.read_idx.__module__ == "tensorgrad.data.idx"
    with pytest.raises(AttributeError, match="has no attribute 'nope'"):
        tg.nope  # noqa: B018


@pytest.mark.parametrize(
    ("module", "hint"),
    [
        ("graphviz", "pip install tensorgrad[viz]"),
        ("PIL", "pip install tensorgrad[train]"),
        ("onnx", "pip install tensorgrad[onnx]"),
    ],
)
def test_a_missing_library_is_named_with_the_extra_that_installs_it(monkeypatch, module, hint):
    assert is_available(module)
    monkeypatch.setitem(sys.modules, module, None)  # what an uninstalled library looks like to import
    assert not is_available(module)
    with pytest.raises(MissingDependencyError) as info:
        require(module, "this feature")
    package = {"PIL": "Pillow"}.get(module, module)
    assert str(info.value) == f"this feature needs {package}, which is not installed: {hint}"


def test_draw_graph_and_load_image_and_export_say_what_to_install(monkeypatch, tmp_path):
    for module in ("graphviz", "PIL", "onnx"):
        monkeypatch.setitem(sys.modules, module, None)
    x = tg.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(MissingDependencyError, match=r"^draw_graph needs graphviz.*tensorgrad\[viz\]$"):
        tg.viz.draw_graph((x * 2).sum())
    from tensorgrad.training import load_image

    with pytest.raises(
        MissingDependencyError, match=r"^reading image files needs Pillow.*tensorgrad\[train\]$"
    ):
        load_image(tmp_path / "any.png")
    with pytest.raises(MissingDependencyError, match=r"^ONNX export needs onnx.*tensorgrad\[onnx\]$"):
        tg.onnx.export(tg.models.MLP(rng=0), np.zeros((1, 784), np.float32), tmp_path / "m.onnx")
    assert not (tmp_path / "m.onnx").exists()
