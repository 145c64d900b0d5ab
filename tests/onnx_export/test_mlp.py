"""The exported Fashion-MNIST MLP: what the file holds, the same logits as tensorgrad for any batch size,
and the same test accuracy as `tensorgrad-evaluate`; `tensorgrad export` writes it from a run folder."""

from __future__ import annotations

import json

import numpy as np
import onnx
import pytest

import tensorgrad as tg
from tensorgrad.cli import evaluate as evaluate_cli
from tensorgrad.cli.main import main as tensorgrad_main
from tensorgrad.data import to_float32
from tensorgrad.models import MLP
from tensorgrad.training import load_trained_model

from .conftest import run_onnx


def logits(model, x: np.ndarray) -> np.ndarray:
    model.eval()
    with tg.no_grad():
        return model(x).data


@pytest.fixture(scope="module")
def mlp_file(tmp_path_factory):
    model = MLP(rng=0)  # in training mode: dropout is on until export switches it off
    path = tmp_path_factory.mktemp("mlp") / "mlp.onnx"
    example = np.random.default_rng(1).random((3, 784), dtype=np.float32)
    proto = tg.onnx.export(model, example, path)
    return model, path, proto


def test_the_file_holds_the_parameters_under_their_state_dict_names(mlp_file):
    model, path, proto = mlp_file
    loaded = onnx.load(str(path))
    onnx.checker.check_model(loaded, full_check=True)
    assert loaded == proto
    weights = {init.name: onnx.numpy_helper.to_array(init) for init in loaded.graph.initializer}
    state = model.state_dict()
    assert list(weights) == list(state) == ["0.weight", "0.bias", "3.weight", "3.bias", "6.weight", "6.bias"]
    for name, array in state.items():
        assert weights[name].dtype == np.float32
        assert np.array_equal(weights[name], array), name
    assert [node.op_type for node in loaded.graph.node] == ["Gemm", "Relu", "Gemm", "Relu", "Gemm"]
    (graph_input,) = loaded.graph.input
    (graph_output,) = loaded.graph.output
    assert (graph_input.name, graph_output.name) == ("input", "logits")
    dims = [d.dim_param or d.dim_value for d in graph_input.type.tensor_type.shape.dim]
    assert dims == ["batch", 784]
    assert [d.dim_param or d.dim_value for d in graph_output.type.tensor_type.shape.dim] == ["batch", 10]
    assert (loaded.producer_name, loaded.producer_version) == ("tensorgrad", tg.__version__)
    assert loaded.opset_import[0].version == tg.onnx.DEFAULT_OPSET


def test_export_restores_the_training_mode_and_records_nothing_afterwards(mlp_file):
    model, _, _ = mlp_file
    assert model.training and all(module.training for module in model.modules())
    model[2].eval()  # a mix of modes is restored module by module
    tg.onnx.export(model, np.zeros((1, 784), np.float32), "/dev/null")
    assert [module.training for module in model.modules()] == [
        True,
        True,
        True,
        False,
        True,
        True,
        True,
        True,
    ]
    assert all(p.grad is None for p in model.parameters())  # export never runs backward
    model.train()


@pytest.mark.parametrize("batch", [1, 257])
def test_one_file_gives_tensorgrads_logits_for_any_batch_size(mlp_file, batch):
    model, path, _ = mlp_file
    x = np.random.default_rng(batch).random((batch, 784), dtype=np.float32)
    (got,) = run_onnx(path, x)
    expected = logits(model, x)
    model.train()
    assert got.shape == (batch, 10) and got.dtype == np.float32
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-5)


def test_a_static_batch_export_fixes_the_batch_size(tmp_path):
    model = MLP(sizes=(6, 4, 3), rng=2)
    proto = tg.onnx.export(model, np.ones((5, 6), np.float32), tmp_path / "m.onnx", dynamic_batch=False)
    assert [d.dim_value for d in proto.graph.input[0].type.tensor_type.shape.dim] == [5, 6]
    x = np.random.default_rng(0).random((5, 6), dtype=np.float32)
    np.testing.assert_allclose(run_onnx(tmp_path / "m.onnx", x)[0], logits(model, x), atol=1e-5)


def test_an_mlp_with_input_steps_exports_them_with_its_statistics_as_initializers(tmp_path):
    model = MLP(rng=4, standardize=True, input_gamma=0.5)
    model.set_input_statistics(np.random.default_rng(0).random((50, 784), dtype=np.float32), floor=0.1)
    proto = tg.onnx.export(model, np.zeros((2, 784), np.float32), tmp_path / "m.onnx")
    weights = {init.name: onnx.numpy_helper.to_array(init) for init in proto.graph.initializer}
    assert np.array_equal(weights["input_mean"], model.input_mean.data)
    assert np.array_equal(weights["input_std"], model.input_std.data)
    assert [node.op_type for node in proto.graph.node][:4] == ["Pow", "Sub", "Div", "Gemm"]
    x = np.random.default_rng(5).random((7, 784), dtype=np.float32)
    np.testing.assert_allclose(run_onnx(tmp_path / "m.onnx", x)[0], logits(model, x), rtol=0, atol=1e-5)


def test_tensorgrad_export_of_a_run_classifies_the_test_set_as_tensorgrad_evaluate_does(
    trained_run, fashion, tmp_path, capsys
):
    out = tmp_path / "exported" / "model.onnx"
    assert tensorgrad_main(["export", str(trained_run), str(out)]) == 0
    assert capsys.readouterr().out.startswith(
        f"{out}: MLP 784-196-64-10 from {trained_run / 'best.npz'} (epoch "
    )

    assert evaluate_cli.main([str(trained_run), "--json", "--no-download"]) == 0
    evaluated = json.loads(capsys.readouterr().out)
    images = to_float32(fashion.test_images)
    (onnx_logits,) = run_onnx(out, images)
    onnx_accuracy = float(np.mean(onnx_logits.argmax(axis=1) == fashion.test_labels))
    assert onnx_accuracy == evaluated["test_accuracy"]
    assert onnx_accuracy > 0.75  # a trained model, not a lucky constant

    model, *_ = load_trained_model(trained_run)
    np.testing.assert_allclose(onnx_logits, logits(model, images), rtol=0, atol=1e-5)


def test_tensorgrad_export_reports_a_missing_run_in_one_line(tmp_path, capsys):
    assert tensorgrad_main(["export", str(tmp_path / "nope"), str(tmp_path / "m.onnx")]) == 1
    assert (
        capsys.readouterr().err == f"tensorgrad export: error: checkpoint {tmp_path / 'nope'}: no such file\n"
    )
    assert not (tmp_path / "m.onnx").exists()
