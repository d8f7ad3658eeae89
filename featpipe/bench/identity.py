"""Run identity: what a run computes (its resolved config) plus what it reads (its data).

A run's ID is ``<config name>-<10 hex digits>``: the digits hash the config digest together
with a cheap identity of the data, so the same config on a replaced archive is a new run,
while re-planning the same batch gives the same IDs. Nothing here decodes an image: the
identity of a folder or archive is made from file paths, sizes and modification times.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from featpipe.config import Config
from featpipe.data.profile import apply_profile
from featpipe.errors import DataError

#: The official CIFAR-10 archive is verified against a fixed MD5 before use, so it is one data set.
_CIFAR10_OFFICIAL = "cifar10:official-python-archive"


def absolute_path(value: str | os.PathLike) -> str:
    """`value` with ``~`` and ``$VARS`` expanded, made absolute against the working directory."""
    expanded = os.path.expandvars(os.path.expanduser(str(value)))
    return os.path.abspath(expanded)


def resolved_path(value: str | os.PathLike) -> str:
    """The file `value` names, whatever the spelling: absolute, ``..`` and symbolic links resolved.

    ``../shared/x.tar.gz`` from one folder and ``/a/shared/x.tar.gz`` (or a link to it) are one
    file, so one run identity: a batch planned from another working directory finds its runs.
    """
    return os.path.realpath(absolute_path(value))


def resolve_data_paths(data: dict) -> None:
    """Apply the data profile, then make ``data.root`` the resolved file and ``data.cache_dir`` absolute, in place.

    Relative data paths in configs mean "relative to the working directory"; a worker on
    another machine or in another folder must get the same files, so they are fixed here,
    in the process that planned the batch. The root is resolved (`resolved_path`) because it
    is part of the config digest, hence of the run ID.
    """
    apply_profile(data)
    section = data.get("data")
    if not isinstance(section, dict):
        return
    for key, resolve in (("root", resolved_path), ("cache_dir", absolute_path)):
        value = section.get(key)
        if isinstance(value, (str, os.PathLike)) and str(value) != "":
            section[key] = resolve(value)


def data_identity(config: Config, memo: dict[str, str] | None = None) -> str:
    """A short text that changes when the data a run reads changes (without decoding it).

    digits: fixed (shipped inside scikit-learn). An archive: its resolved path, size and
    mtime_ns (a rewrite changes the stamp; see `featpipe.data.archive.archive_key` for why
    not a content hash). A folder: a digest of every file's relative path, size and mtime under it. CIFAR-10
    without a root: the official archive, which is checksum-verified on download.

    Raises DataError naming the path when a configured data root does not exist.
    """
    data = config.data
    if data.source == "digits":
        return "digits"
    if data.root is None:
        if data.source == "cifar10":
            return _CIFAR10_OFFICIAL
        raise DataError(f"run {config.name!r}: data.source={data.source} needs data.root (an image folder or .tar.gz)")
    root = Path(resolved_path(data.root))
    key = str(root)
    if memo is not None and key in memo:
        return memo[key]
    if root.is_file():
        stat = root.stat()
        identity = f"{data.source}:file:{root}:{stat.st_size}:{stat.st_mtime_ns}"
    elif root.is_dir():
        identity = f"{data.source}:folder:{root}:{_folder_digest(root)}"
    else:
        raise DataError(
            f"run {config.name!r}: data.root {root} does not exist (relative data paths are read from the "
            f"working directory, {os.getcwd()})"
        )
    if memo is not None:
        memo[key] = identity
    return identity


def _folder_digest(root: Path) -> str:
    """Digest of (relative path, size, mtime) of every non-hidden file under `root`, sorted."""
    digest = hashlib.sha256()
    entries = []
    for folder, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        for name in files:
            if name.startswith("."):
                continue
            path = os.path.join(folder, name)
            try:
                stat = os.stat(path)
            except OSError as exc:
                raise DataError(f"cannot read {path}: {exc}") from None
            entries.append(f"{os.path.relpath(path, root)}\0{stat.st_size}\0{stat.st_mtime_ns}\n")
    for entry in sorted(entries):
        digest.update(entry.encode("utf-8", "surrogateescape"))
    return digest.hexdigest()[:32]


def run_id(config: Config, identity: str) -> str:
    """``<config name>-<10 hex digits of sha256(config digest, data identity)>``."""
    text = json.dumps({"config": config.digest(), "data": identity}, sort_keys=True)
    return f"{config.name}-{hashlib.sha256(text.encode('utf-8')).hexdigest()[:10]}"
