"""What export refuses, with an error that says why (no file is written), and the edges it handles."""

from __future__ import annotations

import numpy as np
import pytest

import tensorgrad as tg
from tensorgrad import ops
from tensorgrad.autograd import apply
from tensorgrad.onnx import ExportError, UnsupportedOpError

from .conftest import run_onnx

X = np.linspace(-1, 1, 12, dtype=np.float32).reshape(4, 3)


class Cube(ops.Op):
    """An op nobody mapped to ONNX."""

    __slots__ = ()
    name = "cube"

    def forward(self, a):
        return a**3

    def backward(self, grad, a, out):
        return grad * 3 * a**2


def export_error(fn, tmp_path, error=ExportError, **options) -> str:
    path = tmp_path / "model.onnx"
    with pytest.raises(error) as info:
        tg.onnx.export(fn, X, path, **options)
    assert not path.exists()
    return str(info.value)


def test_an_op_without_a_mapping_is_named(tmp_path):
    message = export_error(lambda x: apply(Cube(), x.relu()), tmp_path, UnsupportedOpError)
    assert message == (
        f"cannot export op Cube ('cube', {__name__}) to ONNX: it has no mapping; "
        "add one with @emitter(Cube) in tensorgrad/onnx/emitters.py"
    )


def test_a_subclass_of_a_mapped_op_is_not_mistaken_for_it(tmp_path):
    class Doubled(ops.Exp):
        __slots__ = ()

        def forward(self, a):
            return 2 * np.exp(a)

    assert "cannot export op Doubled" in export_error(
        lambda x: apply(Doubled(), x), tmp_path, UnsupportedOpError
    )


def test_indexing_that_is_not_mapped_says_so(tmp_path):
    message = export_error(lambda x: x[[0, 1], [1, 2]], tmp_path, UnsupportedOpError)
    assert message.startswith("getitem with index ([0, 1], [1, 2]): ")


def test_a_reshape_that_fixes_the_batch_size_needs_a_static_batch(tmp_path):
    message = export_error(lambda x: x.reshape(2, 6), tmp_path, UnsupportedOpError)
    assert message == (
        "reshape of (4, 3) to (2, 6) fixes the batch size at 4; keep the batch as the first axis, "
        "or export with dynamic_batch=False"
    )


@pytest.mark.parametrize(
    ("options", "complaint"),
    [
        ({"output_names": ("a", "b")}, "the model returned 1 output(s) but output_names has 2"),
        ({"input_names": ("x", "y")}, "input_names needs one name"),
        ({"input_names": ("x",), "output_names": ("x",)}, "input and output names must all differ"),
        ({"opset": 12}, "opset must be in [13, "),
    ],
)
def test_bad_options(options, complaint, tmp_path):
    assert complaint in export_error(lambda x: x.relu(), tmp_path, **options)


def test_the_example_input_must_be_floating_point(tmp_path):
    with pytest.raises(
        ExportError, match="example_input must be a floating-point array or tensor, not dtype int64"
    ):
        tg.onnx.export(lambda x: x, np.arange(3), tmp_path / "m.onnx")


def test_several_outputs_a_repeated_one_and_the_input_itself(tmp_path):
    def model(x):
        probabilities = x.softmax(axis=1)
        return x, probabilities, probabilities

    path = tmp_path / "m.onnx"
    tg.onnx.export(model, X, path, output_names=("same", "p", "p_again"))
    same, p, p_again = run_onnx(path, X)
    np.testing.assert_array_equal(same, X)
    np.testing.assert_allclose(p, tg.tensor(X).softmax(axis=1).data, atol=1e-6)
    np.testing.assert_array_equal(p_again, p)


def test_export_records_even_under_no_grad(tmp_path):
    with tg.no_grad():
        tg.onnx.export(lambda x: x.tanh() * 2, X, tmp_path / "m.onnx")
        assert not tg.is_grad_enabled()
    np.testing.assert_allclose(run_onnx(tmp_path / "m.onnx", X)[0], np.tanh(X) * 2, atol=1e-6)


def test_ops_that_belong_to_training_are_not_mapped(tmp_path):
    # index_add is indexing's adjoint (a backward), binary cross-entropy a loss: neither is an inference op
    message = export_error(lambda x: tg.index_add(x, [0, 0, 1, 2], (3, 3)), tmp_path, UnsupportedOpError)
    assert message.startswith("cannot export op IndexAdd ('index_add', tensorgrad.ops.shape) to ONNX")
    message = export_error(
        lambda x: tg.binary_cross_entropy(x.sigmoid(), np.ones_like(X)), tmp_path, UnsupportedOpError
    )
    assert message.startswith("cannot export op _ClampedLog ('clamped_log', tensorgrad.ops.pointwise_losses)")


def test_a_gather_index_that_broadcasts_along_the_batch_needs_a_static_batch(tmp_path):
    message = export_error(
        lambda x: tg.take_along_dim(x, np.array([[2, 0]]), dim=1), tmp_path, UnsupportedOpError
    )
    assert message == (
        "getitem of (4, 3) with indices of shape (1, 2) broadcast along the batch axis fixes the batch size; "
        "export with dynamic_batch=False"
    )


@pytest.mark.parametrize(
    "model, action, shape",
    [
        (lambda x: tg.where(x > 0, x, x * 0.1), "compares", (4, 3)),  # the input itself
        (lambda x: x * (x.sum(1, keepdims=True) <= 0), "compares", (4, 1)),  # a value computed from it
        (lambda x: x[:, :1] * tg.argmax(x.exp(), 1, keepdims=True), "takes the argmax of", (4, 3)),
        (lambda x: x.detach() * 2, "detaches", (4, 3)),
        (lambda x: x * x.sum().item(), "takes the item() of", ()),
        (lambda x: x * float(x.mean()), "takes float() of", ()),
    ],
)
def test_a_value_taken_out_of_the_graph_from_the_input_is_refused(model, action, shape, tmp_path):
    # It is no op: the file would hold this one input's value as a constant, right for it alone.
    message = export_error(model, tmp_path)
    assert message.startswith(
        f"the model {action} a tensor computed from its input (shape {shape}): that is no op"
    )


def test_values_out_of_the_graph_that_do_not_depend_on_the_input_still_export(tmp_path):
    weight = tg.tensor(np.array([0.5, -1.0, 2.0], np.float32), requires_grad=True)

    def model(x):
        positive = weight > 0  # a mask from a parameter alone: a constant of the model
        assert tg.tensor(np.ones(3)).sum().item() == 3.0
        return tg.where(positive, x * weight, x)

    path = tmp_path / "model.onnx"
    tg.onnx.export(model, X, path)
    other = X[::-1] * 3
    np.testing.assert_allclose(run_onnx(path, other)[0], model(tg.tensor(other)).data, rtol=1e-6)
    assert (tg.tensor(X) > 0).data.any()  # after export, comparisons are free again
