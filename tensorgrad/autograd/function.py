"""Custom differentiable functions, as `torch.autograd.Function`: a forward and a backward of your own."""

from __future__ import annotations

import numpy as np

from ..grad_mode import _GradMode, no_grad
from ..ops.base import Op
from ..ops.generic import index_add
from ..tensor import Tensor, _make
from .engine import apply


class FunctionCtx:
    """What `forward` hands to `backward`: saved tensors, which inputs need a gradient, and so on."""

    def __init__(self, needs_input_grad: tuple):
        self.needs_input_grad = needs_input_grad
        self._saved = ()
        self._non_differentiable = set()
        self._outputs = {}  # id of a raw forward output -> the recorded tensor that stands for it

    def save_for_backward(self, *tensors) -> None:
        """Keep tensors (inputs or outputs of forward, or None) for backward; read them as `saved_tensors`."""
        for tensor in tensors:
            if tensor is not None and not isinstance(tensor, Tensor):
                raise TypeError(f"save_for_backward() takes Tensors or None, not {type(tensor).__name__}")
        self._saved = tensors

    @property
    def saved_tensors(self) -> tuple:
        # an output of forward is read back as the recorded output, so a double backward reaches the graph
        return tuple(self._outputs.get(id(t), t) if t is not None else None for t in self._saved)

    def mark_non_differentiable(self, *outputs) -> None:
        """Outputs that get no gradient (indices, masks): they come back with requires_grad=False."""
        self._non_differentiable.update(id(t) for t in outputs)


class Function:
    """Subclass with static `forward(ctx, *args)` and `backward(ctx, *grads)`, then call `apply`.

    `forward` receives the arguments as given (Tensors and anything else) and runs without recording.
    `backward` receives one gradient per output of forward and returns one per argument of forward (None for
    non-Tensors or where no gradient is needed). Written with Tensor operations, it can be differentiated
    again (`backward(create_graph=True)`, `tg.gradgradcheck`).

    >>> class Cube(tg.autograd.Function):
    ...     @staticmethod
    ...     def forward(ctx, x):
    ...         ctx.save_for_backward(x)
    ...         return x**3
    ...     @staticmethod
    ...     def backward(ctx, grad):
    ...         (x,) = ctx.saved_tensors
    ...         return grad * 3 * x**2
    >>> y = Cube.apply(x)
    """

    @staticmethod
    def forward(ctx, *args):
        raise NotImplementedError("a Function must define forward(ctx, *args)")

    @staticmethod
    def backward(ctx, *grads):
        raise NotImplementedError("a Function must define backward(ctx, *grads) to be differentiated")

    @classmethod
    def apply(cls, *args):
        needs = tuple(isinstance(a, Tensor) and a.requires_grad for a in args)
        ctx = FunctionCtx(needs)
        with no_grad():
            result = cls.forward(ctx, *args)
        single = not isinstance(result, tuple)
        outputs = (result,) if single else result
        for output in outputs:
            if not isinstance(output, Tensor):
                raise TypeError(f"{cls.__name__}.forward must return Tensors, got {type(output).__name__}")
        inputs = tuple(a for a in args if isinstance(a, Tensor))
        differentiable = [
            o for o in outputs if id(o) not in ctx._non_differentiable and o.data.dtype.kind in "fc"
        ]
        if not (_GradMode.enabled and any(needs) and differentiable):
            return result
        node = FunctionNode(cls, ctx, args, differentiable, outputs)
        recorded = {}
        if len(differentiable) == 1:
            recorded[id(differentiable[0])] = apply(node, *inputs)
        else:  # one node, its outputs packed end to end; a small node per output picks its part out
            packed = apply(node, *inputs)
            start = 0
            for output in differentiable:
                stop = start + output.data.size
                recorded[id(output)] = apply(
                    PickOutput(slice(start, stop), output.shape, output.dtype), packed
                )
                start = stop
        final = []
        for output in outputs:
            tensor = recorded.get(id(output))  # (not `or`: a Tensor's truth is its value's)
            final.append(_make(output.data) if tensor is None else tensor)
            ctx._outputs[id(output)] = final[-1]
        return final[0] if single else tuple(final)


