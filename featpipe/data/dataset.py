"""The in-memory labelled image set every source returns, and seeded stratified splits of it."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field

import numpy as np

from featpipe.errors import DataError

_FINGERPRINT_VERSION = "featpipe-dataset-v1"


@dataclass(frozen=True, eq=False)
class Dataset:
    """Labelled images held in memory.

    Attributes
    ----------
    images : ndarray of uint8, shape (N, H, W, C)
        C is 1 (grayscale) or 3 (RGB); C-contiguous and read-only (the fingerprint is cached,
        so the pixels must not change under it: copy before editing in place).
    labels : ndarray of int64, shape (N,)
        Indices into `class_names`.
    class_names : tuple of str
        Class names; label ``k`` means ``class_names[k]``.
    source : str
        Human-readable provenance, e.g. ``"digits"`` or ``"folder:/abs/path[train]"``.
    """

    images: np.ndarray
    labels: np.ndarray
    class_names: tuple[str, ...]
    source: str
    _fingerprint: list = field(default_factory=list, init=False, repr=False)

    def __post_init__(self) -> None:
        images, labels = self.images, self.labels
        if not isinstance(images, np.ndarray) or images.dtype != np.uint8 or images.ndim != 4:
            raise DataError(
                f"Dataset({self.source!r}): images must be a uint8 array of shape (N, H, W, C); "
                f"got {_describe_array(images)}"
            )
        if images.shape[3] not in (1, 3):
            raise DataError(
                f"Dataset({self.source!r}): images must have 1 or 3 channels; got shape {images.shape}"
            )
        labels = np.asarray(labels)
        if labels.ndim != 1 or labels.shape[0] != images.shape[0] or not (
            labels.size == 0 or np.issubdtype(labels.dtype, np.integer)
        ):
            raise DataError(
                f"Dataset({self.source!r}): labels must be integers of shape ({images.shape[0]},); "
                f"got {_describe_array(labels)}"
            )
        class_names = tuple(self.class_names)
        if not all(isinstance(name, str) for name in class_names) or len(set(class_names)) != len(
            class_names
        ):
            raise DataError(
                f"Dataset({self.source!r}): class_names must be distinct strings; got {class_names!r}"
            )
        if labels.size and (labels.min() < 0 or labels.max() >= len(class_names)):
            raise DataError(
                f"Dataset({self.source!r}): labels must lie in 0..{len(class_names) - 1} "
                f"({len(class_names)} classes); got values {labels.min()}..{labels.max()}"
            )
        # Read-only views: the caller's arrays keep their flags, ours cannot drift from the
        # cached fingerprint.
        images = np.ascontiguousarray(images).view()
        images.flags.writeable = False
        labels = np.ascontiguousarray(labels, dtype=np.int64).view()
        labels.flags.writeable = False
        object.__setattr__(self, "images", images)
        object.__setattr__(self, "labels", labels)
        object.__setattr__(self, "class_names", class_names)

    def __len__(self) -> int:
        return int(self.images.shape[0])

    def fingerprint(self) -> str:
        """Return a SHA-256 hex digest of pixels, shape, labels and class names (cached)."""
        if not self._fingerprint:
            digest = hashlib.sha256()
            header = {
                "version": _FINGERPRINT_VERSION,
                "shape": list(self.images.shape),
                "class_names": list(self.class_names),
            }
            digest.update(json.dumps(header, sort_keys=True).encode("utf-8"))
            if self.images.size:  # a memoryview of no bytes cannot be cast
                digest.update(memoryview(self.images).cast("B"))
            digest.update(self.labels.astype("<i8", copy=False).tobytes())
            self._fingerprint.append(digest.hexdigest())
        return self._fingerprint[0]

    def take(self, indices: np.ndarray, source: str) -> "Dataset":
        """Return the images at `indices` (in that order) as a new Dataset named `source`."""
        indices = np.asarray(indices, dtype=np.intp)
        return Dataset(self.images[indices], self.labels[indices], self.class_names, source)

    def __repr__(self) -> str:
        return (
            f"Dataset(source={self.source!r}, n={len(self)}, image_shape={self.images.shape[1:]}, "
            f"classes={len(self.class_names)})"
        )


def stratified_split(ds: Dataset, val_fraction: float, seed: int) -> tuple[Dataset, Dataset]:
    """Split `ds` into (train, val), keeping each class's proportion.

    Each class of ``n_c`` images sends ``round(n_c * val_fraction)`` of them to validation,
    clipped to 1..n_c-1 so that every class with at least two images appears in both parts;
    a class with a single image stays in train. Both parts keep the original order.

    Parameters
    ----------
    ds : Dataset
    val_fraction : float
        Share of each class sent to validation, strictly between 0 and 1.
    seed : int
        Seed of the local generator choosing which images go to validation.

    Returns
    -------
    train, val : Dataset
        Disjoint; together they hold every image of `ds` exactly once.
    """
    if not isinstance(val_fraction, (int, float)) or not 0.0 < float(val_fraction) < 1.0:
        raise DataError(f"val_fraction={val_fraction!r} must be a number strictly between 0 and 1")
    rng = np.random.default_rng(seed)
    is_val = np.zeros(len(ds), dtype=bool)
    for label in range(len(ds.class_names)):
        members = np.flatnonzero(ds.labels == label)
        if members.size < 2:
            continue
        n_val = int(np.clip(round(members.size * val_fraction), 1, members.size - 1))
        is_val[rng.choice(members, size=n_val, replace=False)] = True
    tag = f"split(val_fraction={val_fraction}, seed={seed})"
    train = ds.take(np.flatnonzero(~is_val), f"{ds.source}|{tag}:train")
    val = ds.take(np.flatnonzero(is_val), f"{ds.source}|{tag}:val")
    return train, val


def check_trainable(ds: Dataset) -> None:
    """Refuse training images that hold fewer than two classes (no classifier can learn from them)."""
    present = np.unique(ds.labels)
    if present.size >= 2:
        return
    if present.size == 0:
        raise DataError(f"{ds.source}: no training images; a classifier needs images of at least two classes")
    only = ds.class_names[int(present[0])]
    others = [name for name in ds.class_names if name != only]
    absent = f" ({', '.join(map(repr, others))} {'has' if len(others) == 1 else 'have'} none)" if others else ""
    raise DataError(
        f"{ds.source}: every training image is of class {only!r}{absent}; a classifier needs images of "
        "at least two classes: add class folders (<split>/<class>/<images>)"
    )


def subset(
    ds: Dataset, *, n: int | None = None, per_class: int | None = None, seed: int
) -> Dataset:
    """Return a seeded, stratified subset of `ds`, in the original order.

    Give exactly one of:

    - `n`: total size; classes get shares proportional to their sizes (largest-remainder
      rounding, ties to the lower label). `n` may not exceed ``len(ds)``.
    - `per_class`: at most this many images of each class (a smaller class gives all it has).
    """
    if (n is None) == (per_class is None):
        raise DataError(f"subset: give exactly one of n or per_class; got n={n!r}, per_class={per_class!r}")
    counts = np.bincount(ds.labels, minlength=len(ds.class_names))
    if n is not None:
        if not _is_int(n) or not 0 < n <= len(ds):
            raise DataError(f"subset: n={n!r} must be an integer in 1..{len(ds)} (the dataset size)")
        quotas = counts * (n / len(ds))
        take = np.floor(quotas).astype(np.int64)
        remainder = int(n - take.sum())
        # Stable sort on the negated fractional parts: largest first, ties to the lower label.
        order = np.argsort(-(quotas - take), kind="stable")
        take[order[:remainder]] += 1
        tag = f"subset(n={n}, seed={seed})"
    else:
        if not _is_int(per_class) or per_class < 1:
            raise DataError(f"subset: per_class={per_class!r} must be a positive integer")
        take = np.minimum(counts, per_class)
        tag = f"subset(per_class={per_class}, seed={seed})"
    rng = np.random.default_rng(seed)
    chosen = [
        rng.choice(np.flatnonzero(ds.labels == label), size=int(k), replace=False)
        for label, k in enumerate(take)
        if k > 0
    ]
    indices = np.sort(np.concatenate(chosen)) if chosen else np.zeros(0, dtype=np.intp)
    return ds.take(indices, f"{ds.source}|{tag}")


def _is_int(value) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def _describe_array(value) -> str:
    if isinstance(value, np.ndarray):
        return f"{value.dtype} array of shape {value.shape}"
    return type(value).__name__
