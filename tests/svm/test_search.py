"""The C search: warm-started path equal to cold starts, grid widening at either edge, records."""

import numpy as np
import pytest
from sklearn.base import BaseEstimator, ClassifierMixin

from featpipe.errors import InputError
from featpipe.svm import LinearSVM, search_c


class _PeakedAt(ClassifierMixin, BaseEstimator):
    """A fake classifier whose validation accuracy peaks at C = `peak` (to steer the search)."""

    def __init__(self, C=1.0, peak=1.0):
        self.C = C
        self.peak = peak

    def fit(self, X, y):
        self.classes_ = np.unique(y)
        self.fitted_ = True
        return self

    def predict(self, X):
        distance = abs(np.log10(self.C / self.peak))
        correct = int(len(X) * max(0.0, 1.0 - 0.1 * distance))
        out = np.full(len(X), -1)
        out[:correct] = self.truth_[:correct]
        return out


def _search(peak, grid, widen, split):
    X, y, Xv, yv = split

    def build(C):
        model = _PeakedAt(C=C, peak=peak)
        model.truth_ = yv
        return model

    return search_c(build, grid, X, y, Xv, yv, widen=widen)


def test_path_warm_starts_equal_cold_starts(split):
    X, y, Xv, yv = split
    grid = [0.01, 0.1, 1.0, 10.0]
    _, record = search_c(lambda C: LinearSVM(C=C, tol=1e-8), grid, X, y, Xv, yv, widen=0)
    assert [t.get("warm_start_from") for t in record["trials"]] == [None, 0.01, 0.1, 1.0]
    for trial in record["trials"]:
        cold = LinearSVM(C=trial["C"], tol=1e-8).fit(X, y)
        assert trial["objective"] == pytest.approx(cold.objective_, rel=1e-9)
        assert trial["val_accuracy"] == np.mean(cold.predict(Xv) == yv)
    assert record["chosen"] == max(record["trials"], key=lambda t: (t["val_accuracy"], -t["C"]))["C"]


def test_best_inside_the_grid_is_not_widened(split):
    model, record = _search(1.0, [0.1, 1.0, 10.0], 2, split)
    assert record["chosen"] == 1.0 and model.C == 1.0
    assert record["widened"] == [] and record["on_edge"] is False
    assert [t["C"] for t in record["trials"]] == [0.1, 1.0, 10.0]


def test_best_on_the_upper_edge_widens_upward_by_the_grid_step(split):
    _, record = _search(100.0, [0.1, 1.0, 10.0], 3, split)
    assert record["widened"] == pytest.approx([100.0, 1000.0])
    assert record["chosen"] == pytest.approx(100.0) and record["on_edge"] is False
    assert record["grid"] == [0.1, 1.0, 10.0]


def test_best_on_the_lower_edge_widens_downward(split):
    _, record = _search(0.001, [0.1, 0.3, 1.0], 5, split)
    # steps of 3 below 0.1 until the accuracy falls again: 0.1/81 is the closest to the peak
    assert record["widened"] == pytest.approx([0.1 / 3 ** k for k in range(1, 6)])
    assert record["chosen"] == pytest.approx(0.1 / 81) and record["on_edge"] is False


def test_widening_budget_spent_leaves_the_record_on_edge(split):
    _, record = _search(1e6, [0.1, 1.0], 2, split)
    assert record["widened"] == pytest.approx([10.0, 100.0])
    assert record["chosen"] == pytest.approx(100.0) and record["on_edge"] is True


def test_single_c_is_a_fixed_choice(split):
    _, record = _search(1e6, [1.0], 3, split)
    assert record["widened"] == [] and [t["C"] for t in record["trials"]] == [1.0]


def test_nan_features_name_the_extractor(split):
    X, y, Xv, yv = split
    X = X.copy()
    X[0, 9] = np.nan
    blocks = {"hog": (0, 8), "color": (8, 12)}
    with pytest.raises(InputError, match=r"training features from extractor color contain 1 NaN"):
        search_c(lambda C: LinearSVM(C=C), [1.0], X, y, Xv, yv, blocks=blocks)


def test_progress_reports_each_c_and_the_widening_as_plain_lines(split, capsys):
    X, y, Xv, yv = split

    def build(C):
        model = _PeakedAt(C=C, peak=100.0)
        model.truth_ = yv
        return model

    search_c(build, [0.1, 1.0], X, y, Xv, yv, widen=1, progress=True)
    err = capsys.readouterr().err
    assert "SVM C search: started (2 C)" in err
    assert "the best C=1 is on the high edge of the values tried; trying C=10" in err
    assert "done: 3 C" in err and "best C=10" in err
    assert "\r" not in err  # not a terminal: lines, no bar frames


def test_no_progress_when_quiet(split, capsys):
    _search(100.0, [0.1, 1.0], 1, split)  # progress defaults to off
    assert capsys.readouterr().err == ""


def test_a_search_builds_the_gram_matrix_once_for_every_C(split, monkeypatch):
    from featpipe.svm import _gram

    calls = []
    original = _gram.gram_matrix
    monkeypatch.setattr(_gram, "gram_matrix", lambda *a: (calls.append(1), original(*a))[1])
    X, y, Xv, yv = split
    model, record = search_c(lambda C: LinearSVM(C=C, precondition="gram"), [0.01, 0.1, 1.0], X, y, Xv, yv)
    assert len(record["trials"]) >= 3
    assert len(calls) == 1
    cold = LinearSVM(C=model.C, precondition="none", tol=1e-8).fit(X, y)
    assert model.objective_ == pytest.approx(cold.objective_, rel=1e-4)


def test_widened_values_are_recorded_as_decimals_not_binary_rounding(split):
    _, record = _search(0.01, [0.3, 0.9, 2.7], 2, split)
    assert record["widened"] == pytest.approx([0.1, 0.1 / 3], rel=1e-11)
    assert str(record["widened"][0]) == "0.1"  # 0.3 / 3 would be 0.09999999999999999
