"""Image-folder source: ``<root>/<split>/<class>/*.{png,jpg,jpeg}``, decoded once and cached.

Layout rules (each violation is a DataError naming the path):

- `root` is a folder or a ``.tar.gz``/``.tgz`` of one; an archive may wrap its folders in a
  single top-level folder, which is detected: it wraps split folders if it holds folders of
  folders, and class folders if it holds folders of images and is not named like a split
  (`SPLIT_NAMES`: ``train/cat/x.jpg`` alone is a training split, ``pets/cat/x.jpg`` a wrapper).
- Every folder under `root` is a split; every folder under a split is a class. Class names
  are the union over splits, sorted, so labels mean the same class in every split. A root
  whose folders hold images and no folders is one split of class folders, ``train``
  (`FLAT_SPLIT`): ``<root>/<class>/<image>``, the common layout of labelled images.
- A class folder holds only ``.png``/``.jpg``/``.jpeg`` files (any case), decoded by content: a
  file that is really another format is an error saying which. Hidden entries (names starting
  with ``.``, e.g. ``.DS_Store``, ``._x.jpg`` from macOS) and the files and folders operating
  systems add (``Thumbs.db``, ``desktop.ini``, ``__MACOSX``, ...: `SYSTEM_NAMES`) are skipped
  silently everywhere; any other file is an error, as is an empty class folder or a split
  without class folders. Loose files beside the split folders (a README, a licence) are ignored.
- Symbolic links (split or class folders, image files) may point anywhere inside the image
  folder; a link leading outside it is refused, naming the link and its target, unless
  `follow_symlinks` (``data.follow_symlinks: true``) allows it.
- Class names must be valid UTF-8 (they end up in JSON, plots and reports); a folder whose name
  is not is refused before anything is decoded.
- Each image may hold at most `max_image_pixels` pixels (``data.max_image_pixels``).
- Images are RGB, unless every image of the source is grayscale: then (H, W, 1). All images
  must share one size unless `image_size` = (H, W) asks for resizing.

The decoded arrays are cached as ``.npy`` with a JSON manifest under
``cache_root()/folders/<key of root and image_size>/``; the manifest holds a digest of every
file's relative path, size and mtime, so any added, removed, replaced or touched file makes
the next load decode again.
"""

from __future__ import annotations

import hashlib
import json
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from featpipe import memory
from featpipe.atomic import atomic_dir, atomic_path, write_json
from featpipe.data import images as _images
from featpipe.data.archive import extract_archive, is_archive
from featpipe import progress as _progress
from featpipe.data.cache import cache_root, mark_used
from featpipe.data.dataset import Dataset
from featpipe.errors import DataError, OutputError

_CACHE_FORMAT = 1
#: The split a folder of class folders alone (<root>/<class>/<image>) is read as.
FLAT_SPLIT = "train"
#: Names that make an archive's lone top-level folder a split rather than a wrapper of class folders.
SPLIT_NAMES = ("train", "test", "val", "validation")
# Decoding threads. Small JPEGs are mostly parsed in Python (GIL-bound) and the files' opens are
# latency-bound here. Measured on 10,000 CIFAR-10 JPEGs with the 2 cores shared (load 9-13):
# one task per file: serial 10.2-10.7 s, 4 threads 7.5-7.6 s, 2 processes 7.2-7.3 s; 256-file
# chunks: serial 5.9-6.2 s, 4 threads 6.4-6.5 s, 2 processes 6.5-9.5 s. So threads are kept for
# overlapping I/O (cheap, never much worse); processes did not pay for their start-up.
_DECODE_THREADS = 4
_CHUNK = 256

#: Files and folders that operating systems and NAS boxes drop into folders (compared lowercased).
SYSTEM_NAMES = frozenset({
    "thumbs.db", "ehthumbs.db", "ehthumbs_vista.db", "desktop.ini", "icon\r", "__macosx",
    "$recycle.bin", "system volume information", "@eadir", "#recycle", "lost+found",
})


@dataclass(frozen=True)
class _Split:
    name: str
    files: list[tuple[str, str]]  # (class name, absolute file path), sorted
    stamps: list[str]  # "<split>/<class>/<file>\0<size>\0<mtime_ns>" per file, for the cache key


