"""`Module`: the base of layers and models. Parameters and sub-modules register by attribute assignment."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator
from typing import NamedTuple

import numpy as np

from .parameter import Parameter


class IncompatibleKeys(NamedTuple):
    missing_keys: list
    unexpected_keys: list


class Module:
    """Base class of every layer and model, as PyTorch's ``nn.Module``.

    Assigning a `Parameter` or a `Module` to an attribute registers it; `parameters()`, `state_dict()`,
    `train()`/`eval()` and `zero_grad()` then reach everything below. Subclasses define `forward`.
    """

    def __init__(self):
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_modules", OrderedDict())
        object.__setattr__(self, "training", True)

    def __setattr__(self, name: str, value) -> None:
        registry = self.__dict__.get("_parameters")
        if registry is None:
            raise AttributeError(
                f"cannot assign {name!r} before Module.__init__() ran; call super().__init__() first"
            )
        self._parameters.pop(name, None)
        self._modules.pop(name, None)
        if isinstance(value, Parameter):
            self._parameters[name] = value
        elif isinstance(value, Module):
            self._modules[name] = value
        object.__setattr__(self, name, value)

    def __delattr__(self, name: str) -> None:
        self._parameters.pop(name, None)
        self._modules.pop(name, None)
        object.__delattr__(self, name)

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
        """{dotted name: ndarray copy} of every parameter, with PyTorch's key names."""
        return OrderedDict((name, param.data.copy()) for name, param in self.named_parameters())

    def load_state_dict(self, state_dict, strict: bool = True) -> IncompatibleKeys:
        """Copy arrays from `state_dict` into the parameters, in place (dtype kept, shapes checked).

        With `strict`, missing and unexpected keys are an error; without, they are returned.
        """
        params = dict(self.named_parameters())
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
            if value.dtype.kind not in "fiu":
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
