"""`einsum` over any subscripts: repeated indices (diagonals, traces), summed indices, `...` and broadcasting.

The gradient of an operand is itself one einsum: the output's gradient and the other operands contracted
to the operand's subscripts. An index the operand repeats ("ii") gets a fresh letter per repetition and an
identity matrix tying it to the first, which puts the gradient on the diagonal; an index only that operand
has (summed away in the forward) gets a vector of ones, which broadcasts the gradient along it.
"""

from __future__ import annotations

import string

import numpy as np

from ..autograd.engine import apply
from .base import Op
from .generic import broadcast_to, einsum
from .registry import as_input, register

_LETTERS = string.ascii_letters


def parse(subscripts: str, shapes: list) -> tuple:
    """`subscripts` as (a list of index strings per operand, the output's string), "..." and the implicit
    output spelled out, as NumPy and PyTorch read them."""
    spec = subscripts.replace(" ", "")
    inputs_text, arrow, output = spec.partition("->")
    inputs = inputs_text.split(",")
    if len(inputs) != len(shapes):
        raise ValueError(
            f"einsum(): subscripts {subscripts!r} name {len(inputs)} operands, got {len(shapes)}"
        )
    used = set(spec) - set(".,->")
    for letter in used:
        if letter not in _LETTERS:
            raise ValueError(f"einsum(): subscripts may only use letters, got {letter!r} in {subscripts!r}")
    spare = [c for c in _LETTERS if c not in used]
    ellipsis_rank = 0
    for term, shape in zip(inputs, shapes):
        letters = len(term.replace("...", ""))
        if "..." in term:
            ellipsis_rank = max(ellipsis_rank, len(shape) - letters)
        elif letters != len(shape):
            raise ValueError(
                f"einsum(): subscript {term!r} has {letters} indices for an operand of shape {shape}"
            )
    broadcast = "".join(spare[:ellipsis_rank])
    terms = []
    for term, shape in zip(inputs, shapes):
        if "..." in term:
            rank = len(shape) - len(term.replace("...", ""))
            term = term.replace("...", broadcast[ellipsis_rank - rank :] if rank else "")
        terms.append(term)
    if arrow:
        output = output.replace("...", broadcast)
    else:  # implicit: the broadcast axes, then the indices seen once, in alphabetical order
        counts = {}
        for term in terms:
            for letter in term:
                counts[letter] = counts.get(letter, 0) + 1
        named = sorted((c for c, n in counts.items() if n == 1 and c not in broadcast), key=_LETTERS.index)
        output = broadcast + "".join(named)
    for letter in output:
        if not any(letter in term for term in terms):
            raise ValueError(f"einsum(): output index {letter!r} appears in no operand of {subscripts!r}")
    return terms, output


@register("einsum", method=False)
class Einsum(Op):
    """Sum of products of the operands' elements over the indices the subscripts name, as `torch.einsum`:
    `tg.einsum("ij,jk->ik", a, b)`, `tg.einsum("ii", a)` (trace), `tg.einsum("...ij->...ji", [a])`."""

    __slots__ = ("output", "sizes", "terms")
    name = "einsum"
    arity = None

    def __init__(self, terms, output, sizes):
        self.terms = terms
        self.output = output
        self.sizes = sizes  # index -> its length (the largest where size-1 axes broadcast)

    @classmethod
    def call(cls, subscripts: str, *operands):
        if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
            operands = tuple(operands[0])
        if not operands:
            raise ValueError("einsum(): needs at least one operand")
        operands = [as_input(t, "einsum") for t in operands]
        terms, output = parse(subscripts, [t.shape for t in operands])
        sizes = {}
        for term, t in zip(terms, operands):
            for letter, size in zip(term, t.shape):
                known = sizes.get(letter, 1)
                if size != 1 and known not in (1, size):
                    shapes = ", ".join(str(o.shape) for o in operands)
                    raise ValueError(
                        f"einsum(): index {letter!r} has sizes {known} and {size} in {subscripts!r} for {shapes}"
                    )
                sizes[letter] = max(known, size)
        return apply(cls(terms, output, sizes), *operands)

    def forward(self, *arrays):
        spec = ",".join(self.terms) + "->" + self.output
        return np.einsum(spec, *arrays, optimize=len(arrays) > 2)

    def backward(self, grad, *inputs, out):
        grads = []
        for k, need in enumerate(self.needs_grad):
            grads.append(self.operand_gradient(k, grad, inputs) if need else None)
        return tuple(grads)

    def operand_gradient(self, k: int, grad, inputs):
        term = self.terms[k]
        dtype = inputs[k].dtype
        spare = iter(c for c in _LETTERS if c not in self.sizes)
        target, extra_terms, extra_operands = [], [], []
        seen = set()
        for letter in term:
            if letter in seen:  # a repeated index: a new letter, tied to the first by an identity matrix
                fresh = next(spare)
                target.append(fresh)
                extra_terms.append(letter + fresh)
                extra_operands.append(np.eye(self.sizes[letter], dtype=dtype))
                continue
            seen.add(letter)
            target.append(letter)
        others = [t for i, t in enumerate(self.terms) if i != k]
        for letter in seen:
            if letter not in self.output and not any(letter in t for t in others):
                extra_terms.append(letter)  # summed only in this operand: the gradient is constant along it
                extra_operands.append(np.ones(self.sizes[letter], dtype=dtype))
        spec = ",".join([self.output, *others, *extra_terms]) + "->" + "".join(target)
        operands = [grad, *[x for i, x in enumerate(inputs) if i != k], *extra_operands]
        result = einsum(spec, *operands)
        # where this operand is longer than the others' size-1 axis it met, the gradient is constant along it
        # (the engine then sums the opposite case, an axis of size 1 here that the others broadcast)
        full = np.broadcast_shapes(result.shape, inputs[k].shape)
        return result if full == result.shape else broadcast_to(result, full)

    def describe(self):
        return f"einsum({','.join(self.terms)}->{self.output})"
