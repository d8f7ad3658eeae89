"""Safe extraction of .tar.gz archives into the cache.

Archives come from users and mirrors, so every member is checked before anything is written:
no absolute paths, no ``..``, no links, no devices or FIFOs, nothing that resolves outside the
target folder, and nothing sparse. Python's ``filter="data"`` runs as a second line of defence
where it exists (3.11.4+).

Archive bombs are bounded by `ArchiveLimits` (total bytes, member count, compression ratio,
bytes per member, and the free disk space): the declared sizes are checked header by header
before anything is written, so a refused archive is never decompressed in full, and the bytes
actually written are counted again while extracting. The archive is extracted into a hidden
temporary folder named after this host and process, renamed into place only when complete and
removed when anything fails; one left behind by a killed process is removed by the next load.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import socket
import tarfile
import tempfile
import time
import zlib
from dataclasses import dataclass
from pathlib import Path, PurePosixPath


from featpipe import progress as _progress
from featpipe.data.cache import cache_root, mark_used
from featpipe.errors import DataError

ARCHIVE_SUFFIXES = (".tar.gz", ".tgz")
_GiB, _MiB = 2**30, 2**20
# A temporary extraction folder older than this is removed whoever made it (its process is gone).
_STALE_SECONDS = 24 * 3600


@dataclass(frozen=True)
class ArchiveLimits:
    """What an archive may expand to. Each can be changed with the environment variable named."""

    max_bytes: int = 32 * _GiB  # FEATPIPE_ARCHIVE_MAX_BYTES: sum of the members' sizes
    max_members: int = 2_000_000  # FEATPIPE_ARCHIVE_MAX_MEMBERS: files and folders
    max_member_bytes: int = 256 * _MiB  # FEATPIPE_ARCHIVE_MAX_MEMBER_BYTES: one file (an image)
    max_ratio: float = 100.0  # FEATPIPE_ARCHIVE_MAX_RATIO: expanded size / archive size
    ratio_floor: int = 64 * _MiB  # the ratio is enforced only above this many expanded bytes

    @classmethod
    def from_env(cls) -> "ArchiveLimits":
        """The defaults, overridden by any FEATPIPE_ARCHIVE_* variable that is set."""
        from featpipe.memory import parse_bytes

        values = {}
        for field, parse in (("max_bytes", parse_bytes), ("max_member_bytes", parse_bytes),
                             ("max_members", _parse_int), ("max_ratio", _parse_float)):
            name = f"FEATPIPE_ARCHIVE_{field.upper()}"
            if os.environ.get(name, "").strip():
                values[field] = parse(os.environ[name], name)
        return cls(**values)


def _parse_int(text: str, where: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise DataError(f"{where}={text!r}: expected a whole number") from None


def _parse_float(text: str, where: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise DataError(f"{where}={text!r}: expected a number") from None


def is_archive(path: str | os.PathLike) -> bool:
    """Return True if `path` names a gzipped tar archive by its suffix."""
    return str(path).lower().endswith(ARCHIVE_SUFFIXES)


def archive_key(path: Path) -> str:
    """Return a digest of the archive's resolved path, size and modification time (ns).

    The resolved path (``..`` and links followed) makes every spelling of one file one key,
    so ``../shared/x.tar.gz`` from two working directories is extracted once. Size + mtime_ns
    cost one stat and change whenever the file is rewritten, so a replaced archive is never
    served stale; a hash of the archive's head and tail would also survive a copy, but it
    reads the file on every load, and a copy or `touch` only costs one more extraction.
    """
    resolved = Path(os.path.realpath(path))
    stat = resolved.stat()
    text = f"{resolved}\0{stat.st_size}\0{stat.st_mtime_ns}"
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


def extract_archive(archive: str | os.PathLike, cache_dir=None, *, progress: bool = True,
                    limits: ArchiveLimits | None = None) -> Path:
    """Extract `archive` once into ``cache_root(cache_dir)/extracted/<key>`` and return that folder.

    The key changes when the archive's path, size or mtime does, so a replaced archive is
    extracted afresh. Raises DataError naming the archive (and the member, for unsafe ones, or
    the limit that tripped; `limits` default to `ArchiveLimits.from_env()`).
    """
    archive = Path(archive).expanduser().absolute()
    if not archive.is_file():
        raise DataError(f"archive {archive} does not exist or is not a file")
    target = cache_root(cache_dir) / "extracted" / archive_key(archive)
    remove_stale_extractions(target.parent)  # whichever archive a killed process was extracting
    if target.is_dir():
        mark_used(target)
        return target
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.{_owner_tag()}.", suffix=".tmp", dir=target.parent))
    except OSError as exc:
        raise DataError(f"cannot extract {archive} into the cache folder {target.parent}: {exc}; "
                        "set FEATPIPE_CACHE (or data.cache_dir) to a writable folder") from None
    try:
        _extract_checked(archive, tmp, progress=progress, limits=limits or ArchiveLimits.from_env())
        try:
            os.rename(tmp, target)
        except OSError:
            # Another process finished the same extraction first; theirs is just as good.
            if not target.is_dir():
                raise
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return target


def _extract_checked(archive: Path, dest: Path, *, progress: bool, limits: ArchiveLimits) -> None:
    """Check every member of `archive` and the limits, then extract them all under `dest`.

    Creating the files dominates (about 1 ms each on this project's VMs); writing them from
    several threads was measured no faster, so extraction stays serial.
    """
    try:
        with tarfile.open(archive, "r:gz") as tar:
            members = _checked_members(tar, archive, dest, limits)
            written = 0
            with _progress.stage(f"extracting {archive.name}", total=len(members), unit="file",
                                 enabled=progress) as bar:
                for member in members:
                    bar.update(1)
                    _extract_member(tar, member, dest)
                    if member.isfile():
                        # Counted again on disk: the limits hold whatever the headers claimed.
                        size = os.path.getsize(dest / member.name)
                        written += size
                        if size > limits.max_member_bytes:
                            raise _over(archive, f"member {member.name!r} wrote {size:,} bytes", "max_member_bytes")
                        if written > limits.max_bytes:
                            raise _over(archive, f"extracting it wrote over {limits.max_bytes:,} bytes", "max_bytes")
    except DataError:
        raise
    except _FILTER_ERRORS as exc:
        raise DataError(f"refusing to extract {archive}: {exc}") from exc
    except (tarfile.TarError, EOFError, zlib.error, OSError) as exc:
        raise DataError(f"cannot extract archive {archive}: {exc} (corrupt or not a .tar.gz?)") from exc


#: Python 3.11.4+ (and 3.8.17+, 3.9.17+, 3.10.12+) vets extracted members with its "data" filter.
_HAS_DATA_FILTER = hasattr(tarfile, "data_filter")
_FILTER_ERRORS = (tarfile.FilterError,) if hasattr(tarfile, "FilterError") else ()


def _extract_member(tar: tarfile.TarFile, member: tarfile.TarInfo, dest: Path) -> None:
    """Write one checked member (a plain file or folder) under `dest`.

    Where Python has the "data" filter it vets the member again (a second line of defence);
    older 3.11 releases lack it, so the member's bytes are copied into a new file of default
    permissions instead: no link, device, owner or mode from the archive is ever applied.
    """
    if _HAS_DATA_FILTER:
        tar.extract(member, dest, filter="data")
        return
    target = dest / member.name
    if member.isdir():
        target.mkdir(parents=True, exist_ok=True)
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    source = tar.extractfile(member)
    with source, open(target, "xb") as out:
        shutil.copyfileobj(source, out)


def _checked_members(tar: tarfile.TarFile, archive: Path, dest: Path, limits: ArchiveLimits) -> list:
    """The members of `tar`, read header by header, refusing at the first that breaks a rule."""
    compressed = max(archive.stat().st_size, 1)
    members, total = [], 0
    for member in tar:  # stops reading at the first refusal: a bomb is never decompressed in full
        check_member(member, dest, archive)
        members.append(member)
        total += member.size
        if len(members) > limits.max_members:
            raise _over(archive, f"it holds more than {limits.max_members:,} members", "max_members")
        if member.size > limits.max_member_bytes:
            raise _over(archive, f"member {member.name!r} is {member.size:,} bytes, over the "
                        f"per-file limit of {limits.max_member_bytes:,}", "max_member_bytes")
        if total > limits.max_bytes:
            raise _over(archive, f"it expands to more than {limits.max_bytes:,} bytes", "max_bytes")
        if total > limits.ratio_floor and total > limits.max_ratio * compressed:
            raise _over(archive, f"it expands to over {total / compressed:.0f} times its size "
                        f"({total:,} bytes from {compressed:,}); the limit is {limits.max_ratio:g} times", "max_ratio")
    free = shutil.disk_usage(dest).free
    if total > free:
        raise DataError(f"refusing to extract {archive}: it expands to {total:,} bytes but only {free:,} "
                        f"are free in {dest.parent}; free some space or set FEATPIPE_CACHE to a larger disk")
    return members


def _over(archive: Path, what: str, limit: str) -> DataError:
    """The error for a tripped limit, naming the environment variable that raises it."""
    return DataError(f"refusing to extract {archive}: {what} (an archive bomb?); if the archive is "
                     f"trusted, raise the limit with FEATPIPE_ARCHIVE_{limit.upper()}")


def _owner_tag() -> str:
    """'<host>-<pid>': lets a later load tell whether the process extracting is still alive."""
    host = "".join(c if c.isalnum() or c == "-" else "_" for c in socket.gethostname())[:40] or "host"
    return f"{host}-{os.getpid()}"


def remove_stale_extractions(folder: Path) -> list[Path]:
    """Remove temporary extraction folders (``.<key>.<host>-<pid>.<random>.tmp``) whose process is dead.

    A folder of this host whose process no longer exists is removed at once; any folder older
    than a day is removed whoever made it. Returns what was removed.
    """
    removed = []
    host = _owner_tag().rsplit("-", 1)[0]
    try:
        entries = [e for e in os.scandir(folder) if e.name.startswith(".") and e.name.endswith(".tmp") and e.is_dir()]
    except OSError:
        return removed
    for entry in entries:
        parts = entry.name.split(".")  # ["", key, host-pid, random, "tmp"]
        owner_host, _, pid = parts[2].rpartition("-") if len(parts) >= 5 else ("", "", "")
        try:
            age = time.time() - entry.stat().st_mtime
        except OSError:
            continue
        dead = owner_host == host and pid.isdigit() and not _alive(int(pid))
        if dead or age > _STALE_SECONDS:
            shutil.rmtree(entry.path, ignore_errors=True)
            removed.append(Path(entry.path))
    return removed


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, owned by someone else
    return True


def check_member(member: tarfile.TarInfo, dest: Path, archive: Path) -> None:
    """Raise DataError naming `member` unless it is a plain file or folder inside `dest`."""
    name = member.name

    def refuse(why: str) -> DataError:
        return DataError(f"refusing to extract {archive}: member {name!r} {why}")

    if member.issym() or member.islnk():
        raise refuse(f"is a {'symbolic' if member.issym() else 'hard'} link (to {member.linkname!r})")
    if member.isdev():
        raise refuse("is a device or FIFO")
    if member.issparse():
        raise refuse("is a sparse file (its size on disk is not what the archive holds)")
    if not (member.isfile() or member.isdir()):
        raise refuse(f"has unsupported type {member.type!r}")
    if name.startswith(("/", "\\")) or PurePosixPath(name).is_absolute() or (len(name) > 1 and name[1] == ":"):
        raise refuse("has an absolute path")
    parts = name.replace("\\", "/").split("/")
    if ".." in parts:
        raise refuse("contains '..'")
    # Lexical check: links are refused above, so no component of the path can redirect it.
    root = os.path.normpath(dest.absolute())
    landing = os.path.normpath(os.path.join(root, name))
    if os.path.commonpath([root, landing]) != root:
        raise refuse(f"would land outside the target folder ({landing})")
