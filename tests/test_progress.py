"""featpipe.progress: a bar on a terminal, plain lines (no \\r) elsewhere, nothing when quiet."""

import io
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from featpipe import progress
from featpipe.data import load_source
from featpipe.features import HOG
from featpipe.features._images import show_progress


class Terminal(io.StringIO):
    def isatty(self):
        return True


def run_stage(stream, enabled=True, total=8, fail=False):
    with progress.stage("decoding train", total=total, unit="img", enabled=enabled, file=stream) as bar:
        for _ in range(total):
            bar.update(1)
            bar.set_status("ok")
            if fail:
                raise KeyboardInterrupt
    return stream.getvalue()


def test_not_a_terminal_gets_plain_lines_at_start_quarters_and_end():
    text = run_stage(io.StringIO())
    assert "\r" not in text
    lines = text.splitlines()
    assert lines[0] == "decoding train: started (8 img)"
    assert [line.split(":")[1].split()[0] for line in lines[1:4]] == ["25%", "50%", "75%"]
    assert lines[1].startswith("decoding train: 25% (2/8 img, ") and lines[1].endswith(" [ok]")
    assert lines[4].startswith("decoding train: done: 8 img in ") and len(lines) == 5


def test_a_big_step_gives_one_line_with_the_true_count_and_none_at_the_end():
    stream = io.StringIO()
    with progress.stage("decoding train", total=10, unit="img", file=stream) as bar:
        bar.update(8)  # crosses 25, 50 and 75%
        bar.update(2)
    lines = stream.getvalue().splitlines()
    assert lines[1].startswith("decoding train: 80% (8/10 img, ") and len(lines) == 3
    assert lines[2].startswith("decoding train: done: 10 img in ")


def test_a_terminal_gets_a_redrawn_bar_with_an_eta_then_one_closing_line():
    text = run_stage(Terminal())
    assert "\r" in text  # tqdm redraws in place
    assert "/8 [00:00<" in text  # count of total, then elapsed<remaining (the ETA)
    assert text.rstrip("\n").split("\r")[-1].startswith("decoding train: done: 8 img in ")  # bar cleared first


def test_quiet_writes_nothing_and_terminal_only_stays_out_of_logs():
    assert run_stage(io.StringIO(), enabled=False) == ""
    assert run_stage(Terminal(), enabled=False) == ""
    assert run_stage(io.StringIO(), enabled=None) == ""
    assert "done" in run_stage(Terminal(), enabled=None)


def test_a_stage_ended_by_an_error_says_it_stopped():
    stream = io.StringIO()
    with pytest.raises(KeyboardInterrupt):
        run_stage(stream, fail=True)
    assert stream.getvalue().splitlines()[-1].startswith("decoding train: stopped after 1 img in ")


def test_note_writes_a_line_unless_quiet():
    stream = io.StringIO()
    progress.note("early stopping: no better for 5 epochs", file=stream)
    progress.note("hidden", enabled=False, file=stream)
    assert stream.getvalue() == "early stopping: no better for 5 epochs\n"


def test_folder_decoding_reports_in_plain_lines_to_a_log(png_folder_for_progress, capsys):
    load_source("folder", root=png_folder_for_progress, progress=True)
    err = capsys.readouterr().err
    assert "\r" not in err
    assert "decoding train: started (4 img)" in err and "decoding train: done: 4 img" in err
    load_source("folder", root=png_folder_for_progress, progress=False)  # cached now; and quiet anyway
    assert capsys.readouterr().err == ""


def test_feature_chunks_show_a_stage_only_when_asked_outside_a_terminal(capsys):
    images = np.zeros((42, 8, 8), dtype=np.uint8)
    hog = HOG(pixels_per_cell=4, chunk_size=2).fit(images)
    hog.transform(images)
    assert capsys.readouterr().err == ""  # default: on a terminal only
    token = show_progress.set(True)
    try:
        hog.transform(images)
    finally:
        show_progress.reset(token)
    err = capsys.readouterr().err
    assert "HOG: started (42 img)" in err and "HOG: done: 42 img" in err and "\r" not in err


@pytest.fixture
def png_folder_for_progress(tmp_path, monkeypatch):
    from PIL import Image

    monkeypatch.setenv("FEATPIPE_CACHE", str(tmp_path / "cache"))
    root = tmp_path / "imgs"
    for cls in ("a", "b"):
        (root / "train" / cls).mkdir(parents=True)
        for i in range(2):
            Image.fromarray(np.full((4, 4, 3), 60 * i, dtype=np.uint8)).save(root / "train" / cls / f"{i}.png")
    return root


def test_a_run_logged_to_a_file_shows_its_feature_stages(tmp_path):
    """`featpipe run` with stderr going to a log: the feature extraction (the longest stage of a
    Fisher or BoVW run) reports in plain lines like the data loading, and -q silences it."""
    repo = Path(__file__).resolve().parents[1]
    command = [sys.executable, "-m", "featpipe", "run", str(repo / "configs" / "digits" / "fisher_svm.yaml"),
               "--out", str(tmp_path / "runs")]
    env = {**os.environ, "FEATPIPE_CACHE": str(tmp_path / "cache"), "PYTHONPATH": str(repo)}
    logged = subprocess.run(command, env=env, capture_output=True, text=True, check=True).stderr
    assert "Fisher vectors: started" in logged and "Fisher vectors: done" in logged and "\r" not in logged
    quiet = subprocess.run([*command, "--name", "again", "-q"], env=env, capture_output=True, text=True, check=True)
    assert "Fisher vectors" not in quiet.stderr


def test_listeners_hear_every_stage_start_advance_and_end_even_when_quiet():
    heard = []

    def listener(stages):
        heard.append([(stage.desc, stage.done) for stage in stages])

    with progress.listening(listener):
        with progress.stage("features", enabled=False):
            with progress.stage("encoding train", total=2, unit="img", enabled=False) as bar:
                bar.update(2)
    with progress.stage("after", enabled=False):
        pass  # no longer listening
    assert heard == [
        [("features", 0)],
        [("features", 0), ("encoding train", 0)],
        [("features", 0), ("encoding train", 2)],
        [("features", 0)],
        [],
    ]
