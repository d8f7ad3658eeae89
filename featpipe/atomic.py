"""Atomic file writes: a reader sees the old file or the new one, never a torn one.

Each writer fills a temporary file in the destination's folder, flushes it to disk, then
renames it over the destination (`os.replace` is atomic within one file system). A temporary
folder holds a ``.writer`` record (host, pid) until it is moved into place, so a later process
can tell the leftovers of a killed writer (`clear_dead_writers`) from the work of a live one.

Every OSError of the writing itself (read-only or full file system, no permission) becomes an
`OutputError` naming the path, raised without the chained low-level traceback.
"""

from __future__ import annotations

import contextlib
import errno
import io
import json
import os
import platform
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from .errors import OutputError

WRITER_FILE = ".writer"
#: A temporary folder without a readable writer record, or written from another machine, is
#: taken for a dead writer's once it is this old (a run folder is moved into place in seconds).
STALE_SECONDS = 600.0

_HINTS = {
    errno.ENOSPC: "the file system is full: free some space or write to another folder",
    getattr(errno, "EDQUOT", errno.ENOSPC): "no space left for you: free some space or write to another folder",
    errno.EROFS: "the file system is read-only: write to another folder",
    errno.EACCES: "permission denied: write to a folder you may write to",
    errno.EPERM: "operation not permitted: write to a folder you may write to",
}


def output_error(exc: OSError, path: str | os.PathLike, use_filename: bool = True) -> OutputError:
    """featpipe's one-paragraph error for an OSError met while writing `path` (or the file it names)."""
    culprit = exc.filename if exc.filename and use_filename else path
    reason = exc.strerror or str(exc) or type(exc).__name__
    hint = _HINTS.get(exc.errno or -1)
    return OutputError(f"cannot write {culprit}: {reason}" + (f"; {hint}" if hint else ""))


@contextlib.contextmanager
def writing(path: str | os.PathLike, use_filename: bool = True) -> Iterator[None]:
    """Turn an OSError raised inside the block into an OutputError naming `path` (or the file it names)."""
    try:
        yield
    except OSError as exc:
        raise output_error(exc, path, use_filename) from None


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, suffix: str = "") -> Iterator[Path]:
    """Yield a temporary path beside `path`; on success rename it to `path`, else delete it."""
    path = Path(path)
    with writing(path):
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix + ".tmp", dir=path.parent)
        os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        with writing(path):
            # mkstemp makes the file private (0600); give it the permissions a plain open() would
            os.chmod(tmp_path, 0o666 & ~_umask())
            os.replace(tmp_path, path)
    finally:
        with contextlib.suppress(OSError):
            tmp_path.unlink(missing_ok=True)


