"""`Module`: the base of layers and models. Parameters and sub-modules register by attribute assignment."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator
from typing import NamedTuple

import numpy as np

from ..tensor import Tensor
from .parameter import Parameter


class IncompatibleKeys(NamedTuple):
    missing_keys: list
    unexpected_keys: list


def _as_buffer(value, name: str):
    if value is None or isinstance(value, Tensor):
        return value
    if isinstance(value, np.ndarray) or np.isscalar(value):
        return Tensor(np.asarray(value))
    raise TypeError(f"buffer {name!r} must be a Tensor, an ndarray or None, not {type(value).__name__}")


class Module:
    """Base class of every layer and model, as PyTorch's ``nn.Module``.

    Assigning a `Parameter` or a `Module` to an attribute registers it; `parameters()`, `state_dict()`,
    `train()`/`eval()` and `zero_grad()` then reach everything below. Subclasses define `forward`.
    """

    def __init__(self):
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_buffers", OrderedDict())
        object.__setattr__(self, "_non_persistent", set())
        object.__setattr__(self, "_modules", OrderedDict())
        object.__setattr__(self, "training", True)

    def __setattr__(self, name: str, value) -> None:
        registry = self.__dict__.get("_parameters")
        if registry is None:
            raise AttributeError(
                f"cannot assign {name!r} before Module.__init__() ran; call super().__init__() first"
            )
        if name in self._buffers and not isinstance(value, (Parameter, Module)):
            self._buffers[name] = _as_buffer(value, name)  # `self.running_mean = ...` updates the buffer
            object.__setattr__(self, name, self._buffers[name])
            return
        self._parameters.pop(name, None)
        self._modules.pop(name, None)
        self._buffers.pop(name, None)
        if isinstance(value, Parameter):
            self._parameters[name] = value
        elif isinstance(value, Module):
            self._modules[name] = value
        object.__setattr__(self, name, value)

    def __delattr__(self, name: str) -> None:
        self._parameters.pop(name, None)
        self._modules.pop(name, None)
        self._buffers.pop(name, None)
        object.__delattr__(self, name)

    def register_buffer(self, name: str, tensor, persistent: bool = True) -> None:
        """Keep a tensor that is state but not a parameter (running statistics): in `state_dict` (unless
        `persistent=False`), in `buffers()`, never in `parameters()`. None reserves the name."""
        if "." in name or not name:
            raise KeyError(f"register_buffer: a buffer name must be non-empty and contain no '.', got {name!r}")
        if name in self._parameters or name in self._modules:
            raise KeyError(f"register_buffer: {name!r} is already a parameter or a sub-module")
        self._buffers[name] = _as_buffer(tensor, name)
        if persistent:
            self._non_persistent.discard(name)
        else:
            self._non_persistent.add(name)
        object.__setattr__(self, name, self._buffers[name])

    def named_buffers(self, prefix: str = "") -> Iterator[tuple]:
        """(dotted name, buffer) pairs of every buffer below this module (None buffers left out)."""
        for module_name, module in self.named_modules(prefix):
            for key, buffer in module._buffers.items():
                if buffer is not None:
                    yield (f"{module_name}.{key}" if module_name else key), buffer

    def buffers(self) -> Iterator:
        for _, buffer in self.named_buffers():
            yield buffer

    def forward(self, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__} must define forward()")

    def __call__(self, *args, **kwargs):
        return self.forward(*args, **kwargs)

    # ----- walking the tree
    def named_modules(self, prefix: str = "") -> Iterator[tuple[str, Module]]:
        """This module and every module below it, with dotted names ("" for this one)."""
        stack = [(prefix, self)]
        seen = set()
        while stack:
            name, module = stack.pop()
            if id(module) in seen:
                continue
            seen.add(id(module))
            yield name, module
            children = [(f"{name}.{key}" if name else key, child) for key, child in module._modules.items()]
            stack.extend(reversed(children))

    def modules(self) -> Iterator[Module]:
        for _, module in self.named_modules():
            yield module

    def children(self) -> Iterator[Module]:
        yield from self._modules.values()

    def named_parameters(self, prefix: str = "") -> Iterator[tuple[str, Parameter]]:
        """(dotted name, parameter) pairs, e.g. ("0.weight", ...), each parameter once."""
        seen = set()
        for module_name, module in self.named_modules(prefix):
            for key, param in module._parameters.items():
                if id(param) in seen:
                    continue
                seen.add(id(param))
                yield (f"{module_name}.{key}" if module_name else key), param

    def parameters(self) -> Iterator[Parameter]:
        for _, param in self.named_parameters():
            yield param

    # ----- training state
    def train(self, mode: bool = True) -> Module:
        """Set training mode (dropout active) on this module and all below it."""
        for module in self.modules():
            object.__setattr__(module, "training", bool(mode))
        return self

    def eval(self) -> Module:
        """Set evaluation mode (dropout off)."""
        return self.train(False)

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Clear the gradients of every parameter (to None, or to zeros in place)."""
        for param in self.parameters():
            if set_to_none or param.grad is None:
                param.grad = None
            else:
                param.grad.data[...] = 0

    # ----- saving and loading
    def state_dict(self) -> OrderedDict:
        """{dotted name: ndarray copy} of every parameter and persistent buffer, with PyTorch's key names
        and order (each module's parameters, then its buffers, then its children's)."""
        return OrderedDict((name, tensor.data.copy()) for name, tensor in self._state_items())

    def _state_items(self):
        seen = set()
        for module_name, module in self.named_modules():
            prefix = f"{module_name}." if module_name else ""
            for key, param in module._parameters.items():
                if id(param) not in seen:
                    seen.add(id(param))
                    yield prefix + key, param
            for key, buffer in module._buffers.items():
                if buffer is not None and key not in module._non_persistent:
                    yield prefix + key, buffer

    def load_state_dict(self, state_dict, strict: bool = True) -> IncompatibleKeys:
        """Copy arrays from `state_dict` into the parameters, in place (dtype kept, shapes checked).

        With `strict`, missing and unexpected keys are an error; without, they are returned.
        """
        params = dict(self._state_items())
        missing = [key for key in params if key not in state_dict]
        unexpected = [key for key in state_dict if key not in params]
        if strict and (missing or unexpected):
            raise KeyError(
                f"load_state_dict: missing keys {missing}, unexpected keys {unexpected} "
                f"(the model has {list(params)})"
            )
        for key, param in params.items():
            if key not in state_dict:
                continue
            value = np.asarray(getattr(state_dict[key], "data", state_dict[key]))
            if value.shape != param.shape:
                raise ValueError(
                    f"load_state_dict: {key} has shape {value.shape} in the state dict, "
                    f"but the model's parameter has shape {param.shape}"
                )
            if value.dtype.kind not in "fiub":
                raise TypeError(f"load_state_dict: {key} holds {value.dtype}, not numbers")
            param.data[...] = value
        return IncompatibleKeys(missing, unexpected)

    # ----- printing
    def extra_repr(self) -> str:
        return ""

    def __repr__(self) -> str:
        lines = [f"({name}): " + repr(child).replace("\n", "\n  ") for name, child in self._modules.items()]
        head = f"{type(self).__name__}({self.extra_repr()}"
        if not lines:
            return head + ")"
        return head + "\n  " + "\n  ".join(lines) + "\n)"
