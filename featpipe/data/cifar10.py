"""CIFAR-10 in its official python format (``cifar-10-batches-py``), read without trusting pickle.

The batches are pickles (Krizhevsky, 2009, "Learning Multiple Layers of Features from Tiny
Images"). A pickle can run any code while loading, so they are read with `_ArrayOnlyUnpickler`,
which admits only the few numpy globals needed to rebuild plain arrays and refuses everything
else before it is imported, let alone called.
"""

from __future__ import annotations

import io
import pickle
from pathlib import Path

import numpy as np

from featpipe.data.archive import extract_archive, is_archive
from featpipe.data.dataset import Dataset
from featpipe.data.profile import PROFILE_HINT
from featpipe.data.download import CIFAR10_ARCHIVE, CIFAR10_MD5, cifar10_cache_folder, download_cifar10
from featpipe.errors import DataError

BATCH_FOLDER = "cifar-10-batches-py"
TRAIN_BATCHES = tuple(f"data_batch_{k}" for k in range(1, 6))
TEST_BATCH = "test_batch"
META = "batches.meta"
_ROW = 3 * 32 * 32


class RefusedGlobal(pickle.UnpicklingError):
    """A pickle asked for a global outside the allow-list."""

    def __init__(self, module: str, name: str):
        super().__init__(f"refused global {module}.{name}")
        self.qualified = f"{module}.{name}"


def _allowed_globals() -> dict[tuple[str, str], object]:
    """(module, name) pairs a numpy-array pickle may reference, mapped to the objects to use.

    Old pickles name ``numpy.core``; numpy 2 writes ``numpy._core``. Both map to the functions
    of the installed numpy without importing the deprecated module.
    """
    core = np._core if hasattr(np, "_core") else np.core  # numpy >= 2 has _core
    allowed = {("numpy", "ndarray"): np.ndarray, ("numpy", "dtype"): np.dtype}
    for module in ("numpy.core", "numpy._core"):
        allowed[(f"{module}.multiarray", "_reconstruct")] = core.multiarray._reconstruct
        # Protocol-5 pickles rebuild contiguous arrays from a byte buffer.
        allowed[(f"{module}.numeric", "_frombuffer")] = core.numeric._frombuffer
    return allowed


class _ArrayOnlyUnpickler(pickle.Unpickler):
    """Unpickler that resolves only numpy's array-rebuilding globals; anything else is refused."""

    _allowed = _allowed_globals()

    def find_class(self, module: str, name: str):
        try:
            return self._allowed[(module, name)]
        except KeyError:
            raise RefusedGlobal(module, name) from None


# An official batch is 31 MB (10,000 images); anything far larger is not one.
_MAX_BATCH_BYTES = 256 * 2**20


def read_batch(path: str | Path) -> dict[str, object]:
    """Unpickle one CIFAR batch file with the restricted unpickler; keys decoded to str.

    Raises DataError naming the file for a refused global or an unreadable pickle.
    """
    path = Path(path)
    try:
        size = path.stat().st_size
        if not path.is_file():
            raise DataError(f"CIFAR-10 file {path} is not a regular file (a folder, FIFO or device)")
        if size > _MAX_BATCH_BYTES:
            raise DataError(f"CIFAR-10 file {path} is {size:,} bytes; a batch is about 31 MB "
                            f"(at most {_MAX_BATCH_BYTES:,} are read)")
        raw = path.read_bytes()
    except OSError as exc:
        raise DataError(f"cannot read CIFAR-10 file {path}: {exc}") from exc
    try:
        obj = _ArrayOnlyUnpickler(io.BytesIO(raw), encoding="bytes").load()
    except RefusedGlobal as exc:
        raise DataError(
            f"refusing to load {path}: the pickle asks for {exc.qualified}, which is not a numpy "
            "array constructor (the file is not a CIFAR-10 batch and may be malicious)"
        ) from None
    except Exception as exc:  # any malformed pickle: truncated, wrong opcodes, bad array state
        raise DataError(f"cannot unpickle CIFAR-10 file {path}: {type(exc).__name__}: {exc}") from exc
    if not isinstance(obj, dict):
        raise DataError(f"CIFAR-10 file {path} holds a {type(obj).__name__}, expected a dict")
    return {(k.decode("latin1") if isinstance(k, bytes) else str(k)): v for k, v in obj.items()}


