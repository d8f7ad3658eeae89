"""Archive bombs: limits on total bytes, members, ratio and file size; nothing left behind."""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import tarfile
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from featpipe.data import archive as archive_module
from featpipe.data.archive import ArchiveLimits, extract_archive
from featpipe.errors import DataError

MiB = 2**20


def _png(value: int) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(np.full((6, 6, 3), value, np.uint8)).save(buffer, format="PNG")
    return buffer.getvalue()


def make_archive(path: Path, members: list[tuple[str, bytes]]) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), 0o644
            tar.addfile(info, io.BytesIO(data))
    return path


def images(n: int = 4) -> list[tuple[str, bytes]]:
    return [(f"train/{cls}/{i}.png", _png((37 * i + 101 * k) % 256)) for k, cls in enumerate(["a", "b"]) for i in range(n)]


def extracted(cache: Path) -> list[str]:
    """Everything in the cache's extraction folder: must be empty after a refusal."""
    folder = cache / "extracted"
    return sorted(os.listdir(folder)) if folder.exists() else []


def test_one_huge_member_of_zeros(cli, tmp_path, isolated_cache, monkeypatch):
    bomb = make_archive(tmp_path / "bomb.tar.gz", images() + [("train/a/zeros.png", bytes(8 * MiB))])
    assert bomb.stat().st_size < 64 * 1024
    monkeypatch.setenv("FEATPIPE_ARCHIVE_MAX_MEMBER_BYTES", "1MiB")
    cli("data", "info", bomb, "-q", code=1,
        says=[str(bomb), "'train/a/zeros.png' is 8,388,608 bytes", "FEATPIPE_ARCHIVE_MAX_MEMBER_BYTES"])
    assert extracted(isolated_cache) == []


def test_refused_at_the_header_before_decompressing_the_rest(tmp_path, isolated_cache):
    bomb = make_archive(tmp_path / "bomb.tar.gz", [("train/a/zeros.png", bytes(64 * MiB))] + images())
    bomb.write_bytes(bomb.read_bytes()[:2000])  # the rest of the stream is gone: never read
    with pytest.raises(DataError, match="is 67,108,864 bytes, over the per-file limit"):
        extract_archive(bomb, limits=ArchiveLimits(max_member_bytes=MiB))
    assert extracted(isolated_cache) == []