def write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write `data` to `path` atomically."""
    with atomic_path(path) as tmp, writing(path):
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())


def write_text(path: str | os.PathLike, text: str) -> None:
    """Write `text` (UTF-8) to `path` atomically."""
    write_bytes(path, text.encode("utf-8"))


def write_json(path: str | os.PathLike, obj: Any) -> None:
    """Write `obj` as indented JSON to `path` atomically."""
    write_text(path, json.dumps(obj, indent=2, sort_keys=False, default=_json_default) + "\n")


def save_npz(path: str | os.PathLike, arrays: dict[str, np.ndarray], compress: bool = False) -> None:
    """Save named arrays to an `.npz` file atomically (readable with allow_pickle=False)."""
    buffer = io.BytesIO()
    (np.savez_compressed if compress else np.savez)(buffer, **arrays)
    write_bytes(path, buffer.getvalue())


def save_npy(path: str | os.PathLike, array: np.ndarray) -> None:
    """Save one array to a `.npy` file atomically."""
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)  # to a buffer: given a path, np.save would append ".npy"
    write_bytes(path, buffer.getvalue())


def staging_dir(path: str | os.PathLike) -> Path:
    """A new temporary folder ``.<name>.<random>.tmp`` beside `path`, marked with its writer."""
    path = Path(path)
    with writing(path, use_filename=False):  # name the folder being made, not its hidden stand-in
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
        try:
            _mark_writer(tmp)
        except OSError:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
    return tmp


def move_into_place(tmp: Path, path: str | os.PathLike, replace: bool = True) -> None:
    """Move the finished folder `tmp` to `path`; an existing `path` is replaced only if `replace`.

    Without `replace`, FileExistsError is raised when `path` exists: it is reserved first with
    mkdir (atomic: of two writers, one wins), then `tmp` is renamed onto the empty folder.
    """
    path = Path(path)
    with writing(path, use_filename=False):
        (tmp / WRITER_FILE).unlink(missing_ok=True)
        os.chmod(tmp, 0o777 & ~_umask())  # mkdtemp makes the folder private (0700)
        if not replace:
            os.mkdir(path)  # FileExistsError if another run holds the name
            os.replace(tmp, path)  # onto an empty folder: allowed, atomic
        elif path.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".old", dir=path.parent))
            _mark_writer(old)
            os.replace(path, old / "x")
            os.replace(tmp, path)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, path)


@contextlib.contextmanager
def atomic_dir(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary folder beside `path`; on success move it to `path`, else delete it.

    An existing `path` is replaced only once the new folder is complete.
    """
    tmp = staging_dir(path)
    try:
        yield tmp
        move_into_place(tmp, path)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def clear_dead_writers(folder: str | os.PathLike) -> list[Path]:
    """Delete the temporary files and folders killed writers left in `folder`; returns them.

    A ``.*.tmp`` / ``.*.old`` folder is a dead writer's when its ``.writer`` record names a
    process of this machine that no longer exists (or, without a record or from another machine,
    when it is older than STALE_SECONDS). A ``.old`` folder holds the previous version of a folder
    that was being replaced: if that folder is missing, the previous version is put back.
    """
    folder = Path(folder)
    if not folder.is_dir():
        return []
    cleared = []
    for leftover in sorted([*folder.glob(".*.tmp"), *folder.glob(".*.old")]):
        try:
            if leftover.is_dir() and not _writer_dead(leftover):
                continue
            if not leftover.is_dir() and time.time() - leftover.stat().st_mtime < STALE_SECONDS:
                continue
            if leftover.suffix == ".old":
                _restore(leftover)
            if leftover.is_dir():
                shutil.rmtree(leftover, ignore_errors=True)
            else:
                leftover.unlink(missing_ok=True)
        except OSError:
            continue
        cleared.append(leftover)
    return cleared


def host_name() -> str:
    return platform.node() or "localhost"


def pid_alive(pid: int) -> bool:
    """Whether a process with this id exists on this machine."""
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except (OSError, ValueError, OverflowError, TypeError):
        return False
    return True


def _mark_writer(folder: Path) -> None:
    (folder / WRITER_FILE).write_text(json.dumps({"host": host_name(), "pid": os.getpid()}), encoding="utf-8")


def _writer_dead(folder: Path) -> bool:
    try:
        writer = json.loads((folder / WRITER_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        writer = None
    if isinstance(writer, dict) and writer.get("host") == host_name():
        return not pid_alive(writer.get("pid", -1))
    return time.time() - folder.stat().st_mtime >= STALE_SECONDS


def _restore(old: Path) -> None:
    """Put back the folder a killed replace had moved aside, if nothing took its place."""
    name = old.name[1:-len(".old")].rsplit(".", 1)[0]
    target = old.parent / name
    if (old / "x").is_dir() and not target.exists():
        os.replace(old / "x", target)


def _read_umask() -> int:
    # os.umask can only be read by setting it; done once at import, before any worker threads
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


_UMASK = _read_umask()


def _umask() -> int:
    return _UMASK


def _json_default(obj: Any) -> Any:
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"cannot write {type(obj).__name__} as JSON")