def load_folder(
    root,
    *,
    cache_dir=None,
    image_size: tuple[int, int] | None = None,
    max_image_pixels: int | None = None,
    follow_symlinks: bool = False,
    progress: bool = True,
) -> dict[str, Dataset]:
    """Load every split of an image folder (or .tar.gz of one) as ``{split: Dataset}``.

    Parameters
    ----------
    root : str or Path
        Folder holding ``<split>/<class>/<image>`` (or ``<class>/<image>``: one split, ``train``)
        or a ``.tar.gz``/``.tgz`` archive of one.
    cache_dir : str or Path, optional
        Cache root override (see `cache_root`).
    image_size : (int, int), optional
        Resize every image to (height, width); needed when the images differ in size.
    max_image_pixels : int, optional
        Refuse any image of more pixels (default `featpipe.data.images.MAX_IMAGE_PIXELS`).
    follow_symlinks : bool
        Accept symbolic links that lead outside the folder (links inside it are always fine).
    progress : bool
        Show progress bars while extracting and decoding.

    Returns
    -------
    dict of str to Dataset
        Images uint8 (N, H, W, C), C = 3 (or 1 when every image is grayscale).
    """
    if root is None or str(root) == "":
        raise DataError("the folder source needs a root: set data.root to an image folder or .tar.gz")
    image_size = _images.check_image_size(image_size)
    given = Path(root).expanduser().absolute()
    if not given.exists():
        raise DataError(f"data root {given} does not exist (expected a folder <split>/<class>/<images> or <class>/<images>, "
                        "or a .tar.gz of one)")
    if given.is_file():
        if not is_archive(given):
            raise DataError(f"data root {given} is a file but not a .tar.gz/.tgz archive; give a folder or an archive")
        folder = _unwrap_single_folder(extract_archive(given, cache_dir, progress=progress))
    else:
        folder = given
    splits = _scan(folder, follow_symlinks)
    class_names = tuple(sorted({cls for split in splits for cls, _ in split.files}))
    files_key = _files_key(splits, image_size)
    cache = cache_root(cache_dir) / "folders" / _location_key(folder, image_size)
    arrays = _read_cache(cache, files_key, class_names, splits)
    if arrays is not None:
        mark_used(cache)
    else:
        arrays = _decode_splits(splits, class_names, image_size, max_image_pixels, progress)
        try:
            _write_cache(cache, files_key, class_names, arrays, folder, image_size)
        except (OSError, OutputError) as exc:  # atomic writes report OSErrors as OutputError
            raise DataError(f"cannot write the decoded images to the cache folder {cache}: {exc}; free some "
                            "space, or set FEATPIPE_CACHE (or data.cache_dir) to a writable folder") from None
    return {
        name: Dataset(images, labels, class_names, f"folder:{given}[{name}]")
        for name, (images, labels) in arrays.items()
    }


def _unwrap_single_folder(folder: Path) -> Path:
    """Descend into an archive's lone top-level folder unless it is a split (train/cat/x.jpg alone).

    It wraps split folders if its sub-folders hold folders; if they hold images it is a split when
    named like one (SPLIT_NAMES), else it wraps class folders (pets/cat/x.jpg).
    """
    entries = _listdir(folder)
    if len(entries) == 1 and entries[0].is_dir():
        only = Path(entries[0].path)
        children = [c for c in _listdir(only) if c.is_dir()]
        if children and (any(g.is_dir() for c in children for g in _listdir(Path(c.path)))
                         or only.name.lower() not in SPLIT_NAMES):
            return only
    return folder


def _listdir(folder: Path) -> list[os.DirEntry]:
    """Entries of `folder` but hidden and system ones, sorted by name (scandir: no stat per entry)."""
    try:
        with os.scandir(folder) as it:
            return sorted((e for e in it if not _skipped(e.name)), key=lambda e: e.name)
    except OSError as exc:
        raise DataError(f"cannot list folder {_shown(folder)}: {exc}") from exc


def _skipped(name: str) -> bool:
    return name.startswith(".") or name.lower() in SYSTEM_NAMES


def _check_entry(entry: os.DirEntry, root: Path, follow_symlinks: bool) -> None:
    """Refuse a broken symbolic link, or one leading outside `root` unless `follow_symlinks`."""
    if not entry.is_symlink():
        return
    target = os.path.realpath(entry.path)
    if not os.path.exists(target):
        raise DataError(f"{_shown(entry.path)} is a broken symbolic link (to {_shown(os.readlink(entry.path))})")
    boundary = os.path.realpath(root)
    if follow_symlinks or os.path.commonpath([boundary, target]) == boundary:
        return
    raise DataError(
        f"{_shown(entry.path)} is a symbolic link to {_shown(target)}, outside the image folder {_shown(root)}; "
        "set data.follow_symlinks: true to accept links that leave it"
    )


def _check_utf8_name(folder: Path, kind: str) -> None:
    """Refuse a split or class folder whose name is not UTF-8: names go into JSON, plots and reports."""
    try:
        folder.name.encode("utf-8")
    except UnicodeEncodeError:
        raise DataError(
            f"{kind} folder {_shown(folder)}: its name is not valid UTF-8, and {kind} names are written "
            "to JSON, plots and reports; rename the folder (e.g. with `convmv -f latin1 -t utf8`)"
        ) from None


