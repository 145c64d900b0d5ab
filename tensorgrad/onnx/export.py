"""`export`: run a model once, read the graph it recorded, and write it as a standard ONNX model."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

import numpy as np

from .. import __version__
from ..files import write_bytes_atomically
from ..grad_mode import enable_grad
from ..optional import require
from ..tensor import Tensor, set_leaving_graph_hook

#: the default ONNX opset: old enough for most runtimes, new enough for Softmax over one axis
DEFAULT_OPSET = 17
#: the oldest opset the emitters know (13: Softmax over one axis, ReduceSum's and Squeeze's axes as inputs)
MIN_OPSET = 13
#: the name of the batch dimension of a model exported with `dynamic_batch=True`
BATCH_DIM = "batch"


class ExportError(ValueError):
    """The model, or one of its ops, cannot be written as ONNX; the message says which and why."""


class UnsupportedOpError(ExportError):
    """An op of the recorded graph has no ONNX mapping (or a mapping that does not cover its parameters)."""


@dataclass(frozen=True)
class Value:
    """A value of the ONNX graph, as the emitters see it: its name and its shape and dtype in the recorded
    run. `from_input` is True when it depends on the graph input (so its first axis may be the batch)."""

    name: str
    shape: tuple
    dtype: np.dtype
    from_input: bool = False

    @property
    def ndim(self) -> int:
        return len(self.shape)


def export(
    model,
    example_input,
    path: str | os.PathLike[str],
    *,
    input_names=("input",),
    output_names=("logits",),
    dynamic_batch: bool = True,
    opset: int = DEFAULT_OPSET,
):
    """Write `model` as an ONNX model to `path`; returns the `onnx.ModelProto`.

    `model` (an `nn.Module`, or any function of one tensor) runs once on `example_input` (an ndarray or a
    Tensor of a float dtype), in eval mode (dropout is then the identity) with the mode of every submodule
    restored afterwards. The graph that run records becomes the ONNX graph: parameters become initializers
    named after their `state_dict` keys ("0.weight", ...), and so do the buffers an op reads (batch norm's
    "1.running_mean", ...); other constants become initializers too, the example input becomes the graph
    input `input_names[0]`, and the model's output (a Tensor, or a tuple of them) the outputs
    `output_names`. With `dynamic_batch`, the first axis of the input (and of the outputs
    that follow it) is the symbolic dimension "batch", so one file serves any batch size.

    Each op is mapped by its class (`tensorgrad.onnx.emitters.EMITTERS`). An op without a mapping raises
    `UnsupportedOpError` naming it; adding one is one function in `tensorgrad/onnx/emitters.py`.
    The model is checked with `onnx.checker` (full check, with shape inference) before it is written.

    >>> tg.onnx.export(model, np.zeros((1, 784), np.float32), "mlp.onnx")
    >>> # onnxruntime.InferenceSession("mlp.onnx").run(None, {"input": images})[0]  ->  logits
    """
    onnx = require("onnx", "ONNX export")
    from .emitters import EMITTERS

    max_opset = onnx.defs.onnx_opset_version()
    if not MIN_OPSET <= opset <= max_opset:
        raise ExportError(
            f"opset must be in [{MIN_OPSET}, {max_opset}] (this onnx package's newest), got {opset}"
        )
    input_names, output_names = tuple(input_names), tuple(output_names)
    if len(input_names) != 1:
        raise ExportError(f"export takes one model input, so input_names needs one name, got {input_names}")
    if len(set(input_names + output_names)) != len(input_names) + len(output_names):
        raise ExportError(f"input and output names must all differ, got {input_names} and {output_names}")
    example = _example_tensor(example_input)
    outputs = _run_once(model, example)
    if len(output_names) != len(outputs):
        raise ExportError(
            f"the model returned {len(outputs)} output(s) but output_names has {len(output_names)}: {output_names}"
        )

    builder = GraphBuilder(onnx, opset, dynamic_batch, batch_size=len(example))
    builder.bind_leaf(example, input_names[0], from_input=True)
    for name, param in model.named_parameters() if hasattr(model, "named_parameters") else ():
        builder.bind_leaf(param, name, initializer=True)
    for name, buffer in model.named_buffers() if hasattr(model, "named_buffers") else ():
        builder.bind_leaf(buffer, name, initializer=True)  # running statistics, if an op reads them
    for tensor, name in zip(outputs, output_names):
        builder.bind_output(tensor, name)
    for tensor in _ops_in_order(outputs):
        builder.emit(tensor, EMITTERS)

    graph_outputs = []
    for tensor, name in zip(outputs, output_names):
        value = builder.value(tensor)
        if value.name != name:  # a leaf, or a tensor returned twice
            builder.node("Identity", [value.name], name)
        # the element type only: the shape (symbolic where it follows the batch) comes from shape inference
        graph_outputs.append(onnx.helper.make_tensor_value_info(name, builder.onnx_dtype(value.dtype), None))
    shape = list(example.shape)
    if dynamic_batch:
        shape[0] = BATCH_DIM
    input_info = onnx.helper.make_tensor_value_info(input_names[0], builder.onnx_dtype(example.dtype), shape)
    graph = onnx.helper.make_graph(
        builder.nodes, "tensorgrad", [input_info], graph_outputs, initializer=builder.initializers
    )
    opset_ids = [onnx.helper.make_opsetid("", opset)]
    model_proto = onnx.helper.make_model(
        graph, opset_imports=opset_ids, producer_name="tensorgrad", producer_version=__version__
    )
    # the oldest IR version that carries this opset, so that older runtimes can load the file too
    model_proto.ir_version = onnx.helper.find_min_ir_version_for(opset_ids)
    inferred = onnx.shape_inference.infer_shapes(model_proto, strict_mode=True, data_prop=True)
    model_proto.graph.ClearField("output")
    model_proto.graph.output.extend(inferred.graph.output)
    onnx.checker.check_model(model_proto, full_check=True)
    write_bytes_atomically(path, model_proto.SerializeToString())
    return model_proto


class GraphBuilder:
    """What an emitter writes into: nodes, initializers, fresh value names (see `tensorgrad.onnx.emitters`).

    `opset` is the target opset; `dynamic_batch` and `batch_size` (the example's) tell emitters whose ops
    bake in a shape (reshape) how to keep the batch axis free.
    """

    def __init__(self, onnx, opset: int, dynamic_batch: bool, batch_size: int):
        self.onnx, self.opset = onnx, opset
        self.dynamic_batch, self.batch_size = dynamic_batch, batch_size
        self.nodes: list = []
        self.initializers: list = []
        self._values: dict[int, Value] = {}  # id(tensor) -> its value
        self._leaves: dict[int, tuple] = {}  # id(tensor) -> (name, initializer?, from_input?)
        self._outputs: dict[int, str] = {}  # id(tensor) -> the graph output it is
        self._names: set[str] = set()
        self._keep = []  # every tensor an id() above refers to, so that no id is reused during the export

    # ----- names and values
    def fresh(self, hint: str) -> str:
        """A value name not used yet: `hint`, or `hint_1`, `hint_2`, ..."""
        name, index = hint, 0
        while name in self._names:
            index += 1
            name = f"{hint}_{index}"
        self._names.add(name)
        return name

    def bind_leaf(self, tensor: Tensor, name: str, *, initializer: bool = False, from_input: bool = False):
        """Name a leaf: the graph input, or a parameter (an initializer named after its state_dict key)."""
        self._keep.append(tensor)
        self._names.add(name)
        self._leaves[id(tensor)] = (name, initializer, from_input)

    def bind_output(self, tensor: Tensor, name: str) -> None:
        """Name the graph output `tensor` is (an op's output; leaves and repeats get an Identity node)."""
        self._names.add(name)
        if tensor.grad_fn is not None and id(tensor) not in self._outputs:
            self._keep.append(tensor)
            self._outputs[id(tensor)] = name

    def value(self, tensor: Tensor) -> Value:
        """The graph value of `tensor`: an op's output emitted before, a named leaf, or a new constant."""
        found = self._values.get(id(tensor))
        if found is not None:
            return found
        if tensor.grad_fn is not None:
            raise ExportError("internal: an op's output was used before its op was emitted")
        name, initializer, from_input = self._leaves.get(id(tensor), (None, True, False))
        if name is None:  # a constant: named after the tensor's own name, if it has one
            name = self.fresh(re.sub(r"\W+", "_", tensor.name or "").strip("_") or "constant")
        if initializer:
            self.initializers.append(self.onnx.numpy_helper.from_array(np.asarray(tensor.data), name))
        self._keep.append(tensor)
        value = self._values[id(tensor)] = Value(name, tensor.shape, tensor.dtype, from_input)
        return value

    def new_value(self, tensor: Tensor, from_input: bool) -> Value:
        """The value an op's output tensor becomes (its emitter must write a node with this output name)."""
        self._keep.append(tensor)
        name = self._outputs.get(id(tensor)) or self.fresh(tensor.grad_fn.name)
        value = self._values[id(tensor)] = Value(name, tensor.shape, tensor.dtype, from_input)
        return value

    # ----- writing
    def emit(self, tensor: Tensor, emitters: dict) -> None:
        """Write the op that produced `tensor` (its inputs are written already), by its class's emitter."""
        op = tensor.grad_fn
        emit = emitters.get(type(op))
        if emit is None:
            raise UnsupportedOpError(
                f"cannot export op {type(op).__name__} ('{op.describe()}', {type(op).__module__}) to ONNX: "
                f"it has no mapping; add one with @emitter({type(op).__name__}) in tensorgrad/onnx/emitters.py"
            )
        inputs = [self.value(t) for t in op.inputs]
        emit(self, op, inputs, self.new_value(tensor, from_input=any(v.from_input for v in inputs)))

    def node(self, op_type: str, inputs, output: str | None = None, **attributes) -> str:
        """Add a node with one output (named `output`, or a fresh name); returns the output's name.

        `inputs` are value names; "" stands for an optional input left out.
        """
        output = output if output is not None else self.fresh(op_type.lower())
        self._names.add(output)
        self.nodes.append(self.onnx.helper.make_node(op_type, list(inputs), [output], **attributes))
        return output

    def constant(self, array, hint: str = "constant") -> str:
        """A new initializer holding `array`; returns its name."""
        name = self.fresh(hint)
        self.initializers.append(self.onnx.numpy_helper.from_array(np.asarray(array), name))
        return name

    def ints(self, values, hint: str = "ints") -> str:
        """A 1-D int64 initializer (shapes, axes, starts, ...); returns its name."""
        return self.constant(np.asarray(list(values), dtype=np.int64), hint)

    def cast(self, value: Value, dtype) -> str:
        """The name of `value` converted to `dtype` (a Cast node only when the dtypes differ)."""
        dtype = np.dtype(dtype)
        if value.dtype == dtype:
            return value.name
        return self.node(
            "Cast", [value.name], self.fresh(f"{value.name}_as_{dtype}"), to=self.onnx_dtype(dtype)
        )

    def onnx_dtype(self, dtype) -> int:
        """The ONNX element type (`TensorProto.FLOAT`, ...) of a NumPy dtype."""
        return self.onnx.helper.np_dtype_to_tensor_dtype(np.dtype(dtype))


def _example_tensor(example_input) -> Tensor:
    """A fresh leaf holding the example input that requires grad, so that every op that depends on it is
    recorded and it can be told apart from every other leaf."""
    data = example_input.data if isinstance(example_input, Tensor) else np.asarray(example_input)
    if data.dtype.kind != "f":
        raise ExportError(f"example_input must be a floating-point array or tensor, not dtype {data.dtype}")
    if data.ndim == 0:
        raise ExportError("example_input must have at least one axis (the batch)")
    return Tensor(np.array(data), requires_grad=True)


def _run_once(model, example: Tensor) -> tuple:
    """The model's outputs on `example`, recorded with grad enabled, in eval mode (modes restored after).

    Values the model takes out of the graph (a comparison, argmax, detach, item) of anything computed from
    the input are an `ExportError`: they are no op, so the file would hold this one input's result.
    """
    modules = list(model.modules()) if hasattr(model, "modules") else []
    modes = [module.training for module in modules]

    def refuse_input_dependent(action: str, values: list) -> None:
        for value in values:
            if _depends_on(value, example):
                raise ExportError(
                    f"the model {action} a tensor computed from its input (shape {value.shape}): that is no "
                    "op, so the file would hold its value for this one input; use ops instead (relu, clamp, "
                    "maximum, where with a constant mask)"
                )

    try:
        for module in modules:
            module.training = False
        set_leaving_graph_hook(refuse_input_dependent)
        with enable_grad():
            result = model(example)
    finally:
        set_leaving_graph_hook(None)
        for module, mode in zip(modules, modes):
            module.training = mode
    outputs = (result,) if isinstance(result, Tensor) else tuple(result)
    for index, output in enumerate(outputs):
        if not isinstance(output, Tensor):
            raise ExportError(f"the model's output {index} is a {type(output).__name__}, not a Tensor")
    return outputs


def _depends_on(tensor: Tensor, source: Tensor) -> bool:
    """Whether `source` is `tensor` or one of the inputs its recorded ops were computed from."""
    stack, seen = [tensor], set()
    while stack:
        current = stack.pop()
        if current is source:
            return True
        if id(current) in seen or current.grad_fn is None or current.grad_fn.inputs is None:
            continue
        seen.add(id(current))
        stack.extend(current.grad_fn.inputs)
    return False


def _ops_in_order(outputs) -> list:
    """The tensors that ops produced on the way to `outputs`, each after all of its inputs (no recursion)."""
    ordered, seen = [], set()
    stack = [(tensor, False) for tensor in reversed(outputs)]
    while stack:
        tensor, inputs_done = stack.pop()
        if inputs_done:
            ordered.append(tensor)
            continue
        if id(tensor) in seen or tensor.grad_fn is None:
            continue
        seen.add(id(tensor))
        op = tensor.grad_fn
        if op.inputs is None:
            raise ExportError(
                "the graph was released by backward(); export records its own run, so call it on the model"
            )
        stack.append((tensor, True))
        stack.extend((t, False) for t in reversed(op.inputs) if id(t) not in seen)
    return ordered
