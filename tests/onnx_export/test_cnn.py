"""Convolution, pooling and batch norm exported and run by onnxruntime give what tensorgrad gives, over the
arguments that change the ONNX attributes (stride, padding, dilation, groups, odd sizes, overlapping or
padded windows); the whole CNN, trained a few steps, gives tensorgrad's logits; `tensorgrad export` writes
a CNN run."""

from __future__ import annotations

import numpy as np
import onnx
import pytest

import tensorgrad as tg
import tensorgrad.functional as F
from tensorgrad import nn
from tensorgrad.cli.main import main as tensorgrad_main
from tensorgrad.data import to_float32
from tensorgrad.models import CNN
from tensorgrad.onnx import UnsupportedOpError
from tensorgrad.training import TrainConfig, load_trained_model

from .conftest import run_onnx, train_quietly


def exported_matches(fn, shape, tmp_path, batches=(1, 5), low=-2.0, high=2.0, dynamic_batch=True) -> list:
    """Export `fn` on a random input of `shape`, run the file at each batch size (the example's alone for a
    static batch), check onnxruntime's output against tensorgrad's; returns the file's node types."""
    rng = np.random.default_rng(sum(shape))
    example = rng.uniform(low, high, shape).astype(np.float32)
    path = tmp_path / "model.onnx"
    tg.onnx.export(fn, example, path, dynamic_batch=dynamic_batch)
    for batch in (shape[0], *batches) if dynamic_batch else (shape[0],):
        x = rng.uniform(low, high, (batch, *shape[1:])).astype(np.float32)
        with tg.no_grad():
            expected = fn(tg.tensor(x)).data
        (got,) = run_onnx(path, x)
        assert got.shape == expected.shape and got.dtype == np.float32
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)
    return [node.op_type for node in onnx.load(str(path)).graph.node]


CONVOLUTIONS = {
    # name: (input shape, Conv2d arguments)
    "3x3_pad_1": ((2, 3, 8, 8), dict(in_channels=3, out_channels=4, kernel_size=3, padding=1)),
    "stride_2_odd_size": (
        (2, 2, 7, 9),
        dict(in_channels=2, out_channels=3, kernel_size=3, stride=2, padding=1),
    ),
    "stride_and_padding_per_axis": (
        (2, 2, 9, 6),
        dict(in_channels=2, out_channels=3, kernel_size=(3, 2), stride=(2, 1), padding=(2, 1)),
    ),
    "dilation_2": ((2, 2, 9, 9), dict(in_channels=2, out_channels=2, kernel_size=3, padding=2, dilation=2)),
    "dilation_per_axis_valid": (
        (2, 2, 9, 8),
        dict(in_channels=2, out_channels=2, kernel_size=2, dilation=(3, 1), padding="valid"),
    ),
    "groups_2": ((2, 4, 6, 7), dict(in_channels=4, out_channels=6, kernel_size=3, groups=2, padding=1)),
    "depthwise_strided": (
        (2, 3, 8, 7),
        dict(in_channels=3, out_channels=3, kernel_size=3, stride=2, groups=3, bias=False),
    ),
    "same_even_kernel_pads_bottom_right_more": (
        (2, 2, 6, 7),
        dict(in_channels=2, out_channels=3, kernel_size=(4, 2), padding="same", dilation=(1, 2)),
    ),
    "1x1_without_bias": ((2, 5, 4, 3), dict(in_channels=5, out_channels=2, kernel_size=1, bias=False)),
    "kernel_as_large_as_the_input": ((2, 2, 5, 4), dict(in_channels=2, out_channels=3, kernel_size=(5, 4))),
}


@pytest.mark.parametrize("name", sorted(CONVOLUTIONS))
def test_conv2d(name, tmp_path):
    shape, arguments = CONVOLUTIONS[name]
    layer = nn.Conv2d(**arguments, rng=len(name))
    assert "Conv" in exported_matches(layer, shape, tmp_path)


