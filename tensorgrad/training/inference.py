"""Using a trained checkpoint: rebuild its model, evaluate it on the test set, classify image files."""

from __future__ import annotations

import os
import struct
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .. import functional as F
from .. import parallel
from ..data import FASHION_MNIST_CLASSES, to_float32
from ..optional import require
from .builders import build_model, describe_source, load_dataset
from .checkpoint import CheckpointError, load_checkpoint, load_model_state
from .config import NUM_CLASSES, TrainConfig
from .loop import evaluate, inference, model_input
from .metrics import confusion_matrix, per_class_accuracy
from .models import IMAGE_SHAPE, kernel_threads

IMAGE_SIZE = (28, 28)
#: the largest image `read_image` decodes (a 24-megapixel photo is fine; a decompression bomb is not)
MAX_IMAGE_PIXELS = 25_000_000
# A mean border brightness above this (0-255) suggests a light background, the opposite of Fashion-MNIST.
_LIGHT_BORDER = 128
# An opaque part darker than this (0-1) on a transparent background is a dark item.
_DARK_ITEM = 0.3
# An image whose pixels all lie within this range (0-255) shows nothing.
_BLANK_RANGE = 8
_SIXTEEN_BIT_MODES = ("I;16", "I;16L", "I;16B", "I;16N", "I")


def resolve_checkpoint(path: str | os.PathLike[str]) -> Path:
    """`path` itself if it is a file; the `best.npz` inside it if it is a run folder."""
    path = Path(path)
    if path.is_dir():
        best = path / "best.npz"
        if not best.is_file():
            raise CheckpointError(best, "no such file: the run folder has no best checkpoint (yet)")
        return best
    return path


def load_trained_model(path: str | os.PathLike[str]):
    """The model stored in a checkpoint (or a run folder's `best.npz`), in eval mode.

    Returns `(model, config, checkpoint_path, epoch)`; the architecture comes from the checkpoint's config
    (any model of the registry; a run with an average of its weights stores the average in `best.npz`).
    """
    path = resolve_checkpoint(path)
    checkpoint = load_checkpoint(path)
    try:
        config = TrainConfig.from_dict(checkpoint.config)
    except (TypeError, ValueError) as error:
        raise CheckpointError(path, f"its config is not valid: {error}") from None
    model = build_model(config, rng=0)  # the initial weights are overwritten right away
    load_model_state(model, checkpoint.model_state, path)
    model.eval()
    return model, config, path, checkpoint.epoch


def evaluate_checkpoint(
    path: str | os.PathLike[str], *, data_dir: str | None = None, download: bool = True, dataset=None
) -> dict:
    """Test-set loss, accuracy, per-class accuracy and confusion matrix of a checkpoint's model.

    The data is found as in training (`data_dir` alone if given, else the usual places or a download);
    `dataset` skips loading it. The checkpoint is read first, so that a bad one fails before the data loads.
    "data" in the result says where the data came from.
    """
    model, config, checkpoint_path, epoch = load_trained_model(path)
    if dataset is None:
        dataset = load_dataset(data_dir, download=download)
    images = to_float32(dataset.test_images, flatten=False).reshape(-1, *IMAGE_SHAPE)
    with parallel.num_threads(kernel_threads(config)):  # the kernels' threads of the run that trained it
        result = evaluate(model, images, dataset.test_labels)
    confusion = confusion_matrix(result.predictions, dataset.test_labels, NUM_CLASSES)
    return {
        "checkpoint": str(checkpoint_path),
        "data": describe_source(dataset),
        "epoch": epoch,
        "test_accuracy": result.accuracy,
        "test_loss": result.loss,
        "per_class_accuracy": {
            name: None if np.isnan(value) else float(value)
            for name, value in zip(FASHION_MNIST_CLASSES, per_class_accuracy(confusion))
        },
        "confusion_matrix": confusion.tolist(),
    }


class ImageError(ValueError):
    """An image file cannot be read, or not as an image the model can classify; the message names the file."""


@dataclass
class LoadedImage:
    """An image as the model sees it (uint8, 28x28, light item on black) and notes on how it was read."""

    pixels: np.ndarray
    notes: list[str]


def load_image(path: str | os.PathLike[str], invert: bool = False) -> np.ndarray:
    """An image file as a Fashion-MNIST-like uint8 array (28, 28): grayscale, light item on a black background.

    See `read_image`, which also returns notes on anything doubtful about the image.
    """
    return read_image(path, invert).pixels


