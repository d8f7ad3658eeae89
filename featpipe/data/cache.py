"""Where featpipe keeps downloads, extracted archives and decoded image arrays; what is there; clearing it."""

from __future__ import annotations

import contextlib
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from stat import S_ISDIR

import pooch

from featpipe.errors import DataError

CACHE_ENV = "FEATPIPE_CACHE"


def cache_root(override: str | os.PathLike | None = None) -> Path:
    """Return the cache folder: `override`, else ``$FEATPIPE_CACHE``, else the user cache.

    The user cache is ``pooch.os_cache("featpipe")`` (e.g. ``~/.cache/featpipe`` on Linux).
    The folder is not created here; writers create what they need.
    """
    if override is not None and str(override) != "":
        return Path(override).expanduser().absolute()
    from_env = os.environ.get(CACHE_ENV, "")
    if from_env:
        return Path(from_env).expanduser().absolute()
    return Path(pooch.os_cache("featpipe")).expanduser().absolute()


#: What featpipe keeps in a cache root: top-level folder -> (entry folder, kind). An entry is one
#: child of that entry folder (an extracted archive, one decoded image set, one feature file ...).
CACHE_LAYOUT = {
    "extracted": (("extracted",), "extracted archive"),
    "folders": (("folders",), "decoded images"),
    "features": (("feature-cache", "features"), "features"),
    "estimators": (("feature-cache", "estimators"), "fitted extractor"),
    "cifar10": (("cifar10",), "download"),
}
_TOP_LEVEL = {parts[0] for parts, _ in CACHE_LAYOUT.values()}
#: What each feature file cost to compute (<key>.json beside features/<key>.npy): it belongs to
#: that entry, counted in its size and deleted with it; one left without its features is listed.
FEATURE_COSTS = ("feature-cache", "costs")


@dataclass(frozen=True)
class CacheEntry:
    """One thing in the cache: where, what kind, how big, and when it was last used."""

    path: Path
    kind: str
    size: int  # bytes, every file under it and its companions (links not followed)
    last_use: float  # seconds since the epoch: latest access or change of it or its direct children
    companions: tuple[Path, ...] = ()  # files that belong to it and go with it (a feature file's cost)


def check_featpipe_cache(root: Path) -> None:
    """Refuse a cache root holding anything featpipe does not put there (say FEATPIPE_CACHE=$HOME).

    Raises DataError naming the root and the first foreign entry.
    """
    if root == Path(root.anchor) or root == Path.home():
        raise DataError(f"cache root {root} is not featpipe's cache folder (it is {'/' if root == Path(root.anchor) else 'your home folder'}); "
                        f"set {CACHE_ENV} to a folder of its own")
    if not root.is_dir():
        return
    foreign = sorted(entry.name for entry in root.iterdir()
                     if not entry.name.startswith(".") and (entry.name not in _TOP_LEVEL or not entry.is_dir()))
    if foreign:
        raise DataError(f"cache root {root} holds {foreign[0]!r}, which featpipe does not write, so it is not "
                        f"featpipe's cache folder; nothing there is touched (featpipe keeps only "
                        f"{', '.join(sorted(_TOP_LEVEL))}); check {CACHE_ENV}")


def cache_entries(root: Path) -> list[CacheEntry]:
    """Every entry of the featpipe cache at `root`, oldest use first (after `check_featpipe_cache`)."""
    check_featpipe_cache(root)
    costs_folder = root.joinpath(*FEATURE_COSTS)
    costs = {path.stem: path for path in _listed(costs_folder) if path.suffix == ".json"}
    entries = []
    for parts, kind in CACHE_LAYOUT.values():
        for entry in _listed(root.joinpath(*parts)):
            companions = ()
            if kind == "features" and entry.suffix == ".npy" and entry.stem in costs:
                companions = (costs.pop(entry.stem),)
            paths = (entry, *companions)
            entries.append(CacheEntry(entry, kind, sum(map(_size, paths)), max(map(_last_use, paths)), companions))
    entries += [CacheEntry(path, "feature cost record", _size(path), _last_use(path)) for path in costs.values()]
    return sorted(entries, key=lambda e: e.last_use)