def load_batch(path: str | Path, n_classes: int) -> tuple[np.ndarray, np.ndarray]:
    """Read one data batch as images uint8 (N, 32, 32, 3) and labels int64 (N,), validated."""
    batch = read_batch(path)
    for key in ("data", "labels"):
        if key not in batch:
            raise DataError(f"CIFAR-10 batch {path} has no {key!r} entry (keys: {sorted(batch)})")
    data = batch["data"]
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != _ROW:
        shape = getattr(data, "shape", None)
        raise DataError(
            f"CIFAR-10 batch {path}: 'data' must be a uint8 array of shape (N, {_ROW}); got "
            f"{type(data).__name__} {getattr(data, 'dtype', '')} {shape}"
        )
    try:
        labels = np.asarray(batch["labels"], dtype=np.int64)
    except (TypeError, ValueError, OverflowError) as exc:
        raise DataError(f"CIFAR-10 batch {path}: 'labels' are not integers ({exc})") from exc
    if labels.shape != (data.shape[0],):
        raise DataError(
            f"CIFAR-10 batch {path}: {data.shape[0]} images but labels of shape {labels.shape}"
        )
    if labels.size and (labels.min() < 0 or labels.max() >= n_classes):
        raise DataError(
            f"CIFAR-10 batch {path}: labels must lie in 0..{n_classes - 1}; got {labels.min()}..{labels.max()}"
        )
    # Each row is the red, green then blue 32x32 planes, each in row-major order.
    images = np.ascontiguousarray(data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1))
    return images, labels


def load_meta(path: str | Path) -> tuple[str, ...]:
    """Read ``batches.meta`` and return the class names."""
    meta = read_batch(path)
    names = meta.get("label_names")
    if not isinstance(names, list) or not names or not all(isinstance(n, (bytes, str)) for n in names):
        raise DataError(f"CIFAR-10 meta file {path}: 'label_names' must be a non-empty list of names")
    return tuple(n.decode("utf-8") if isinstance(n, bytes) else n for n in names)


def load_batch_folder(folder: Path, source_root: Path | None = None) -> dict[str, Dataset]:
    """Load ``train`` (data_batch_1..5) and ``test`` (test_batch) from a cifar-10-batches-py folder."""
    missing = [name for name in (META, *TRAIN_BATCHES, TEST_BATCH) if not (folder / name).is_file()]
    if missing:
        raise DataError(f"CIFAR-10 folder {folder} lacks {', '.join(missing)}")
    class_names = load_meta(folder / META)
    train = [load_batch(folder / name, len(class_names)) for name in TRAIN_BATCHES]
    test_images, test_labels = load_batch(folder / TEST_BATCH, len(class_names))
    where = source_root or folder
    return {
        "train": Dataset(
            np.concatenate([images for images, _ in train]),
            np.concatenate([labels for _, labels in train]),
            class_names,
            f"cifar10:{where}[train]",
        ),
        "test": Dataset(test_images, test_labels, class_names, f"cifar10:{where}[test]"),
    }


def load_cifar10(root=None, *, cache_dir=None, download: bool = True, progress: bool = True) -> dict[str, Dataset]:
    """Load CIFAR-10's official python batches as ``{"train": 50,000 images, "test": 10,000}``.

    `root` may be the ``cifar-10-batches-py`` folder, a folder holding it (or holding
    ``cifar-10-python.tar.gz``), or the archive itself. Without `root`, the cache folder
    ``cache_root(cache_dir)/cifar10`` is used and the archive downloaded there if `download`.
    """
    if root is None or str(root) == "":
        folder = cifar10_cache_folder(cache_dir)
        archive = folder / CIFAR10_ARCHIVE
        if (folder / BATCH_FOLDER).is_dir():
            return load_batch_folder(folder / BATCH_FOLDER)
        if not archive.is_file():
            if not download:
                raise DataError(
                    f"CIFAR-10 is not in the cache and downloading is off: copy {CIFAR10_ARCHIVE} "
                    f"(md5 {CIFAR10_MD5}) to {archive}, or set data.root to the archive or to the "
                    f"folder holding {BATCH_FOLDER}; or read a local image-folder copy instead: {PROFILE_HINT}"
                )
            archive = download_cifar10(cache_dir, progress=progress)
        return _load_archive(archive, cache_dir, progress)
    given = Path(root).expanduser().absolute()
    if given.is_file():
        if not is_archive(given):
            raise DataError(f"data.root {given} is a file but not a .tar.gz archive such as {CIFAR10_ARCHIVE}")
        return _load_archive(given, cache_dir, progress)
    if not given.is_dir():
        raise DataError(
            f"data.root {given} does not exist; expected the {BATCH_FOLDER} folder, a folder holding "
            f"it, or {CIFAR10_ARCHIVE}"
        )
    if (given / META).is_file():
        return load_batch_folder(given)
    if (given / BATCH_FOLDER).is_dir():
        return load_batch_folder(given / BATCH_FOLDER)
    if (given / CIFAR10_ARCHIVE).is_file():
        return _load_archive(given / CIFAR10_ARCHIVE, cache_dir, progress)
    raise DataError(
        f"no CIFAR-10 data in {given}: expected {META} and the batch files there, a {BATCH_FOLDER} "
        f"subfolder, or {CIFAR10_ARCHIVE}"
    )


def _load_archive(archive: Path, cache_dir, progress: bool) -> dict[str, Dataset]:
    extracted = extract_archive(archive, cache_dir, progress=progress)
    if (extracted / BATCH_FOLDER).is_dir():
        return load_batch_folder(extracted / BATCH_FOLDER, source_root=archive)
    if (extracted / META).is_file():
        return load_batch_folder(extracted, source_root=archive)
    raise DataError(f"archive {archive} holds no {BATCH_FOLDER} folder")
