"""Using a trained checkpoint: rebuild its model, evaluate it on the test set, classify image files."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .. import functional as F
from ..data import FASHION_MNIST_CLASSES, load_fashion_mnist, to_float32
from ..optional import require
from .builders import build_model
from .checkpoint import CheckpointError, load_checkpoint, load_model_state
from .config import NUM_CLASSES, TrainConfig
from .loop import evaluate, inference
from .metrics import confusion_matrix, per_class_accuracy

IMAGE_SIZE = (28, 28)
# A mean border brightness above this (0-255) suggests a light background, the opposite of Fashion-MNIST.
_LIGHT_BORDER = 128


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

    Returns `(model, config, checkpoint_path, epoch)`; the architecture comes from the checkpoint's config.
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

    The data is found as in training (`data_dir`, then the usual places); `dataset` skips loading it.
    """
    model, _, checkpoint_path, epoch = load_trained_model(path)
    if dataset is None:
        dataset = load_fashion_mnist(data_dir, download=download)
    result = evaluate(model, to_float32(dataset.test_images), dataset.test_labels)
    confusion = confusion_matrix(result.predictions, dataset.test_labels, NUM_CLASSES)
    return {
        "checkpoint": str(checkpoint_path),
        "epoch": epoch,
        "test_accuracy": result.accuracy,
        "test_loss": result.loss,
        "per_class_accuracy": {
            name: None if np.isnan(value) else float(value)
            for name, value in zip(FASHION_MNIST_CLASSES, per_class_accuracy(confusion))
        },
        "confusion_matrix": confusion.tolist(),
    }


def load_image(path: str | os.PathLike[str], invert: bool = False) -> np.ndarray:
    """An image file as a Fashion-MNIST-like uint8 array (28, 28): grayscale, light item on a black background.

    Colour is converted to grayscale, transparency is composited onto black. `invert=True` turns a dark item
    on a light background (a photo or a drawing) the right way round. An image that is not 28x28 is padded
    to a square with its own edge colour (keeping the item's proportions) and resized to 28x28.
    """
    require("PIL", "reading image files")  # imported here: only prediction needs Pillow
    from PIL import Image, ImageOps

    with Image.open(path) as image:
        image = ImageOps.exif_transpose(image)
        if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
            rgba = image.convert("RGBA")
            image = Image.alpha_composite(Image.new("RGBA", rgba.size, (0, 0, 0, 255)), rgba)
        gray = image.convert("L")
    if invert:
        gray = ImageOps.invert(gray)
    if gray.size != IMAGE_SIZE:
        # Padded with the image's own background (the median of its edge), so that no frame appears.
        side = max(gray.size)
        square = Image.new("L", (side, side), int(np.median(_border(np.asarray(gray)))))
        square.paste(gray, ((side - gray.width) // 2, (side - gray.height) // 2))
        resampling = getattr(Image, "Resampling", Image)  # Pillow >= 9.1 moved the filters
        gray = square.resize(IMAGE_SIZE, resampling.LANCZOS)
    return np.asarray(gray, dtype=np.uint8)


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
    with inference(model):
        probabilities = F.softmax(model(to_float32(np.asarray(images)))).data
    predictions = []
    for row in probabilities:
        index = int(row.argmax())
        predictions.append(Prediction(index, FASHION_MNIST_CLASSES[index], float(row[index]), row))
    return predictions