def test_conv2d_writes_the_padding_begins_first_and_the_bias_as_its_third_input(tmp_path):
    layer = nn.Conv2d(2, 3, (4, 2), padding="same", dilation=(1, 2), groups=1, rng=0)
    proto = tg.onnx.export(layer, np.zeros((1, 2, 6, 7), np.float32), tmp_path / "m.onnx")
    (conv,) = proto.graph.node
    attributes = {a.name: onnx.helper.get_attribute_value(a) for a in conv.attribute}
    # "same" pads a total of d * (k - 1): 3 rows (1 above, 2 below) and 2 columns (1 and 1)
    assert attributes == {
        "kernel_shape": [4, 2],
        "strides": [1, 1],
        "pads": [1, 1, 2, 1],
        "dilations": [1, 2],
        "group": 1,
    }
    assert list(conv.input) == ["input", "weight", "bias"]


def test_an_unbatched_conv2d_input_exports_with_a_static_batch(tmp_path):
    layer = nn.Conv2d(3, 2, 3, padding=1, rng=4)
    assert "Conv" in exported_matches(layer, (3, 5, 6), tmp_path, dynamic_batch=False)


MAX_POOLS = {
    # name: (input shape, max_pool2d arguments after the input, input range)
    "2x2": ((2, 3, 8, 8), (2,), (-2.0, 2.0)),
    "odd_size_drops_the_last_row_and_column": ((2, 2, 7, 9), (2,), (-2.0, 2.0)),
    "overlapping_padded": ((2, 2, 7, 6), (3, 2, 1), (-2.0, 2.0)),
    # all values negative: a padding of 0 (not -inf) would win at the border
    "padded_negative_values": ((2, 2, 5, 5), (3, 1, 1), (-3.0, -1.0)),
    "per_axis_dilated": ((2, 2, 9, 8), ((3, 2), (1, 2), (1, 0), (2, 1)), (-2.0, 2.0)),
    # ceil_mode: the last window overhangs the input (more -inf padding at the bottom and right)
    "ceil_mode": ((2, 2, 7, 8), (3, 2, 1, 1, True), (-3.0, -1.0)),
}


@pytest.mark.parametrize("name", sorted(MAX_POOLS))
def test_max_pool2d(name, tmp_path):
    shape, arguments, (low, high) = MAX_POOLS[name]
    nodes = exported_matches(lambda x: F.max_pool2d(x, *arguments), shape, tmp_path, low=low, high=high)
    assert nodes == ["MaxPool"]


AVG_POOLS = {
    # name: (input shape, avg_pool2d arguments after the input, the exported nodes)
    "2x2": ((2, 3, 8, 8), (2,), ["AveragePool"]),
    # the padding counts in the divisor (count_include_pad=True, PyTorch's default): border cells are lower
    "overlapping_padded": ((2, 2, 7, 6), (3, 2, 1), ["AveragePool"]),
    "padded_stride_1": ((2, 2, 5, 5), (3, 1, 1), ["AveragePool"]),
    "per_axis_odd_size": ((2, 2, 9, 7), ((3, 2), (2, 1), (1, 0)), ["AveragePool"]),
    # divisors other than the kernel's size: AveragePool, then a product with a constant map
    "ceil_mode": ((2, 2, 7, 7), (2, 2, 0, True), ["AveragePool", "Mul"]),
    "count_include_pad_false": ((2, 2, 7, 6), (3, 2, 1, False, False), ["AveragePool", "Mul"]),
    "divisor_override": ((2, 2, 6, 6), (2, None, 0, False, True, 3), ["AveragePool", "Mul"]),
}


@pytest.mark.parametrize("name", sorted(AVG_POOLS))
def test_avg_pool2d(name, tmp_path):
    shape, arguments, nodes = AVG_POOLS[name]
    assert (
        exported_matches(lambda x: F.avg_pool2d(x, *arguments), shape, tmp_path, low=0.5, high=2.0) == nodes
    )


@pytest.mark.parametrize(
    ("shape", "output_size", "nodes"),
    [
        ((2, 3, 5, 7), 1, ["GlobalAveragePool"]),
        ((2, 3, 6, 9), (2, 3), ["AveragePool"]),  # windows that tile the input: plain average pooling
        ((2, 3, 6, 9), (None, 1), ["AveragePool"]),
        # sizes that do not divide: the op records two products with constant averaging matrices
        ((2, 3, 7, 5), 3, ["MatMul", "MatMul"]),
        ((2, 3, 7, 5), (2, 4), ["MatMul", "MatMul"]),
    ],
)
def test_adaptive_avg_pool2d(shape, output_size, nodes, tmp_path):
    fn = lambda x: F.adaptive_avg_pool2d(x, output_size)  # noqa: E731
    assert exported_matches(fn, shape, tmp_path) == nodes