def _shown(path) -> str:
    return _images.shown_path(path)


def _scan(root: Path, follow_symlinks: bool = False) -> list[_Split]:
    """List splits, classes and image files, enforcing the layout rules of this module."""
    top = [e for e in _listdir(root) if e.is_dir()]
    for entry in top:
        _check_entry(entry, root, follow_symlinks)
    listed = {Path(entry.path): _listdir(Path(entry.path)) for entry in top}  # read once: layout, then scan
    if _holds_class_folders(listed.values()):
        for entry in top:
            _check_utf8_name(Path(entry.path), "class")
        return [_scan_split(root, FLAT_SPLIT, root, follow_symlinks, listed)]
    for entry in top:
        _check_utf8_name(Path(entry.path), "split")
    if not top:
        raise DataError(
            f"no folders in {root}: expected {root}/<split>/<class>/<image>.png|jpg (e.g. train/cat/0001.jpg) "
            f"or {root}/<class>/<image>.png|jpg"
        )
    return [_scan_split(Path(entry.path), entry.name, root, follow_symlinks, listed) for entry in top]


def _holds_class_folders(listings) -> bool:
    """Whether the folders listed are class folders (<class>/<image>), not splits: none holds a folder, one an image."""
    entries = [child for listing in listings for child in listing]
    if any(child.is_dir() for child in entries):
        return False
    return any(child.name.lower().endswith(_images.IMAGE_SUFFIXES) for child in entries)


def _scan_split(split_dir: Path, name: str, root: Path, follow_symlinks: bool, listed: dict) -> _Split:
    """The class folders and image files of one split folder (the root itself for <class>/<image>).

    `listed` holds the listings of folders already read, by path (`_scan` reads the top level once).
    """
    class_dirs = []
    for entry in listed.get(split_dir) or _listdir(split_dir):
        if entry.is_dir():
            _check_entry(entry, root, follow_symlinks)
            _check_utf8_name(Path(entry.path), "class")
            class_dirs.append(Path(entry.path))
        elif entry.name.lower().endswith(_images.IMAGE_SUFFIXES):
            raise DataError(
                f"image {_shown(entry.path)} lies directly in {'split ' if split_dir != root else ''}folder "
                f"{_shown(split_dir)}, in no class folder; images must be inside class folders "
                "(<split>/<class>/<image> or <class>/<image>, the same depth everywhere)"
            )
    if not class_dirs:
        raise DataError(f"split folder {_shown(split_dir)} has no class folders (expected {_shown(split_dir)}/<class>/<images>)")
    files, stamps = [], []
    for class_dir in class_dirs:
        entries = listed.get(class_dir) or _listdir(class_dir)
        if not entries:
            raise DataError(f"class folder {_shown(class_dir)} is empty (no .png/.jpg/.jpeg files)")
        for entry in entries:
            _check_entry(entry, root, follow_symlinks)
            if entry.is_dir():
                raise DataError(f"unexpected folder {_shown(entry.path)} inside class folder {_shown(class_dir)}; nested folders are not supported")
            if not entry.is_file():
                # a FIFO named x.png would block the decoder forever
                raise DataError(f"{_shown(entry.path)} is not a regular file (a FIFO, socket or device)")
            if not entry.name.lower().endswith(_images.IMAGE_SUFFIXES):
                raise DataError(
                    f"{_shown(entry.path)} is not an image file: class folders may hold only "
                    f"{', '.join(_images.IMAGE_SUFFIXES)} files (hidden files are skipped)"
                )
            try:
                stat = entry.stat()
            except OSError as exc:
                raise DataError(f"cannot read {_shown(entry.path)}: {exc}") from exc
            files.append((class_dir.name, entry.path))
            stamps.append(f"{name}/{class_dir.name}/{entry.name}\0{stat.st_size}\0{stat.st_mtime_ns}")
    return _Split(name, files, stamps)


def _location_key(folder: Path, image_size) -> str:
    text = json.dumps({"root": str(folder.resolve()), "image_size": image_size})
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


def _files_key(splits: list[_Split], image_size) -> str:
    """Digest of every file's relative path, size and mtime, plus the decoding settings."""
    digest = hashlib.sha256(json.dumps({"format": _CACHE_FORMAT, "image_size": image_size}).encode())
    text = "\n".join(stamp for split in splits for stamp in split.stamps)
    digest.update(text.encode("utf-8", "surrogateescape"))
    return digest.hexdigest()


