"""One entry point for every data source, and the CLI's short data specs."""

from __future__ import annotations

import os
from pathlib import Path

from featpipe import memory
from featpipe.data import images as _images
from featpipe.data.dataset import Dataset
from featpipe.errors import DataError

_SPEC_HELP = "digits, cifar10, cifar10:DIR, folder:PATH, or a path to an image folder or .tar.gz"


def load_source(
    source: str,
    *,
    root=None,
    cache_dir=None,
    download: bool = True,
    image_size: tuple[int, int] | None = None,
    max_image_pixels: int | None = None,
    follow_symlinks: bool = False,
    progress: bool = True,
) -> dict[str, Dataset]:
    """Load a data source and return its splits, e.g. ``{"train": ds, "test": ds}``.

    Parameters
    ----------
    source : {"digits", "folder", "cifar10"}
        ``digits``: scikit-learn's 8x8 digits (split ``train``). ``folder``: an image folder
        or .tar.gz at `root` (its own split folders). ``cifar10``: the official python batches
        (splits ``train`` and ``test``) at `root`, or in the cache, downloaded if allowed.
    root : str or Path, optional
        Where the data is; required for ``folder``, optional for ``cifar10``, unused by ``digits``.
    cache_dir : str or Path, optional
        Cache root override (else ``$FEATPIPE_CACHE``, else the user cache folder).
    download : bool
        Let ``cifar10`` download its archive when it is not found.
    image_size : (int, int), optional
        Resize every image to (height, width) with Pillow's antialiased filter.
    max_image_pixels, follow_symlinks
        ``folder`` only: the per-image pixel limit and whether links may leave the folder
        (see `featpipe.data.folder.load_folder`).
    progress : bool
        Show progress bars for long steps.
    """
    if source not in SOURCES:
        raise DataError(f"data.source={source!r} is not a known source; choose one of {', '.join(SOURCES)}")
    return SOURCES[source](root, cache_dir=cache_dir, download=download,
                           image_size=_images.check_image_size(image_size), max_image_pixels=max_image_pixels,
                           follow_symlinks=follow_symlinks, progress=progress)


# ----------------------------------------------------------------------------- the sources
# Each takes (root, **settings) and returns the source's splits, resized to `image_size` if given.
# Adding a source is one function here (or in its own module) and one entry in SOURCES.


def _digits(root, *, image_size, **_) -> dict[str, Dataset]:
    if root is not None:
        raise DataError(f"data.source=digits is built in and takes no data.root (got {root!r})")
    from featpipe.data.digits import load_digits

    return _resized(load_digits(), image_size)


def _folder(root, *, cache_dir, image_size, max_image_pixels, follow_symlinks, progress, **_) -> dict[str, Dataset]:
    from featpipe.data.folder import load_folder

    return load_folder(root, cache_dir=cache_dir, image_size=image_size, max_image_pixels=max_image_pixels,
                       follow_symlinks=follow_symlinks, progress=progress)


def _cifar10(root, *, cache_dir, download, image_size, progress, **_) -> dict[str, Dataset]:
    from featpipe.data.cifar10 import load_cifar10

    return _resized(load_cifar10(root, cache_dir=cache_dir, download=download, progress=progress), image_size)


#: The registry of data sources: `data.source` names, in the order help texts list them.
SOURCES = {"digits": _digits, "folder": _folder, "cifar10": _cifar10}


def _resized(splits: dict[str, Dataset], image_size: tuple[int, int] | None) -> dict[str, Dataset]:
    """Every split resized to `image_size` (None: as they are), after checking the memory it needs."""
    if image_size is None:
        return splits
    n = sum(len(ds) for ds in splits.values())
    channels = next(iter(splits.values())).images.shape[3]
    memory.check_fits(memory.matrix_bytes(n, image_size[0] * image_size[1] * channels, itemsize=1),
                      f"resizing {n:,} images to {image_size[0]}x{image_size[1]}",
                      "set data.image_size smaller", DataError)
    return {
        name: Dataset(_images.resize_images(ds.images, image_size), ds.labels, ds.class_names, ds.source)
        for name, ds in splits.items()
    }


def parse_spec(spec: str) -> dict:
    """Turn a CLI data spec into keyword arguments for `load_source`.

    ``"digits"`` and ``"cifar10"`` name sources; ``"cifar10:DIR"`` and ``"folder:PATH"`` add a
    root; any other text must be an existing path (folder or .tar.gz) and means ``folder``.
    A folder literally named ``digits`` can be given as ``./digits`` or ``folder:digits``.
    """
    if not isinstance(spec, str) or not spec.strip():
        raise DataError(f"empty data spec {spec!r}; expected {_SPEC_HELP}")
    spec = spec.strip()
    if spec in ("digits", "cifar10"):
        return {"source": spec}
    prefix, sep, rest = spec.partition(":")
    if sep and prefix in ("folder", "cifar10", "digits"):
        if prefix == "digits":
            raise DataError(f"data spec {spec!r}: digits is built in and takes no path")
        if not rest:
            raise DataError(f"data spec {spec!r} has no path after '{prefix}:'; expected {_SPEC_HELP}")
        return {"source": prefix, "root": rest}
    if os.path.exists(os.path.expanduser(spec)):
        return {"source": "folder", "root": spec}
    raise DataError(f"data spec {spec!r} is neither a source nor an existing path; expected {_SPEC_HELP}")


def describe(splits: dict[str, Dataset]) -> str:
    """Summarise splits for ``featpipe data info``: count, image shape, dtype, per-class counts."""
    lines = []
    for name, ds in splits.items():
        _, height, width, channels = ds.images.shape
        lines.append(
            f"{name}: {len(ds)} images, {height}x{width}x{channels} (HxWxC) {ds.images.dtype}, "
            f"{len(ds.class_names)} classes, fingerprint {ds.fingerprint()[:12]}"
        )
        lines.append(f"  source: {ds.source}")
        counts = [int((ds.labels == k).sum()) for k in range(len(ds.class_names))]
        width_name = max([len(n) for n in ds.class_names] + [len("class")])
        width_count = max([len(str(c)) for c in counts] + [len("images")])
        lines.append(f"  {'label':>5}  {'class':<{width_name}}  {'images':>{width_count}}")
        for label, (class_name, count) in enumerate(zip(ds.class_names, counts)):
            lines.append(f"  {label:>5}  {class_name:<{width_name}}  {count:>{width_count}}")
    return "\n".join(lines)