def trained_batch_norm(layer, shape, steps=3):
    """`layer` after a few training steps on shifted, scaled data, so that its running statistics (and its
    affine parameters) are far from their initial values."""
    rng = np.random.default_rng(steps)
    optimizer = tg.optim.SGD(list(layer.parameters()), lr=0.5) if layer.affine else None
    for _ in range(steps):
        x = tg.tensor(rng.normal(1.5, 3.0, shape).astype(np.float32))
        out = layer(x)
        if optimizer is not None:
            (out * np.linspace(-1, 1, out.size, dtype=np.float32).reshape(out.shape)).sum().backward()
            optimizer.step()
            optimizer.zero_grad()
    assert layer.num_batches_tracked.data == steps
    assert np.abs(layer.running_mean.data).min() > 0.1
    return layer


@pytest.mark.parametrize(
    ("layer", "shape"),
    [
        (nn.BatchNorm2d(3), (4, 3, 5, 6)),
        (nn.BatchNorm2d(3, eps=1e-2, momentum=None), (4, 3, 5, 6)),
        (nn.BatchNorm2d(2, affine=False), (4, 2, 3, 3)),
        (nn.BatchNorm1d(5), (6, 5)),
        (nn.BatchNorm1d(3), (4, 3, 7)),
    ],
    ids=["2d", "2d_eps_cumulative", "2d_without_affine", "1d", "1d_sequence"],
)
def test_batch_norm_exports_as_batch_normalization_with_the_running_statistics(layer, shape, tmp_path):
    trained_batch_norm(layer, shape)
    layer.train()  # export runs in eval mode, as it does for dropout, and restores this mode
    tg.onnx.export(layer, np.zeros(shape, np.float32), tmp_path / "in_training_mode.onnx")
    assert layer.training
    layer.eval()
    nodes = exported_matches(layer, shape, tmp_path, low=-4.0, high=6.0)
    assert onnx.load(str(tmp_path / "in_training_mode.onnx")) == onnx.load(str(tmp_path / "model.onnx"))
    assert nodes == ["BatchNormalization"]
    initializers = {
        i.name: onnx.numpy_helper.to_array(i)
        for i in onnx.load(str(tmp_path / "model.onnx")).graph.initializer
    }
    np.testing.assert_array_equal(initializers["running_mean"], layer.running_mean.data)
    np.testing.assert_array_equal(initializers["running_var"], layer.running_var.data)
    if layer.affine:
        np.testing.assert_array_equal(initializers["weight"], layer.weight.data)
        assert not np.array_equal(layer.weight.data, np.ones_like(layer.weight.data))


@pytest.mark.parametrize(
    "fn",
    [
        lambda x: F.batch_norm(x, None, None, training=True),
        nn.BatchNorm2d(2, track_running_stats=False),  # batch statistics in eval mode too, as PyTorch
    ],
    ids=["functional_training", "without_running_statistics"],
)
def test_batch_norm_with_batch_statistics_is_not_mapped(fn, tmp_path):
    with pytest.raises(UnsupportedOpError) as info:
        tg.onnx.export(fn, np.ones((3, 2, 4, 4), np.float32), tmp_path / "m.onnx")
    assert str(info.value).startswith(
        "cannot export op BatchNormalize ('batch_normalize (eps=1e-05)', tensorgrad.ops.batchnorm) to ONNX"
    )
    assert not (tmp_path / "m.onnx").exists()


@pytest.fixture(scope="module")
def trained_cnn():
    """The default CNN after 4 SGD steps on random images: running statistics and weights have moved."""
    model = CNN(rng=0)
    optimizer = tg.optim.SGD(list(model.parameters()), lr=0.05)
    rng = np.random.default_rng(1)
    for _ in range(4):
        loss = model.loss(rng.random((16, 784), dtype=np.float32), rng.integers(0, 10, 16))
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
    return model


