"""Learning curves: training and validation per epoch for the MLP runs only; an SVM's hinge loss
never shares an axis with a cross-entropy."""

from __future__ import annotations

import json

import numpy as np
from report_runs import write_run

from featpipe.plots import plt
from featpipe.report import collect_runs
from featpipe.report.figures import draw_learning_curves, learning_curves


def _runs(tmp_path, val_loss=False):
    mlp = write_run(tmp_path, "mlp", features=("raw",), classifier="mlp", val=0.8)
    svm = write_run(tmp_path, "svm", features=("hog",), classifier="svm", val=0.9)
    (svm / "history.json").write_text(json.dumps({"loss": [3.0, 2.0, 1.5]}))  # a hinge loss, say
    if val_loss:
        history = json.loads((mlp / "history.json").read_text())
        history["val_loss"] = [1.1, 0.8, 0.9]
        (mlp / "history.json").write_text(json.dumps(history))
    return {run.name: run for run in collect_runs(tmp_path).runs}


def test_an_svm_history_is_left_out_and_the_caption_says_so(tmp_path):
    runs = _runs(tmp_path)
    figure = learning_curves(list(runs.values()))
    assert "Left out: svm (not an MLP" in figure.caption
    assert learning_curves([runs["svm"]]) is None  # no MLP run: no learning-curve figure at all


def test_training_and_validation_are_both_drawn(tmp_path):
    runs = _runs(tmp_path, val_loss=True)
    history = runs["mlp"].history
    fig, left, right, has_val_loss = draw_learning_curves([runs["mlp"]])
    try:
        assert has_val_loss
        loss_lines = {line.get_linestyle(): list(line.get_ydata()) for line in left.lines}
        assert loss_lines == {":": history["loss"], "-": history["val_loss"]}
        accuracy = {line.get_linestyle(): list(line.get_ydata()) for line in right.lines if len(line.get_ydata()) > 1}
        assert accuracy == {":": history["train_acc"], "-": history["val_acc"]}
        (best,) = [line for line in right.lines if len(line.get_ydata()) == 1]  # the epoch kept
        assert best.get_xdata()[0] == int(np.argmax(history["val_acc"])) + 1
        assert left.get_title() == "loss"
    finally:
        plt.close(fig)


def test_without_a_validation_loss_the_loss_panel_says_training_only(tmp_path):
    runs = _runs(tmp_path)
    figure = learning_curves([runs["mlp"]])
    assert "no validation loss, so the loss panel shows training only" in figure.caption
