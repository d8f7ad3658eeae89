"""The data cache knows a file, not a spelling of its path; `featpipe cache info` / `clear`."""

import os
import time
from pathlib import Path

import pytest
from data_builders import tar_folder
from typer.testing import CliRunner

from featpipe.bench.plan import load_batch
from featpipe.cli import app
from featpipe.data import folder as folder_module
from featpipe.data import load_source
from featpipe.data.cache import cache_entries, clear_cache
from featpipe.errors import DataError


def invoke(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


def spellings(tmp_path, archive):
    """Two working directories and the relative spelling of `archive` from each, plus a link to it."""
    deep = tmp_path / "a" / "b"
    deep.mkdir(parents=True)
    (tmp_path / "elsewhere").mkdir()
    link = tmp_path / "elsewhere" / "linked.tar.gz"
    link.symlink_to(archive)
    return [(deep, os.path.relpath(archive, deep)), (tmp_path, os.path.relpath(archive, tmp_path)),
            (tmp_path / "elsewhere", "linked.tar.gz")]


def test_one_archive_reached_by_three_spellings_is_extracted_and_decoded_once(
        png_folder, tmp_path, isolated_cache, monkeypatch):
    root, _ = png_folder
    (tmp_path / "shared").mkdir()
    archive = tar_folder(root, tmp_path / "shared" / "pets.tar.gz")
    decoded = []
    real_decode = folder_module._decode_splits
    monkeypatch.setattr(folder_module, "_decode_splits", lambda *a: decoded.append(1) or real_decode(*a))
    for cwd, spelling in spellings(tmp_path, archive):
        monkeypatch.chdir(cwd)
        assert len(load_source("folder", root=spelling, progress=False)["train"]) == 7
    assert len(decoded) == 1
    assert len(list((isolated_cache / "extracted").iterdir())) == 1
    assert len(list((isolated_cache / "folders").iterdir())) == 1


def test_a_batch_planned_from_another_working_directory_finds_the_same_runs(png_folder, tmp_path, isolated_cache,
                                                                            monkeypatch):
    root, _ = png_folder
    (tmp_path / "shared").mkdir()
    archive = tar_folder(root, tmp_path / "shared" / "pets.tar.gz")
    ids = []
    for cwd, spelling in spellings(tmp_path, archive):
        batch = cwd / "batch.yaml"
        batch.write_text(f"name: pets\nruns:\n  - set: {{data.source: folder, data.root: '{spelling}'}}\n"
                         f"    grid: {{svm.C: [0.1, 1]}}\n")
        monkeypatch.chdir(cwd)
        ids.append([run.run_id for run in load_batch(batch).runs])
    assert ids[0] == ids[1] == ids[2]
    assert len(set(ids[0])) == 2
    archive.touch()  # a rewritten archive (new mtime) is new data: new runs
    os.utime(archive, ns=(time.time_ns(), time.time_ns() + 10**9))
    assert [run.run_id for run in load_batch(batch).runs] != ids[2]


def fill_cache(cache, now):
    """Three entries: an old extracted archive, a fresh decoded set, a feature file 10 days old."""
    (cache / "extracted" / "old").mkdir(parents=True)
    (cache / "extracted" / "old" / "train").mkdir()
    (cache / "extracted" / "old" / "train" / "x.png").write_bytes(b"x" * 1000)
    (cache / "folders" / "fresh").mkdir(parents=True)
    (cache / "folders" / "fresh" / "train.images.npy").write_bytes(b"y" * 2000)
    (cache / "feature-cache" / "features").mkdir(parents=True)
    feature = cache / "feature-cache" / "features" / "f.npy"
    feature.write_bytes(b"z" * 300)
    day = 86400
    for path in (cache / "extracted" / "old" / "train" / "x.png", cache / "extracted" / "old" / "train",
                 cache / "extracted" / "old"):
        os.utime(path, (now - 30 * day, now - 30 * day))
    os.utime(feature, (now - 10 * day, now - 10 * day))


def test_cache_info_lists_entries_with_a_header_row_and_clear_keeps_recent_ones(isolated_cache):
    now = time.time()
    fill_cache(isolated_cache, now)
    entries = cache_entries(isolated_cache)
    assert [(e.kind, e.size) for e in entries] == [("extracted archive", 1000), ("features", 300),
                                                    ("decoded images", 2000)]
    info = invoke("cache", "info")
    assert info.exit_code == 0, info.output
    lines = info.output.splitlines()
    assert "3 entries, 3.3 KB" in lines[0]
    assert lines[1].split() == ["kind", "size", "last", "use", "path"]
    assert "30.0 days ago" in lines[2] and "extracted/old" in lines[2]

    cleared = invoke("cache", "clear", "--older-than", "20")
    assert cleared.exit_code == 0, cleared.output
    assert "cleared 1 entries, 1.0 KB" in cleared.output
    assert not (isolated_cache / "extracted" / "old").exists()
    assert [e.kind for e in clear_cache(isolated_cache, 5, now=now)] == ["features"]
    assert [e.kind for e in clear_cache(isolated_cache)] == ["decoded images"]
    assert cache_entries(isolated_cache) == []


def test_clear_removes_a_link_not_what_it_points_to(isolated_cache, tmp_path):
    outside = tmp_path / "precious"
    outside.mkdir()
    (outside / "keep.txt").write_text("mine")
    (isolated_cache / "folders").mkdir()
    (isolated_cache / "folders" / "link").symlink_to(outside)
    assert [e.path.name for e in clear_cache(isolated_cache)] == ["link"]
    assert (outside / "keep.txt").read_text() == "mine"


def test_a_cache_root_that_is_not_featpipes_is_refused_and_left_alone(tmp_path, monkeypatch):
    foreign = tmp_path / "home-ish"
    (foreign / "folders").mkdir(parents=True)
    (foreign / "thesis.tex").write_text("do not delete")
    monkeypatch.setenv("FEATPIPE_CACHE", str(foreign))
    result = invoke("cache", "clear")
    assert result.exit_code == 1
    assert "thesis.tex" in result.output and "not featpipe's cache" in result.output
    assert (foreign / "thesis.tex").exists() and (foreign / "folders").exists()
    with pytest.raises(DataError, match="home folder"):
        clear_cache(Path.home())


def test_a_feature_files_cost_record_is_counted_and_cleared_with_it_and_an_orphan_is_listed(isolated_cache):
    features = isolated_cache / "feature-cache" / "features"
    costs = isolated_cache / "feature-cache" / "costs"
    features.mkdir(parents=True)
    costs.mkdir()
    (features / "abc.npy").write_bytes(b"z" * 300)
    (costs / "abc.json").write_text('{"seconds": 1.5, "with_fit": false}')  # 35 bytes
    (costs / "gone.json").write_text("{}")  # its features were deleted by hand
    entries = {e.path.name: e for e in cache_entries(isolated_cache)}
    assert set(entries) == {"abc.npy", "gone.json"}
    assert (entries["abc.npy"].kind, entries["abc.npy"].size) == ("features", 335)
    assert entries["gone.json"].kind == "feature cost record"

    removed = clear_cache(isolated_cache)
    assert sorted(e.path.name for e in removed) == ["abc.npy", "gone.json"]
    assert list(features.iterdir()) == [] and list(costs.iterdir()) == []