class FunctionNode(Op):
    """The node a custom Function records: it calls the Function's backward with Tensors."""

    __slots__ = (
        "ctx",
        "function",
        "n_args",
        "no_gradient",
        "output_dtypes",
        "output_shapes",
        "result",
        "tensor_positions",
    )

    def __init__(self, function, ctx, args, outputs, all_outputs):
        self.function = function
        self.ctx = ctx
        self.n_args = len(args)
        self.tensor_positions = {i for i, a in enumerate(args) if isinstance(a, Tensor)}
        self.output_shapes = [o.shape for o in outputs]
        self.output_dtypes = [o.dtype for o in outputs]
        # backward takes a gradient for every output of forward, as in torch: a zero one (shape, dtype) for
        # those that get none (marked non-differentiable, or integer); None when every output gets one
        recorded = {id(o) for o in outputs}
        self.no_gradient = None
        if len(recorded) != len(all_outputs):
            self.no_gradient = [None if id(o) in recorded else (o.shape, o.dtype) for o in all_outputs]
        # what forward already computed: the output, or all of them packed end to end
        if len(outputs) == 1:
            self.result = outputs[0].data
        else:
            dtype = np.result_type(*[o.data for o in outputs])
            self.result = np.concatenate([o.data.astype(dtype, copy=False).reshape(-1) for o in outputs])

    @property
    def name(self):
        return self.function.__name__

    def forward(self, *arrays):
        result, self.result = self.result, None
        return result

    def backward(self, grad, *inputs, out):
        recording = isinstance(grad, Tensor)
        grads = grad if recording else _make(grad)
        if len(self.output_shapes) > 1:  # unpack the packed gradient, one tensor per output
            flat, start, parts = grads, 0, []
            for shape, dtype in zip(self.output_shapes, self.output_dtypes):
                stop = start + int(np.prod(shape, dtype=np.int64))
                parts.append(flat[start:stop].reshape(shape).to(dtype))
                start = stop
            grads = tuple(parts)
        else:
            grads = (grads,)
        if self.no_gradient is not None:
            given = iter(grads)
            grads = tuple(
                next(given) if slot is None else _make(np.zeros(*slot)) for slot in self.no_gradient
            )
        if recording:
            results = self.function.backward(self.ctx, *grads)
        else:
            with no_grad():
                results = self.function.backward(self.ctx, *grads)
        results = results if isinstance(results, tuple) else (results,)
        if len(results) != self.n_args:
            raise RuntimeError(
                f"{self.name}.backward returned {len(results)} gradients, but forward took {self.n_args} arguments"
            )
        tensor_grads = []
        for position, value in enumerate(results):
            if position not in self.tensor_positions:
                continue
            if value is None or recording:
                tensor_grads.append(value)
            else:
                # a view: the engine never adopts or overwrites it in place, whatever the Function kept of it
                tensor_grads.append((value.data if isinstance(value, Tensor) else np.asarray(value)).view())
        return tuple(tensor_grads)

    def describe(self):
        return self.function.__name__


class PickOutput(Op):
    """One output of a custom Function with several: its part of the packed outputs, in its shape."""

    __slots__ = ("dtype", "part", "shape")
    name = "output"

    def __init__(self, part: slice, shape: tuple, dtype):
        self.part = part
        self.shape = shape
        self.dtype = dtype  # the packing promotes outputs of different dtypes to a common one: undo that

    def forward(self, packed):
        return packed[self.part].reshape(self.shape).astype(self.dtype, copy=False)

    def backward(self, grad, packed, out):
        return index_add(grad.reshape((-1,)), self.part, packed.shape)