def read_image(path: str | os.PathLike[str], invert: bool = False) -> LoadedImage:
    """Read an image file the way the model expects it: uint8 (28, 28), a light item on a black background.

    Pixel values are scaled by the image's real range: 8-bit images by 255, 16-bit ones by 65535, floating-point
    ones as [0, 1] (or by their own range, with a note, if they go beyond it). Colour becomes grayscale.
    `invert=True` turns a dark item on a light background (a photo or a drawing) the right way round.
    Transparency is composited, after any inversion, onto black, the model's background; a dark item on a
    transparent background gets a note (it would come out dark on black). An image that is not 28x28 is
    padded to a square with its own edge colour (keeping the item's proportions) and resized to 28x28.
    Raises `ImageError` naming the file for anything that cannot be read, and for an image of more than
    `MAX_IMAGE_PIXELS` pixels (refused before it is decoded).
    """
    require("PIL", "reading image files")  # imported here: only prediction needs Pillow
    from PIL import Image, ImageOps

    errors = (OSError, ValueError, SyntaxError, EOFError, struct.error, IndexError, KeyError, TypeError,
              ZeroDivisionError, Image.DecompressionBombError, Image.DecompressionBombWarning)  # fmt: skip
    path = Path(path)
    notes: list[str] = []
    try:
        # Pillow's warnings about a damaged file (corrupt EXIF data, ...) become notes; its decompression
        # bomb warning an error.
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as image:
                if image.width * image.height > MAX_IMAGE_PIXELS:
                    raise ImageError(
                        f"{path}: the image is {image.width}x{image.height} pixels, more than the "
                        f"{MAX_IMAGE_PIXELS} this tool reads (the model sees 28x28)"
                    )
                image = ImageOps.exif_transpose(image)
                gray, alpha = _intensity(image, path, notes)
        for message in dict.fromkeys(str(warning.message).strip() for warning in caught):
            notes.append(f"{path}: {message}")
    except ImageError:
        raise
    except FileNotFoundError:
        raise ImageError(f"{path}: no such file") from None
    except errors as error:
        raise ImageError(f"{path}: cannot read the image ({type(error).__name__}: {error})") from None
    if invert:
        gray = 1.0 - gray
    if alpha is not None:
        gray = gray * alpha
        opaque = alpha > 0.5
        if opaque.any() and not opaque.all() and float(gray[opaque].mean()) < _DARK_ITEM:
            fix = "drop --invert" if invert else "pass --invert"
            notes.append(
                f"{path} shows a dark item on a transparent background, which becomes black: the model "
                f"expects a light item, so {fix}"
            )
    pixels = np.round(np.clip(gray, 0.0, 1.0) * 255).astype(np.uint8)
    if int(pixels.max()) - int(pixels.min()) < _BLANK_RANGE:
        notes.append(f"{path} is blank: every pixel is about {int(np.median(pixels))} (of 255)")
    if pixels.shape != IMAGE_SIZE[::-1]:
        # Resized to fit 28x28 with its proportions kept, then padded with the image's own background (the
        # median of its edge), so that no frame appears. Resizing first keeps memory to the image's own size
        # (padding a 32000x12 strip to a square first would take a gigabyte).
        height, width = pixels.shape
        scale = IMAGE_SIZE[0] / max(height, width)
        size = (max(1, round(width * scale)), max(1, round(height * scale)))
        resampling = getattr(Image, "Resampling", Image)  # Pillow >= 9.1 moved the filters
        small = Image.fromarray(pixels, mode="L").resize(size, resampling.LANCZOS)
        square = Image.new("L", IMAGE_SIZE, int(np.median(_border(pixels))))
        square.paste(small, ((IMAGE_SIZE[0] - size[0]) // 2, (IMAGE_SIZE[1] - size[1]) // 2))
        pixels = np.asarray(square, dtype=np.uint8)
    return LoadedImage(pixels, notes)


def _intensity(image, path: Path, notes: list[str]) -> tuple[np.ndarray, np.ndarray | None]:
    """Grayscale in [0, 1] (float32, H x W) by the image's real range, and its alpha in [0, 1] (or None)."""
    if image.mode in _SIXTEEN_BIT_MODES:
        return _scaled(np.asarray(image, dtype=np.float32), 65535.0, "16-bit", path, notes), None
    if image.mode == "F":
        values = np.asarray(image, dtype=np.float32)
        if not np.isfinite(values).all():
            raise ImageError(f"{path}: the image holds NaN or infinite pixel values")
        return _scaled(values, 1.0, "floating-point", path, notes), None
    if image.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in image.info:
        rgba = image.convert("RGBA")
        alpha = np.asarray(rgba.getchannel("A"), dtype=np.float32) / np.float32(255)
        return np.asarray(rgba.convert("L"), dtype=np.float32) / np.float32(255), alpha
    return np.asarray(image.convert("L"), dtype=np.float32) / np.float32(255), None


def _scaled(values: np.ndarray, full_scale: float, kind: str, path: Path, notes: list[str]) -> np.ndarray:
    low, high = float(values.min()), float(values.max())
    if low >= 0 and high <= full_scale:
        return values / full_scale
    notes.append(
        f"{path}: a {kind} image with values {low:g}..{high:g}, beyond 0..{full_scale:g}: scaled by its own range"
    )
    return (values - low) / (high - low)


def looks_inverted(image: np.ndarray) -> bool:
    """True if a (28, 28) image has a light border, i.e. is probably a dark item on a light background."""
    return float(_border(image).mean()) > _LIGHT_BORDER


def _border(image: np.ndarray) -> np.ndarray:
    """The pixels along the four edges of a 2-D image."""
    return np.concatenate([image[0], image[-1], image[1:-1, 0], image[1:-1, -1]])


@dataclass
class Prediction:
    """The predicted class of one image and its probability; `probabilities` has all ten."""

    class_index: int
    class_name: str
    probability: float
    probabilities: np.ndarray


def predict(model, images: np.ndarray) -> list[Prediction]:
    """Classify uint8 images (N, 28, 28) with `model` (in eval mode, without a graph)."""
    images = to_float32(np.asarray(images), flatten=False)
    images = images.reshape(len(images), *IMAGE_SHAPE)
    with inference(model):
        probabilities = F.softmax(model(model_input(model, images))).data
    predictions = []
    for row in probabilities:
        index = int(row.argmax())
        predictions.append(Prediction(index, FASHION_MNIST_CLASSES[index], float(row[index]), row))
    return predictions
