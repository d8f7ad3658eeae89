"""The effects plot's data: per-family lines, axis scale, best value, edge and single-value warnings."""

from __future__ import annotations

import pytest

from featpipe.analysis.effects import CATEGORICAL, LINEAR, LOG, GroupPoint, axis_scale, effect_of, swept_keys
from featpipe.analysis.stats import spread

FAMILIES = ("features + SVM", "MLP on pixels")


def _point(family, accuracies, **settings):
    return GroupPoint(family, settings, spread(accuracies))


def test_axis_scale_follows_the_spacing_of_the_values():
    assert axis_scale([0.01, 0.1, 1.0, 10.0]) == LOG
    assert axis_scale([2, 4, 6, 8]) == LINEAR
    assert axis_scale([0.1, 0.2, 0.3]) == LINEAR  # max / min < 10
    assert axis_scale([[32], [128]]) == CATEGORICAL
    assert axis_scale(["hinge", "squared_hinge"]) == CATEGORICAL
    assert axis_scale([0.0, 1.0, 10.0]) == LINEAR  # zero has no logarithm
    assert axis_scale([True, False]) == CATEGORICAL


def test_one_line_per_family_with_mean_spread_and_best_value():
    points = [
        _point(FAMILIES[0], [0.80, 0.82], **{"svm.C": 0.01}),
        _point(FAMILIES[0], [0.90, 0.94], **{"svm.C": 0.1}),
        _point(FAMILIES[0], [0.88], **{"svm.C": 1.0}),
        _point(FAMILIES[1], [0.70, 0.72], **{"svm.C": 0.1}),  # only one value: its line has one point
    ]
    effect = effect_of("svm.C", points, FAMILIES)
    assert effect.values == [0.01, 0.1, 1.0] and effect.scale == LOG
    line = effect.lines[FAMILIES[0]]
    assert [p.value for p in line] == [0.01, 0.1, 1.0]
    assert [p.mean for p in line] == pytest.approx([0.81, 0.92, 0.88])
    assert line[2].std is None and line[2].count == 1
    assert effect.best[FAMILIES[0]].value == 0.1
    assert effect.warnings == []  # best in the middle of the sweep
    assert len(effect.lines[FAMILIES[1]]) == 1


def test_each_value_shows_the_best_group_over_the_other_settings():
    points = [_point(FAMILIES[0], [0.80], **{"svm.C": 1.0, "hog.cells": 2}),
              _point(FAMILIES[0], [0.90], **{"svm.C": 1.0, "hog.cells": 4}),
              _point(FAMILIES[0], [0.70], **{"svm.C": 10.0, "hog.cells": 4})]
    line = effect_of("svm.C", points, FAMILIES).lines[FAMILIES[0]]
    assert [(p.value, p.mean) for p in line] == [(1.0, 0.90), (10.0, 0.70)]


def test_best_on_the_edge_of_the_sweep_warns():
    points = [_point(FAMILIES[0], [a], **{"svm.C": c}) for c, a in ((0.01, 0.7), (0.1, 0.8), (1.0, 0.9))]
    effect = effect_of("svm.C", points, FAMILIES)
    assert len(effect.warnings) == 1 and "largest value swept" in effect.warnings[0] and "svm.C" in effect.warnings[0]


def test_single_value_sweep_says_so_and_draws_nothing():
    effect = effect_of("svm.C", [_point(FAMILIES[0], [0.9], **{"svm.C": 1.0})], FAMILIES)
    assert effect.lines == {} and "single value (1.0)" in effect.warnings[0]


def test_non_numeric_values_keep_their_order_on_a_categorical_axis():
    points = [_point(FAMILIES[1], [0.8], **{"mlp.hidden_sizes": [128]}),
              _point(FAMILIES[1], [0.7], **{"mlp.hidden_sizes": [32]}),
              _point(FAMILIES[1], [0.9], **{"mlp.hidden_sizes": [512, 256]})]
    effect = effect_of("mlp.hidden_sizes", points, FAMILIES)
    assert effect.scale == CATEGORICAL and effect.values == [[128], [32], [512, 256]]
    assert effect.best[FAMILIES[1]].value == [512, 256] and effect.warnings == []  # no edge on a categorical axis


def test_swept_keys_outside_a_batch_are_those_varied_alone():
    points = [_point(FAMILIES[0], [0.9], **{"svm.C": 0.1, "features.hog.orientations": 9}),
              _point(FAMILIES[0], [0.9], **{"svm.C": 1.0, "features.hog.orientations": 9}),
              _point(FAMILIES[0], [0.9], **{"svm.C": 1.0, "features.color.bins": 8})]
    assert swept_keys(points) == ["svm.C"]
    assert swept_keys(points, ["seed_like", "seed_like"]) == ["seed_like"]