def test_total_bytes(cli, tmp_path, isolated_cache, monkeypatch):
    archive = make_archive(tmp_path / "many.tar.gz", images() + [(f"train/b/z{i}.png", bytes(MiB // 2)) for i in range(4)])
    monkeypatch.setenv("FEATPIPE_ARCHIVE_MAX_BYTES", "1MiB")
    cli("data", "info", archive, "-q", code=1, says=[str(archive), "expands to more than 1,048,576 bytes"])
    assert extracted(isolated_cache) == []


def test_member_count(cli, tmp_path, isolated_cache, monkeypatch):
    archive = make_archive(tmp_path / "count.tar.gz", images(6))
    monkeypatch.setenv("FEATPIPE_ARCHIVE_MAX_MEMBERS", "5")
    cli("data", "info", archive, "-q", code=1, says=[str(archive), "more than 5 members"])
    assert extracted(isolated_cache) == []


def test_compression_ratio(tmp_path, isolated_cache):
    archive = make_archive(tmp_path / "ratio.tar.gz", images() + [("train/b/zeros.png", bytes(4 * MiB))])
    with pytest.raises(DataError, match=r"expands to over \d+ times its size .* the limit is 100 times"):
        extract_archive(archive, limits=ArchiveLimits(ratio_floor=MiB))
    assert extracted(isolated_cache) == []
    # the same archive within the default floor (64 MiB) is fine: small archives may compress well
    assert (extract_archive(archive, progress=False) / "train" / "b" / "zeros.png").stat().st_size == 4 * MiB


def test_bad_limit_setting_is_named(cli, tmp_path, monkeypatch):
    archive = make_archive(tmp_path / "ok.tar.gz", images())
    monkeypatch.setenv("FEATPIPE_ARCHIVE_MAX_MEMBERS", "lots")
    cli("data", "info", archive, "-q", code=1, says=["FEATPIPE_ARCHIVE_MAX_MEMBERS='lots'"])


def test_ordinary_archive_still_loads(cli, tmp_path):
    archive = make_archive(tmp_path / "ok.tar.gz", images())
    cli("data", "info", archive, "-q", code=0, says=["train: 8 images"])


@pytest.mark.parametrize("data_filter", [True, False], ids=["python-data-filter", "python-3.11.0-3"])
def test_extraction_with_and_without_pythons_data_filter(tmp_path, isolated_cache, monkeypatch, data_filter):
    """Python before 3.11.4 has no tarfile "data" filter: the members are copied out by hand,
    with the same bytes and without the archive's permission bits (here a setuid 0o4777)."""
    if data_filter and not hasattr(tarfile, "data_filter"):
        pytest.skip("this Python has no tarfile data filter")
    monkeypatch.setattr(archive_module, "_HAS_DATA_FILTER", data_filter)
    members = images(2)
    archive = tmp_path / "modes.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), 0o4777
            tar.addfile(info, io.BytesIO(data))
    root = extract_archive(archive, progress=False)
    for name, data in members:
        written = root / name
        assert written.read_bytes() == data
        assert not written.stat().st_mode & 0o6000  # no setuid/setgid from the archive


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_leftovers_of_dead_processes_are_removed_on_the_next_load(tmp_path, isolated_cache):
    archive = make_archive(tmp_path / "ok.tar.gz", images())
    extract_archive(archive, progress=False)  # the next load is a cache hit: it cleans up all the same
    folder = isolated_cache / "extracted"
    host = archive_module._owner_tag().rsplit("-", 1)[0]
    dead = folder / f".k1.{host}-{_dead_pid()}.abc.tmp"
    alive = folder / f".k2.{host}-{os.getppid()}.def.tmp"  # our parent: still running
    old = folder / ".k3.otherhost-1.ghi.tmp"
    for leftover in (dead, alive, old):
        (leftover / "train").mkdir(parents=True)
        (leftover / "train" / "partial.png").write_bytes(b"half")
    two_days_ago = time.time() - 2 * 86400
    os.utime(old, (two_days_ago, two_days_ago))
    extract_archive(archive, progress=False)
    assert not dead.exists() and not old.exists()
    assert alive.exists()


def test_a_killed_extraction_is_cleaned_up(tmp_path, isolated_cache):
    archive = make_archive(tmp_path / "slow.tar.gz", images(20))
    script = textwrap.dedent(f"""
        import time
        from pathlib import Path
        from featpipe.data import archive as archive_module
        real = archive_module._extract_member
        def slow(*args):
            real(*args)
            Path({str(tmp_path / 'started')!r}).touch()
            time.sleep(60)
        archive_module._extract_member = slow
        archive_module.extract_archive({str(archive)!r}, progress=False)
    """)
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    child = subprocess.Popen([sys.executable, "-c", script], env=env)
    try:
        deadline = time.time() + 30
        while not (tmp_path / "started").exists() and time.time() < deadline and child.poll() is None:
            time.sleep(0.05)
        assert (tmp_path / "started").exists(), "the extraction never started"
        child.send_signal(signal.SIGKILL)
    finally:
        child.wait()
    left = [name for name in extracted(isolated_cache) if name.endswith(".tmp")]
    assert len(left) == 1  # what a SIGKILL leaves
    target = extract_archive(archive, progress=False)
    assert extracted(isolated_cache) == [target.name]
    assert len(list((target / "train").rglob("*.png"))) == 40


def test_sizes_are_counted_again_while_writing(tmp_path, isolated_cache, monkeypatch):
    """Even if the header checks were fooled, the bytes written on disk trip the limit."""
    archive = make_archive(tmp_path / "lying.tar.gz", images() + [("train/b/zeros.png", bytes(2 * MiB))])
    monkeypatch.setattr(archive_module, "_checked_members", lambda tar, *args: tar.getmembers())
    with pytest.raises(DataError, match=r"member 'train/b/zeros.png' wrote 2,097,152 bytes"):
        extract_archive(archive, limits=ArchiveLimits(max_member_bytes=MiB))
    assert extracted(isolated_cache) == []


def test_sparse_members_are_refused(tmp_path, isolated_cache):
    path = tmp_path / "sparse.tar.gz"
    with tarfile.open(path, "w:gz", format=tarfile.GNU_FORMAT) as tar:
        info = tarfile.TarInfo("train/a/holes.png")
        info.type, info.size = tarfile.GNUTYPE_SPARSE, 4
        tar.addfile(info, io.BytesIO(b"abcd"))
    with pytest.raises(DataError, match="'train/a/holes.png' is a sparse file"):
        extract_archive(path)
    assert extracted(isolated_cache) == []


def test_read_only_cache_is_one_clear_message(cli, tmp_path, monkeypatch):
    if os.geteuid() == 0:
        pytest.skip("root writes into read-only folders")
    cache = tmp_path / "cache"
    cache.mkdir()
    cache.chmod(0o500)
    monkeypatch.setenv("FEATPIPE_CACHE", str(cache))
    try:
        cli("data", "info", make_archive(tmp_path / "ok.tar.gz", images()), "-q", code=1,
            says=[str(cache / "extracted"), "FEATPIPE_CACHE"])
    finally:
        cache.chmod(0o700)


def test_cache_that_is_a_file_is_one_clear_message(cli, tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    cache.write_text("not a folder")
    monkeypatch.setenv("FEATPIPE_CACHE", str(cache))
    cli("data", "info", make_archive(tmp_path / "ok.tar.gz", images()), "-q", code=1,
        says=[str(cache / "extracted"), "FEATPIPE_CACHE"])