def _read_cache(cache: Path, files_key: str, class_names, splits) -> dict | None:
    """Return ``{split: (images, labels)}`` from the cache if it matches `files_key`, else None."""
    try:
        manifest = json.loads((cache / "manifest.json").read_text(encoding="utf-8"))
        if manifest.get("files_key") != files_key or tuple(manifest.get("class_names", ())) != class_names:
            return None
        arrays = {}
        for split in splits:
            images = np.load(cache / f"{split.name}.images.npy", allow_pickle=False)
            labels = np.load(cache / f"{split.name}.labels.npy", allow_pickle=False)
            if images.dtype != np.uint8 or labels.shape != (len(split.files),) or images.shape[0] != len(split.files):
                return None
            arrays[split.name] = (images, labels.astype(np.int64, copy=False))
        return arrays
    except (OSError, EOFError, ValueError, KeyError, TypeError):
        # Missing, partial or stale cache (another process may be replacing it): decode again.
        return None


def _write_cache(cache: Path, files_key: str, class_names, arrays: dict, folder: Path, image_size) -> None:
    with atomic_dir(cache) as tmp:
        for name, (images, labels) in arrays.items():
            _save_npy(tmp / f"{name}.images.npy", images)
            _save_npy(tmp / f"{name}.labels.npy", labels)
        write_json(
            tmp / "manifest.json",
            {
                "format": _CACHE_FORMAT,
                "root": str(folder),
                "image_size": list(image_size) if image_size else None,
                "class_names": list(class_names),
                "files": {name: int(images.shape[0]) for name, (images, _) in arrays.items()},
                "files_key": files_key,
            },
        )


def _save_npy(path: Path, array: np.ndarray) -> None:
    # Streams to the file: featpipe.atomic.save_npy would first copy 150 MB into a buffer.
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            np.save(f, array, allow_pickle=False)
            f.flush()
            os.fsync(f.fileno())


def _check_memory(splits, image_size) -> None:
    """Refuse, before decoding, image arrays that cannot fit in memory (sized from the first image)."""
    n = sum(len(split.files) for split in splits)
    if image_size is not None:
        height, width = image_size
    else:
        width, height = _images.image_dimensions(splits[0].files[0][1])  # all must share one size
    # decoded one by one, then stacked into one array per split: twice the pixels at the peak
    memory.check_fits(2 * memory.matrix_bytes(n, height * width * 3, itemsize=1),
                      f"decoding {n:,} images of {height}x{width} pixels", "set data.image_size smaller "
                      "(e.g. [64, 64]) or use fewer images", DataError)


def _decode_splits(splits, class_names, image_size, max_pixels, progress) -> dict:
    _check_memory(splits, image_size)
    index = {name: k for k, name in enumerate(class_names)}
    decoded = {}
    with ThreadPoolExecutor(max_workers=_DECODE_THREADS) as pool:
        for split in splits:
            paths = [path for _, path in split.files]
            chunks = [paths[i : i + _CHUNK] for i in range(0, len(paths), _CHUNK)]
            with _progress.stage(f"decoding {split.name}", total=len(paths), unit="img", enabled=progress) as bar:
                arrays = []
                # One task per chunk: a future per image costs more than decoding a 32x32 JPEG.
                for chunk in pool.map(lambda c: [_images.decode_image(p, image_size, max_pixels) for p in c], chunks):
                    arrays.extend(chunk)
                    bar.update(len(chunk))
            labels = np.array([index[cls] for cls, _ in split.files], dtype=np.int64)
            decoded[split.name] = (arrays, labels, paths)
    return _stack(decoded)


def _stack(decoded: dict) -> dict:
    """Stack per-image arrays, checking one common size and choosing RGB or grayscale."""
    first_shape, first_path = None, None
    for arrays, _, paths in decoded.values():
        for array, path in zip(arrays, paths):
            if first_shape is None:
                first_shape, first_path = array.shape[:2], path
            elif array.shape[:2] != first_shape:
                raise DataError(
                    f"images differ in size: {path} is {array.shape[0]}x{array.shape[1]} (HxW) but "
                    f"{first_path} is {first_shape[0]}x{first_shape[1]}; set data.image_size: [H, W] "
                    "to resize them all"
                )
    all_gray = all(a.shape[2] == 1 for arrays, _, _ in decoded.values() for a in arrays)
    channels = 1 if all_gray else 3
    out = {}
    for name, (arrays, labels, _) in decoded.items():
        images = np.empty((len(arrays), *first_shape, channels), dtype=np.uint8)
        for i, array in enumerate(arrays):
            # Grayscale among colour images: replicate the channel, as Pillow's L->RGB does.
            images[i] = array if array.shape[2] == channels else np.repeat(array, 3, axis=2)
        out[name] = (images, labels)
    return out
