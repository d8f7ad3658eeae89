"""Downloading CIFAR-10's official python archive into the cache, checksum verified."""

from __future__ import annotations

from pathlib import Path

import pooch
import requests

from featpipe.data.cache import cache_root
from featpipe.data.profile import PROFILE_HINT
from featpipe.errors import DataError

CIFAR10_URL = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
CIFAR10_MD5 = "c58f30108f718f92721af3b95e74349a"
CIFAR10_ARCHIVE = "cifar-10-python.tar.gz"


def cifar10_cache_folder(cache_dir=None) -> Path:
    """Return the folder where the CIFAR-10 archive is downloaded or may be placed by hand."""
    return cache_root(cache_dir) / "cifar10"


def download_cifar10(cache_dir=None, *, url: str = CIFAR10_URL, md5: str = CIFAR10_MD5,
                     progress: bool = True) -> Path:
    """Download ``cifar-10-python.tar.gz`` into ``cache_root(cache_dir)/cifar10`` and return its path.

    pooch streams into a temporary file beside the target and renames it only once the MD5
    matches, so an interrupted transfer or a wrong checksum leaves no file behind. An existing
    file with the right checksum is reused without any network access.
    Raises DataError on network failure (saying where to put the file by hand) or mismatch.
    """
    folder = cifar10_cache_folder(cache_dir)
    target = folder / CIFAR10_ARCHIVE
    try:
        path = pooch.retrieve(
            url,
            known_hash=f"md5:{md5}",
            fname=CIFAR10_ARCHIVE,
            path=folder,
            downloader=pooch.HTTPDownloader(progressbar=progress, timeout=60),
        )
    except requests.RequestException as exc:  # network errors, interrupted transfers, HTTP errors
        raise DataError(
            f"could not download CIFAR-10 from {url}: {type(exc).__name__}: {exc}. "
            f"Offline? Copy {CIFAR10_ARCHIVE} (md5 {md5}) to {target}, "
            "or set data.root to the archive or to the folder holding cifar-10-batches-py; or read a local "
            f"image-folder copy instead: {PROFILE_HINT}"
        ) from exc
    except ValueError as exc:  # pooch's checksum mismatch; its temporary file is already gone
        raise DataError(
            f"checksum mismatch for {CIFAR10_ARCHIVE} downloaded from {url}: expected md5 {md5}; "
            f"nothing was kept ({exc})"
        ) from exc
    return Path(path)
