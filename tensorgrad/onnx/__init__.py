"""ONNX export: `tensorgrad.onnx.export(model, example_input, "model.onnx")` writes a standard ONNX model.

Needs the `onnx` package (`pip install tensorgrad[onnx]`, which brings onnxruntime too), imported only when
`export` runs. Each op class maps to one function in `tensorgrad.onnx.emitters` (`EMITTERS`); adding an op
is one function there, registered with `@emitter(OpClass)`.
"""

from .emitters import EMITTERS, emitter
from .export import DEFAULT_OPSET, ExportError, UnsupportedOpError, export

__all__ = ["DEFAULT_OPSET", "EMITTERS", "ExportError", "UnsupportedOpError", "emitter", "export"]
