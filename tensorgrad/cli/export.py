"""`tensorgrad-export`: write a trained checkpoint as an ONNX model (see `tensorgrad.onnx.export`).

The ONNX model takes what the tensorgrad model takes: float32 images with pixels scaled to [0, 1]
(uint8 / 255), flattened to (N, 784) for the MLP and as (N, 1, 28, 28) for the CNN, and returns the
logits (N, 10). Its inputs and outputs are named "input" and "logits";
the batch size N is free unless --static-batch. Needs the onnx package: pip install tensorgrad[onnx].
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from ..onnx import DEFAULT_OPSET, ExportError, export
from ..optional import MissingDependencyError
from ..training import load_trained_model
from ..training.models import IMAGE_SHAPE
from . import argtypes as types


def build_parser(prog: str = "tensorgrad-export") -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=prog,
        description="Export a checkpoint (or a run folder's best.npz) to an ONNX model file.",
        epilog=__doc__.split("\n\n", 1)[1],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    types.add_checkpoint_argument(parser)
    parser.add_argument("output", type=Path, metavar="OUTPUT.onnx", help="the ONNX file to write")
    parser.add_argument(
        "--opset",
        type=types.positive_int,
        default=DEFAULT_OPSET,
        help=f"the ONNX opset to target (default: {DEFAULT_OPSET})",
    )
    parser.add_argument(
        "--static-batch",
        dest="dynamic_batch",
        action="store_false",
        help="fix the batch size at 1 instead of leaving it free",
    )
    return parser


def main(argv=None, prog: str = "tensorgrad-export") -> int:
    """Run `tensorgrad-export` with `argv` (default: the command line); returns the exit code."""
    parser = build_parser(prog)
    args = parser.parse_args(argv)
    try:
        model, config, checkpoint_path, epoch = load_trained_model(args.checkpoint)
        example = np.zeros((1, *getattr(model, "input_shape", IMAGE_SHAPE)), dtype=np.float32)
        args.output.parent.mkdir(parents=True, exist_ok=True)
        export(model, example, args.output, dynamic_batch=args.dynamic_batch, opset=args.opset)
    except (*types.USER_ERRORS, ExportError, MissingDependencyError) as error:
        return types.report_error(error, parser.prog)
    described = "MLP " + "-".join(map(str, config.sizes)) if config.model == "mlp" else config.model.upper()
    print(f"{args.output}: {described} from {checkpoint_path} (epoch {epoch}), ONNX opset {args.opset}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