def test_the_cnn_exports_and_gives_tensorgrads_logits(trained_cnn, tmp_path):
    model = trained_cnn
    path = tmp_path / "cnn.onnx"
    proto = tg.onnx.export(model, np.zeros((1, 784), np.float32), path)
    assert model.training  # dropout and batch norm were in eval mode for the export only
    block = ["Conv", "MaxPool", "BatchNormalization", "Relu"]
    assert [n.op_type for n in proto.graph.node] == [
        "Reshape",
        *block,
        *block,
        "Conv",
        "BatchNormalization",
        "Relu",
        "Reshape",
        "Gemm",
        "Relu",
        "Gemm",
    ]
    initializers = {i.name: onnx.numpy_helper.to_array(i) for i in proto.graph.initializer}
    state = {k: v for k, v in model.state_dict().items() if not k.endswith("num_batches_tracked")}
    assert set(state) <= set(initializers)
    for key, value in state.items():
        np.testing.assert_array_equal(initializers[key], value, err_msg=key)
    assert np.abs(state["6.running_var"] - 1).max() > 0.01  # not the initial statistics

    model.eval()
    rng = np.random.default_rng(2)
    for batch in (1, 3, 33):
        x = rng.random((batch, 784), dtype=np.float32)
        with tg.no_grad():
            expected = model(x).data
        (got,) = run_onnx(path, x)
        assert got.shape == (batch, 10)
        np.testing.assert_allclose(got, expected, rtol=0, atol=1e-5)
    model.train()


def test_a_cnn_with_a_gamma_curve_exports_it_as_a_pow_node(tmp_path):
    model = CNN(channels=(4, 8), hidden=16, rng=1, input_gamma=0.5)
    proto = tg.onnx.export(model, np.zeros((1, 1, 28, 28), np.float32), tmp_path / "m.onnx")
    assert [n.op_type for n in proto.graph.node][:2] == ["Pow", "Conv"]
    model.eval()
    x = np.random.default_rng(4).random((3, 1, 28, 28), dtype=np.float32)
    with tg.no_grad():
        expected = model(x).data
    np.testing.assert_allclose(run_onnx(tmp_path / "m.onnx", x)[0], expected, rtol=0, atol=1e-5)


@pytest.fixture(scope="module")
def trained_cnn_run(tmp_path_factory, fashion):
    """A run folder of a small CNN (channels 4, 8; hidden 16) after one epoch of 600 examples (12 steps)."""
    run_dir = tmp_path_factory.mktemp("onnx_cnn") / "run"
    config = TrainConfig(
        model="cnn",
        cnn={"channels": [4, 8], "hidden": 16, "dropout": 0.25},
        max_train_examples=600,
        val_size=200,
        batch_size=50,
        epochs=1,
        seed=3,
        download=False,
    )
    return train_quietly(config, run_dir, fashion)


def test_tensorgrad_export_of_a_cnn_run_gives_its_logits(trained_cnn_run, fashion, tmp_path, capsys):
    out = tmp_path / "cnn.onnx"
    assert tensorgrad_main(["export", str(trained_cnn_run), str(out)]) == 0
    assert capsys.readouterr().out.startswith(f"{out}: CNN from {trained_cnn_run / 'best.npz'} (epoch ")
    # the CNN takes images, so its file does: (N, 1, 28, 28), where the MLP's takes flat rows
    (graph_input,) = onnx.load(str(out)).graph.input
    assert [d.dim_param or d.dim_value for d in graph_input.type.tensor_type.shape.dim] == [
        "batch",
        1,
        28,
        28,
    ]
    images = to_float32(fashion.test_images[:500]).reshape(-1, 1, 28, 28)
    (onnx_logits,) = run_onnx(out, images)
    model, *_ = load_trained_model(trained_cnn_run)
    model.eval()
    with tg.no_grad():
        expected = model(images).data
    np.testing.assert_allclose(onnx_logits, expected, rtol=0, atol=1e-5)
    assert np.abs(model[2].running_var.data - 1).max() > 0.01  # statistics of the data, not the initial ones
