"""`tensorgrad-train`: train a Fashion-MNIST model and write a run folder (see `tensorgrad.training.run`)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..training import MODELS, PRESETS, TrainConfig, config_for, resume_run, train_run
from ..training.builders import CROP_PADDING
from ..training.config import (
    ACTIVATIONS,
    AUGMENTATIONS,
    DEFAULT_LR,
    LR_SCHEDULES,
    MONITORS,
    NAN_POLICIES,
    OPTIMIZERS,
    settings_over,
)
from . import argtypes as types

EXAMPLES = """\
examples:
  tensorgrad-train                                  # the defaults: 784-196-64-10, Adam, cosine decay, averaged weights
  tensorgrad-train --preset paper                   # the paper's settings
  tensorgrad-train --preset paper --l2 0 --seed 3   # the paper's settings, except for these
  tensorgrad-train --optimizer momentum --lr 0.05 --out runs/momentum
  tensorgrad-train --model cnn --channels 16 32 --augment crop,flip --ema 0.999
  tensorgrad-train --resume runs/20250101-120000    # continue an interrupted run exactly

The run folder (new or empty) gets config.json, metrics.jsonl, results.json, best.npz, last.npz, curves.png,
confusion.png and graph.svg. Exit codes: 0 done, 1 error or non-finite loss, 2 bad flags, 130 interrupted
(the message says what was kept and how to resume), 141 standard output closed.
"""

#: flags that may accompany --resume: where the data lives and how many threads work are not part of the run
RESUME_FLAGS = {"data_dir", "download", "threads"}
#: the flags of each model's options, by model (each is refused with another --model)
MODEL_FLAGS = {
    "mlp": ("hidden", "activation", "keep_prob", "standardize"),
    "cnn": ("cnn_channels", "cnn_hidden", "cnn_dropout"),
}
#: the settings whose flag takes 0 for "off" (the setting None)
OFF_AT_ZERO = ("patience", "ema_decay", "standardize")
#: `--augment` presets: a name standing for a list
AUGMENT_PRESETS = {"none": (), "all": AUGMENTATIONS}


def build_parser(prog: str = "tensorgrad-train") -> argparse.ArgumentParser:
    defaults = TrainConfig()
    # SUPPRESS: the namespace then holds only the flags given, which is what lets them override a preset.
    parser = argparse.ArgumentParser(
        prog=prog,
        description="Train a Fashion-MNIST model (the paper's MLP, or a small convnet) with tensorgrad and "
        "write a run folder.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        argument_default=argparse.SUPPRESS,
    )
    presets = "; ".join(
        f"{name}: " + ", ".join(_as_flag(key, value) for key, value in settings.items())
        for name, settings in PRESETS.items()
    )
    parser.add_argument(
        "--preset",
        choices=sorted(PRESETS),
        help=f"start from a documented set of settings; flags given explicitly override it ({presets})",
    )

    model = parser.add_argument_group("model")
    model.add_argument(
        "--model",
        choices=tuple(MODELS),
        help="; ".join(f"{name}: {entry.summary}{_own_defaults(entry)}" for name, entry in MODELS.items())
        + f" (default: {defaults.model})",
    )
    model.add_argument(
        "--hidden",
        type=types.positive_int,
        nargs="+",
        metavar="WIDTH",
        help=f"hidden layer widths (default: {' '.join(map(str, defaults.hidden))})",
    )
    model.add_argument("--activation", choices=ACTIVATIONS, help=f"(default: {defaults.activation})")
    model.add_argument(
        "--keep-prob",
        type=types.keep_probability,
        help=f"dropout keep probability after each hidden layer, in (0, 1]; 1 = no dropout "
        f"(default: {defaults.keep_prob})",
    )
    model.add_argument(
        "--input-gamma",
        type=types.positive_float,
        metavar="G",
        help="raise each input pixel (in [0, 1]) to this power first, in either model: below 1 spreads out "
        f"the dark greys; 1 = as they are (default: {_show(defaults.input_gamma)})",
    )
    model.add_argument(
        "--standardize",
        type=types.nonnegative_float,
        metavar="FLOOR",
        help="then (mlp) standardize each input pixel by the training images: subtract its mean, divide by its standard "
        "deviation plus FLOOR (which keeps the nearly constant border pixels from being scaled up); 0 = do not "
        f"standardize (default: {_show(defaults.standardize) if defaults.standardize else 0})",
    )
    cnn = parser.add_argument_group("model cnn")
    cnn.add_argument(
        "--channels",
        dest="cnn_channels",
        type=types.positive_int,
        nargs="+",
        metavar="C",
        help="output channels of the conv blocks, each pooling while the image side is even "
        f"(28, 14, then 7x7) (default: {' '.join(map(str, defaults.cnn.channels))})",
    )
    cnn.add_argument(
        "--cnn-hidden",
        type=types.positive_int,
        metavar="WIDTH",
        help=f"width of the dense layer after the conv blocks (default: {defaults.cnn.hidden})",
    )
    cnn.add_argument(
        "--cnn-dropout",
        type=types.unit_interval_open_right,
        metavar="P",
        help=f"drop probability before the output layer, in [0, 1) (default: {defaults.cnn.dropout})",
    )

    training = parser.add_argument_group("optimization")
    training.add_argument("--optimizer", choices=OPTIMIZERS, help=f"(default: {defaults.optimizer})")
    lr_defaults = ", ".join(f"{name} {lr:g}" for name, lr in DEFAULT_LR.items())
    training.add_argument("--lr", type=types.positive_float, help=f"learning rate (default: {lr_defaults})")
    training.add_argument(
        "--momentum",
        type=types.unit_interval_open_right,
        help=f"beta of --optimizer momentum (default: {defaults.momentum})",
    )
    training.add_argument(
        "--schedule",
        "--lr-schedule",
        dest="lr_schedule",
        choices=LR_SCHEDULES,
        help="the learning rate over the epochs: cosine decay from --lr towards 0, onecycle (up to --lr and "
        "down), step (divided by 10 at each third), or constant "
        f"(default: {defaults.lr_schedule})",
    )
    training.add_argument(
        "--warmup-epochs",
        type=types.nonnegative_int,
        metavar="N",
        help="raise the rate linearly over the first N epochs, then follow --schedule "
        f"(default: {defaults.warmup_epochs})",
    )
    training.add_argument("--batch-size", type=types.positive_int, help=f"(default: {defaults.batch_size})")
    training.add_argument(
        "--epochs", type=types.positive_int, help=f"at most this many (default: {defaults.epochs})"
    )
    training.add_argument(
        "--l2",
        type=types.nonnegative_float,
        help=f"lambda of the L2 term lambda/(2 m) * sum ||W||^2, m the batch size (default: {defaults.l2:g})",
    )
    training.add_argument(
        "--clip-grad-norm",
        type=types.positive_float,
        metavar="MAX_NORM",
        help="clip the joint gradient norm to this (default: no clipping)",
    )
    training.add_argument(
        "--augment",
        type=augment_list,
        metavar="LIST",
        help="augment the training batches: a comma-separated list of crop (shift by up to "
        f"{CROP_PADDING} pixels: pad, then crop 28x28 at random), flip (mirror left-right, p 0.5), erase "
        "(random erasing, p 0.5); or none, or all "
        f"(default: {','.join(defaults.augment) or 'none'})",
    )
    training.add_argument(
        "--label-smoothing",
        type=types.unit_interval_open_right,
        metavar="EPS",
        help=f"cross-entropy's label smoothing, in [0, 1) (default: {defaults.label_smoothing:g})",
    )
    training.add_argument(
        "--ema",
        dest="ema_decay",
        type=types.unit_interval_open_right,
        metavar="DECAY",
        help="evaluate, keep and test an exponential moving average of the weights, updated after each step "
        "with this decay (e.g. 0.999); 0 = off "
        f"(default: {'off' if defaults.ema_decay is None else defaults.ema_decay})",
    )
    training.add_argument(
        "--on-nan",
        choices=NAN_POLICIES,
        help="on a NaN/inf loss or gradient: stop the run, or skip that step's update "
        f"(default: {defaults.on_nan})",
    )

    stopping = parser.add_argument_group("early stopping and validation")
    stopping.add_argument(
        "--patience",
        type=types.nonnegative_int,
        help=f"stop after this many epochs without improvement; 0 = never "
        f"(default: {defaults.patience}); the best epoch's weights are restored",
    )
    stopping.add_argument(
        "--monitor",
        choices=MONITORS,
        help=f"what early stopping watches; last: keep the last epoch's weights, the end of the schedule "
        f"(default: {defaults.monitor})",
    )
    stopping.add_argument(
        "--val-size",
        type=types.positive_int,
        help=f"validation examples held out of the 60,000 training examples (default: {defaults.val_size})",
    )

    data = parser.add_argument_group("data and reproducibility")
    data.add_argument(
        "--seed",
        type=types.nonnegative_int,
        help=f"seeds the split, batch order, initialization and dropout (default: {defaults.seed})",
    )
    types.add_data_arguments(data)
    data.add_argument(
        "--max-train-examples",
        type=types.positive_int,
        metavar="N",
        help="train on the first N training examples only (quick tests)",
    )

    data.add_argument(
        "--threads",
        type=types.positive_int,
        metavar="N",
        help="run tensorgrad's convolution, pooling and batch-norm kernels on N threads, BLAS on one "
        "meanwhile (default: one per core for --model cnn; for mlp 1, BLAS on its own threads)",
    )

    run = parser.add_argument_group("run folder")
    run.add_argument(
        "--out",
        type=types.run_folder,
        metavar="DIR",
        help="the run folder, new or empty (default: runs/<date>-<time>)",
    )
    run.add_argument(
        "--resume",
        type=types.run_folder,
        metavar="RUN_DIR",
        help="continue the run in RUN_DIR from its last.npz, with its own settings",
    )
    run.add_argument(
        "--no-progress",
        dest="progress",
        action="store_false",
        help="no progress bar (it is shown only on a terminal anyway)",
    )
    return parser


def augment_list(text: str) -> tuple[str, ...]:
    """`--augment`: names from `AUGMENTATIONS`, comma-separated, or a preset of `AUGMENT_PRESETS`."""
    if text.strip() in AUGMENT_PRESETS:
        return AUGMENT_PRESETS[text.strip()]
    names = tuple(name.strip() for name in text.split(","))
    unknown = [name for name in names if name not in AUGMENTATIONS]
    if unknown:
        raise argparse.ArgumentTypeError(
            f"unknown augmentation {unknown[0]!r}: choose from {', '.join(AUGMENTATIONS)} "
            f"(comma-separated), or {' or '.join(AUGMENT_PRESETS)}"
        )
    if len(set(names)) != len(names):
        raise argparse.ArgumentTypeError(f"names an augmentation twice: {text}")
    return names


def config_from_flags(flags: dict) -> TrainConfig:
    """The `TrainConfig` of the given flags over their preset over the defaults (raises ValueError).

    A flag of one model's options with another `--model` is a ValueError naming both.
    """
    flags = dict(flags)
    preset = PRESETS[flags.pop("preset")] if "preset" in flags else {}
    model = flags.get("model", preset.get("model", TrainConfig.model))
    for owner, names in MODEL_FLAGS.items():
        given = [name for name in names if name in flags]
        if given and owner != model:
            raise ValueError(f"{_flag(given[0])} is an option of --model {owner}, not of --model {model}")
    cnn = {name[len("cnn_") :]: flags.pop(name) for name in MODEL_FLAGS["cnn"] if name in flags}
    settings = settings_over(preset, flags)
    if cnn:
        settings["cnn"] = {**TrainConfig().cnn.to_dict(), **settings.get("cnn", {}), **cnn}
    for name in OFF_AT_ZERO:
        if settings.get(name) == 0:
            settings[name] = None
    settings.pop("model", None)
    return config_for(model, **settings)  # the model's own defaults under the preset and the flags


#: the flags whose name is not the setting's with "-" for "_"
_FLAG_NAMES = {
    "cnn_channels": "channels",
    "lr_schedule": "schedule",
    "ema_decay": "ema",
    "download": "no-download",
    "progress": "no-progress",
}


def _flag(name: str) -> str:
    """The flag that gives the setting `name`: "batch_size" -> "--batch-size", "ema_decay" -> "--ema"."""
    return "--" + _FLAG_NAMES.get(name, name.replace("_", "-"))


def main(argv=None, prog: str = "tensorgrad-train") -> int:
    """Run `tensorgrad-train` with `argv` (default: the command line); returns the exit code."""
    parser = build_parser(prog)
    flags = vars(parser.parse_args(argv))
    out, resume, progress = flags.pop("out", None), flags.pop("resume", None), flags.pop("progress", None)
    log = _print_flushed
    if resume is not None:
        extra = sorted(set(flags) - RESUME_FLAGS) + (["out"] if out is not None else [])
        if extra:
            given = ", ".join(_flag(name) for name in extra)
            parser.error(f"--resume continues a run with the settings saved in it; it cannot take {given}")

        def work() -> int:
            outcome = resume_run(
                Path(resume),
                data_dir=flags.get("data_dir"),
                download=flags.get("download"),
                threads=flags.get("threads"),
                log=log,
                progress=progress,
            )
            return outcome.exit_code
    else:
        try:
            config = config_from_flags(flags)
        except ValueError as error:
            parser.error(str(error))

        def work() -> int:
            return train_run(config, None if out is None else Path(out), log=log, progress=progress).exit_code

    return types.run_command(parser.prog, work, data_dir=flags.get("data_dir"))


def _own_defaults(entry) -> str:
    """How a model's own defaults read in --help: the flags of its recipe, over the generic defaults."""
    if not entry.defaults:
        return ""
    others = {name for owner, names in MODEL_FLAGS.items() if MODELS[owner] is not entry for name in names}
    shown = ", ".join(_as_flag(key, value) for key, value in entry.defaults.items() if key not in others)
    return f", which starts from {shown}"


def _as_flag(key: str, value) -> str:
    """A setting of `TrainConfig` as the flag that gives it: ("batch_size", 64) -> "--batch-size 64"."""
    if key == "augment":
        return f"{_flag(key)} {','.join(value) or 'none'}"
    if key in OFF_AT_ZERO and value is None:
        return f"{_flag(key)} 0"  # the flag's "off"
    return f"{_flag(key)} {_show(value)}"


def _show(value) -> str:
    """A preset's value as it would be typed on the command line."""
    if isinstance(value, (tuple, list)):
        return " ".join(map(str, value))
    return f"{value:g}" if isinstance(value, float) else str(value)


def _print_flushed(line: str) -> None:
    print(line, flush=True)


if __name__ == "__main__":
    sys.exit(main())
