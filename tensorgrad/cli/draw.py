"""Draw the graph of one training step of the Fashion-MNIST MLP (784-196-64-10) or CNN to an image file.

tensorgrad draw --out graph.svg           # or .png, .pdf, .dot
tensorgrad draw --out graph.png --rankdir LR --grad-norm
tensorgrad draw --model cnn --out cnn.png # each layer's ops in a box named after it, "0: Conv2d"
tensorgrad draw --second-order --out docs/second_order_graph.png
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

import tensorgrad as tg
from tensorgrad.cli import argtypes as types
from tensorgrad.files import write_bytes_atomically
from tensorgrad.models import MLP
from tensorgrad.optional import require
from tensorgrad.viz import draw_graph, module_scopes

FORMATS = ("svg", "png", "pdf", "dot")


def mlp_training_step_graph(batch_size: int = 32, l2: float = 1e-4, seed: int = 0):
    """One training step of the paper's MLP on a random batch, after `backward(retain_graph=True)`.

    Returns `(loss, params)`: the loss tensor, whose graph is kept, and the parameters by name.
    """
    model = MLP(rng=seed)
    rng = np.random.default_rng(seed)
    images = tg.tensor(rng.random((batch_size, 784), dtype=np.float32), name="images")
    labels = tg.tensor(rng.integers(0, 10, batch_size), name="labels")
    loss = model.loss(images, labels, l2=l2)
    loss.backward(retain_graph=True)
    return loss, dict(model.named_parameters())


def cnn_training_step_graph(batch_size: int = 8, l2: float = 1e-4, seed: int = 0):
    """One training step of the CNN (tensorgrad.models.cnn) on a random batch of flat rows, recorded inside
    `module_scopes`, after `backward(retain_graph=True)`.

    Returns `(loss, params, scopes)`: the loss tensor, the parameters by name, and which layer recorded
    each op (for `draw_graph(..., scopes=scopes)`).
    """
    from tensorgrad.models.cnn import CNN

    model = CNN(rng=seed)
    rng = np.random.default_rng(seed)
    images = tg.tensor(rng.random((batch_size, 784), dtype=np.float32), name="images")
    labels = tg.tensor(rng.integers(0, 10, batch_size), name="labels")
    with module_scopes(model) as scopes:
        loss = model.loss(images, labels, l2=l2)
    loss.backward(retain_graph=True)
    return loss, dict(model.named_parameters()), scopes


def second_order_graph(seed: int = 0):
    """A gradient penalty on one tanh layer: ||d loss / d W||^2, whose graph holds the backward's own ops.

    Returns `(penalty, params)`: the penalty tensor (its graph has the forward ops and, recorded by
    `autograd.grad(create_graph=True)`, the ops of the gradient) and the parameters by name.
    """
    rng = np.random.default_rng(seed)
    weight = tg.tensor(rng.standard_normal((3, 2)), requires_grad=True)
    inputs = tg.tensor(rng.standard_normal((4, 3)), name="inputs")
    loss = (inputs @ weight).tanh().sum()
    (grad_weight,) = tg.autograd.grad(loss, [weight], create_graph=True)
    grad_weight.name = "d loss / d W"
    penalty = (grad_weight * grad_weight).sum()
    return penalty, {"W": weight}


def main(argv=None, prog: str = "tensorgrad draw") -> int:
    """Run `tensorgrad draw` with `argv` (default: the command line); returns the exit code."""
    parser = argparse.ArgumentParser(prog=prog, description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("graph.svg"), help="output file; format from suffix")
    parser.add_argument("--rankdir", choices=("TB", "LR", "BT", "RL"), default="TB", help="layout direction")
    parser.add_argument("--grad-norm", action="store_true", help="show the L2 norm of each gradient")
    parser.add_argument(
        "--model", choices=("mlp", "cnn"), default="mlp", help="the model whose training step to draw"
    )
    parser.add_argument("--batch-size", type=types.positive_int, default=32)
    parser.add_argument("--seed", type=types.nonnegative_int, default=0)
    parser.add_argument(
        "--second-order",
        action="store_true",
        help="draw a gradient penalty (a graph through a backward) instead",
    )
    args = parser.parse_args(argv)

    fmt = args.out.suffix.lstrip(".").lower()
    if fmt not in FORMATS:
        parser.error(f"--out must end in one of {', '.join('.' + f for f in FORMATS)}, not {args.out.name!r}")

    if args.out.is_dir():
        parser.error(f"--out {args.out} is a folder; name the file to write")

    def work() -> int:
        require("graphviz", "drawing the graph")
        scopes = None
        if args.second_order:
            loss, params = second_order_graph(seed=args.seed)
        elif args.model == "cnn":
            loss, params, scopes = cnn_training_step_graph(batch_size=args.batch_size, seed=args.seed)
        else:
            loss, params = mlp_training_step_graph(batch_size=args.batch_size, seed=args.seed)
        graph = draw_graph(loss, params, show_grad_norm=args.grad_norm, rankdir=args.rankdir, scopes=scopes)
        data = graph.source.encode() if fmt == "dot" else graph.pipe(format=fmt)
        args.out.parent.mkdir(parents=True, exist_ok=True)
        write_bytes_atomically(args.out, data)
        print(args.out)
        return 0

    return types.run_command(parser.prog, work)


if __name__ == "__main__":
    sys.exit(main())
