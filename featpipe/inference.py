"""Use a finished run's model: score it on other labelled data, or classify image files."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Sequence

import numpy as np

from . import atomic, model_io, provenance
from .data import load_source, parse_spec
from .data.images import PILLOW_MAX_PIXELS
from .errors import DataError, FeatpipeError, ModelError
from .imageops import conform, read_image
from .metrics import classification_scores
from .runner import read_run


def load_model(run_dir: str | Path):
    """The fitted model of a run folder and its metrics (which name its classes and image shape).

    The model is tried on one blank image before it is returned, so a model file whose arrays
    no longer fit together fails here, as a ModelError, rather than in the middle of numpy.
    """
    metrics = read_run(run_dir)
    data = metrics.get("data") if isinstance(metrics, dict) else None
    names = data.get("class_names") if isinstance(data, dict) else None
    shape = data.get("image_shape") if isinstance(data, dict) else None
    if not (isinstance(names, list) and len(names) >= 2 and all(isinstance(n, str) for n in names)
            and isinstance(shape, list) and len(shape) == 3
            and all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in shape)
            and shape[2] in (1, 3) and shape[0] * shape[1] <= PILLOW_MAX_PIXELS):
        raise ModelError(
            f"{Path(run_dir) / 'metrics.json'}: data.class_names (two or more names) and data.image_shape "
            f"([height, width, channels]) are missing or malformed; is this a finished featpipe run?"
        )
    model = model_io.load(run_dir)
    try:
        model.predict(np.zeros((1, *shape), dtype=np.uint8))
    except (ValueError, TypeError, IndexError, AttributeError, KeyError) as exc:
        raise ModelError(
            f"{Path(run_dir) / 'model.npz'}: the saved model cannot be used: its arrays do not fit "
            f"together or the images it expects ({exc})"
        ) from None
    return model, metrics


def evaluate(run_dir: str | Path, spec: str, split: str | None = None, progress: bool = True) -> dict:
    """Score a run's model on the labelled images `spec` names; writes evaluations/<name>.json.

    Classes are matched by name; images are resized to the model's input shape.
    """
    model, metrics = load_model(run_dir)
    height, width, _ = metrics["data"]["image_shape"]
    # resized as they are read, so a folder of mixed sizes loads (the model needs one size anyway)
    sources = load_source(**parse_spec(spec), image_size=(height, width), progress=progress)
    if split is None:
        split = next((name for name in ("test", "val", "validation") if name in sources), None)
        split = split or ("train" if "train" in sources else sorted(sources)[0])
    if split not in sources:
        raise DataError(f"data {spec!r} has no split {split!r} (splits: {', '.join(sorted(sources))})")
    dataset = sources[split]
    model_classes = list(metrics["data"]["class_names"])
    unknown = [name for name in dataset.class_names if name not in model_classes]
    if unknown:
        raise DataError(
            f"data {spec!r} has classes the model does not know: {', '.join(unknown)} "
            f"(the model's classes: {', '.join(model_classes)})"
        )
    to_model = np.array([model_classes.index(name) for name in dataset.class_names], dtype=np.int64)
    labels = to_model[dataset.labels]
    images = conform(dataset.images, tuple(metrics["data"]["image_shape"]))
    predicted = model.predict(images)
    scores = classification_scores(labels, predicted, model_classes)
    result = {
        "run": str(Path(run_dir)),
        "data": spec,
        "split": split,
        "source": dataset.source,
        "fingerprint": dataset.fingerprint(),
        "seen_in_training": seen_in_training(run_dir, metrics, dataset, progress),
        **scores,
        "evaluated": provenance.now_iso(),
    }
    tag = hashlib.sha256(f"{spec}|{split}".encode()).hexdigest()[:8]
    atomic.write_json(Path(run_dir) / "evaluations" / f"{split}-{tag}.json", result)
    return result


def seen_in_training(run_dir: str | Path, metrics: dict, dataset, progress: bool = False) -> int | None:
    """How many of `dataset`'s images the run trained on (None: its training data cannot be read again).

    The run's training split is rebuilt from its recorded config and trusted only if its
    fingerprint equals the one the run recorded; then images are compared pixel for pixel
    (by a hash of each), so a source that holds the training images (digits' only split, the
    CIFAR-10 folder a run split its validation from) is caught whatever its order or name.
    """
    from .config import load_config
    from .runner import load_splits

    recorded = ((metrics.get("data") or {}).get("fingerprints") or {}).get("train")
    if recorded is None:
        return None
    if dataset.fingerprint() == recorded:
        return len(dataset)
    try:
        train = load_splits(load_config(Path(run_dir) / "config.yaml"), progress=progress).train
    except FeatpipeError:
        return None
    if train.fingerprint() != recorded or train.images.shape[1:] != dataset.images.shape[1:]:
        return None if train.fingerprint() != recorded else 0
    trained = {_image_hash(image) for image in train.images}
    return sum(_image_hash(image) in trained for image in dataset.images)


def _image_hash(image: np.ndarray) -> bytes:
    return hashlib.blake2b(np.ascontiguousarray(image).tobytes(), digest_size=16).digest()


def predict(run_dir: str | Path, image_paths: Sequence[str | Path], top: int = 3) -> list[dict]:
    """Top classes with scores for each image file (any size; resized as the model expects).

    Scores are class probabilities when the classifier gives them, else its decision values.
    """
    model, metrics = load_model(run_dir)
    for path in image_paths:
        _check_image_file(Path(path))
    classes = list(metrics["data"]["class_names"])
    shape = tuple(metrics["data"]["image_shape"])
    images = np.stack([read_image(path, shape) for path in image_paths])
    classifier = model.named_steps["classifier"]
    features = model.named_steps["features"].transform(images)
    if hasattr(classifier, "predict_proba"):
        scores, kind = classifier.predict_proba(features), "probability"
    else:
        scores, kind = classifier.decision_function(features), "decision value"
    if scores.ndim == 1:  # binary decision values: positive means classes_[1]
        scores = np.stack([-scores, scores], axis=1)
    column_class = [classes[int(label)] for label in classifier.classes_]
    order = np.argsort(-scores, axis=1)[:, :top]
    return [
        {"image": str(path), "score_kind": kind,
         "top": [{"class": column_class[j], "score": float(scores[i, j])} for j in order[i]]}
        for i, path in enumerate(image_paths)
    ]


def _check_image_file(path: Path) -> None:
    """Refuse what is not an image file by its kind: a folder, a missing path, a device."""
    if path.is_dir():
        raise DataError(
            f"{path} is a directory; predict takes image files (e.g. {path}/*.jpg); to score a labelled "
            f"image folder use `featpipe evaluate RUN --data {path}`"
        )
    if not path.exists():
        raise DataError(f"image not found: {path}")
    if not path.is_file():
        raise DataError(f"{path} is not a regular file (a device, FIFO or socket); predict takes image files")