def _listed(folder: Path) -> list[Path]:
    """The entries of a cache folder (none if it is missing or a link), skipping writes under way."""
    if not folder.is_dir() or folder.is_symlink():
        return []
    return [entry for entry in folder.iterdir() if not entry.name.startswith(".")]  # atomic temp names start with '.'


def clear_cache(root: Path, older_than_days: float | None = None, now: float | None = None) -> list[CacheEntry]:
    """Delete the cache entries not used for `older_than_days` (all with None); return what went.

    Only entries listed by `cache_entries` are deleted, each checked to lie inside `root`; a
    symbolic link is removed, never what it points to.
    """
    if older_than_days is not None and older_than_days < 0:
        raise DataError(f"--older-than must be 0 or more days, got {older_than_days}")
    now = time.time() if now is None else now
    real_root = os.path.realpath(root)
    removed = []
    for entry in cache_entries(root):
        if older_than_days is not None and now - entry.last_use < older_than_days * 86400:
            continue
        if os.path.commonpath([real_root, os.path.realpath(entry.path.parent)]) != real_root:
            raise DataError(f"cache entry {entry.path} lies outside the cache root {root}; not deleted")
        if entry.path.is_dir() and not entry.path.is_symlink():
            shutil.rmtree(entry.path)
        else:
            entry.path.unlink()
        for companion in entry.companions:
            with contextlib.suppress(FileNotFoundError):
                companion.unlink()
        removed.append(entry)
    return removed


def mark_used(path: Path) -> None:
    """Record a cache hit on `path` (its mtime), so `featpipe cache info` and `clear --older-than` see it."""
    with contextlib.suppress(OSError):
        os.utime(path)


def format_entries(root: Path, entries: list[CacheEntry], now: float | None = None) -> str:
    """The table of `featpipe cache info`: a header row, one row per entry, then the total."""
    now = time.time() if now is None else now
    rows = [("kind", "size", "last use", "path")]
    for entry in entries:
        rows.append((entry.kind, format_size(entry.size), _format_age(now - entry.last_use),
                     str(entry.path.relative_to(root))))
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    lines = [f"cache {root}: {len(entries)} entries, {format_size(sum(e.size for e in entries))}"]
    for row in rows:
        lines.append(f"  {row[0]:<{widths[0]}}  {row[1]:>{widths[1]}}  {row[2]:>{widths[2]}}  {row[3]}")
    return "\n".join(lines)


def format_size(size: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1000 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    return f"{size} B"  # pragma: no cover


def _format_age(seconds: float) -> str:
    seconds = max(0.0, seconds)
    if seconds < 3600:
        return f"{seconds / 60:.0f} min ago"
    if seconds < 86400:
        return f"{seconds / 3600:.1f} h ago"
    return f"{seconds / 86400:.1f} days ago"


def _size(path: Path) -> int:
    if not path.is_dir() or path.is_symlink():
        return path.lstat().st_size
    total = 0
    for folder, _, files in os.walk(path):
        for name in files:
            with contextlib.suppress(OSError):
                total += os.lstat(os.path.join(folder, name)).st_size
    return total


def _last_use(path: Path) -> float:
    """Latest mtime of `path` and its direct children, and access time of those that are files.

    A folder's access time is not a use (listing it, as `cache info` does, sets it); a file's
    is (reading it); `mark_used` sets the mtime on the cache hits featpipe's data code makes.
    """
    paths = [path]
    if path.is_dir() and not path.is_symlink():
        with contextlib.suppress(OSError):
            paths.extend(path.iterdir())
    times = []
    for item in paths:
        with contextlib.suppress(OSError):
            stat = item.lstat()
            times.append(stat.st_mtime if S_ISDIR(stat.st_mode) else max(stat.st_atime, stat.st_mtime))
    return max(times, default=0.0)

