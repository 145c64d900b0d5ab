"""`tensorgrad-predict`: the Fashion-MNIST class of image files, from a saved checkpoint.

Images are read with Pillow (PNG, JPEG, TIFF, ...; 8- and 16-bit, floating-point) and made grayscale; one
that is not 28x28 is padded to a square with its edge colour and resized to 28x28. The model expects
Fashion-MNIST's polarity: a light item on a black background. Pass --invert for a dark item on a light
background (most photos and drawings); transparency becomes the black background. A note on stderr points
out an image that looks the wrong way round, or blank.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from ..data import FASHION_MNIST_CLASSES
from ..training import load_trained_model, predict, read_image
from ..training.inference import looks_inverted
from . import argtypes as types


def build_parser(prog: str = "tensorgrad-predict") -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=prog,
        description="Print the Fashion-MNIST class (and its probability) of image files, from a checkpoint.",
        epilog=__doc__.split("\n\n", 1)[1],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    types.add_checkpoint_argument(parser)
    parser.add_argument("images", type=Path, nargs="+", metavar="IMAGE", help="image files to classify")
    parser.add_argument(
        "--invert",
        action="store_true",
        help="invert the images first (for a dark item on a light background)",
    )
    parser.add_argument(
        "--top",
        type=types.positive_int,
        default=1,
        metavar="K",
        help="show the K most probable classes (default: 1)",
    )
    return parser


def main(argv=None, prog: str = "tensorgrad-predict") -> int:
    """Run `tensorgrad-predict` with `argv` (default: the command line); returns the exit code."""
    parser = build_parser(prog)
    args = parser.parse_args(argv)
    return types.run_command(parser.prog, lambda: _predict(args))


def _predict(args) -> int:
    model, _, _, _ = load_trained_model(args.checkpoint)
    loaded = [read_image(path, invert=args.invert) for path in args.images]
    images = np.stack([image.pixels for image in loaded])
    for path, image, prediction in zip(args.images, loaded, predict(model, images)):
        if args.top == 1:
            print(f"{path}: {prediction.class_name} ({prediction.probability:.1%})")
        else:
            ranked = np.argsort(prediction.probabilities)[::-1][: args.top]
            shown = ", ".join(
                f"{FASHION_MNIST_CLASSES[i]} ({prediction.probabilities[i]:.1%})" for i in ranked
            )
            print(f"{path}: {shown}")
        notes = list(image.notes)
        if not args.invert and looks_inverted(image.pixels):
            notes.append(
                f"{path} has a light border; the model expects a light item on black. "
                "If this is a dark item on a light background, pass --invert."
            )
        for note in notes:
            print(f"  note: {note}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
