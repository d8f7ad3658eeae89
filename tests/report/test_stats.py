"""The batch statistics against SciPy's own functions and hand-computed values on small cases."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as scipy_stats

from featpipe.analysis import stats


def test_spread_of_repeats_by_hand():
    s = stats.spread([0.90, 0.92, 0.94])
    assert s.count == 3 and s.mean == pytest.approx(0.92)
    assert s.std == pytest.approx(0.02)  # sqrt(((-.02)^2 + 0 + .02^2) / 2)
    assert (s.min, s.max) == (0.90, 0.94)


def test_one_run_has_no_spread_rather_than_zero():
    s = stats.spread([0.9])
    assert s.count == 1 and s.std is None and s.mean == 0.9
    assert stats.spread([]) is None
    assert stats.spread([float("nan"), 0.5]).count == 1


def test_mcnemar_counts_only_discordant_images_and_matches_an_exact_binomial_by_hand():
    a = np.array([1, 1, 1, 1, 1, 0, 0, 1, 0, 1], dtype=bool)
    b = np.array([1, 0, 0, 0, 0, 0, 1, 1, 0, 1], dtype=bool)
    result = stats.mcnemar(a, b)
    assert (result.only_a, result.only_b) == (4, 1)
    # two-sided exact: P(X <= 1) + P(X >= 4) for X ~ Binomial(5, 1/2) = (1 + 5 + 5 + 1) / 32
    assert result.p_value == pytest.approx(12 / 32)


def test_mcnemar_of_identical_runs_is_one_and_shapes_must_match():
    a = np.array([True, False, True])
    assert stats.mcnemar(a, a).p_value == 1.0
    with pytest.raises(ValueError, match="same images"):
        stats.mcnemar(a, a[:2])


def test_mcnemar_agrees_with_the_chi_square_version_for_many_discordant_images():
    rng = np.random.default_rng(0)
    a, b = rng.random(4000) < 0.8, rng.random(4000) < 0.75
    result = stats.mcnemar(a, b)
    n01, n10 = result.only_a, result.only_b
    chi2 = (abs(n01 - n10) - 1) ** 2 / (n01 + n10)  # with continuity correction
    assert result.p_value == pytest.approx(scipy_stats.chi2.sf(chi2, 1), rel=0.15)


def test_bootstrap_interval_contains_the_difference_and_matches_the_normal_approximation():
    rng = np.random.default_rng(1)
    a, b = rng.random(3000) < 0.7, rng.random(3000) < 0.65
    interval = stats.bootstrap_difference(a, b)
    d = a.mean() - b.mean()
    assert interval.difference == pytest.approx(d)
    assert interval.low < d < interval.high
    # paired normal approximation: sd of the per-image differences / sqrt(n)
    half = 1.96 * np.std(a.astype(float) - b.astype(float), ddof=1) / math.sqrt(len(a))
    assert interval.high - interval.low == pytest.approx(2 * half, rel=0.1)
    assert stats.bootstrap_difference(a, b) == interval  # seeded: the same interval each time


def test_bootstrap_of_identical_runs_is_the_point_zero():
    a = np.array([True, False, True, True])
    assert stats.bootstrap_difference(a, a) == stats.Interval(0.0, 0.0, 0.0, "bootstrap over images")


def test_seed_interval_is_scipys_t_interval():
    a, b = [0.70, 0.72, 0.69, 0.71], [0.60, 0.63, 0.61, 0.60]
    paired = stats.seed_difference(a, b, paired=True)
    expected = scipy_stats.ttest_rel(a, b).confidence_interval(0.95)
    assert (paired.low, paired.high) == pytest.approx((expected.low, expected.high))
    # by hand: mean difference 0.095, sd of differences, t(0.975, 3) = 3.182
    diffs = np.subtract(a, b)
    half = scipy_stats.t.ppf(0.975, 3) * np.std(diffs, ddof=1) / 2
    assert (paired.low, paired.high) == pytest.approx((0.095 - half, 0.095 + half))
    welch = stats.seed_difference(a, b[:3], paired=False)
    expected = scipy_stats.ttest_ind(a, b[:3], equal_var=False).confidence_interval(0.95)
    assert (welch.low, welch.high) == pytest.approx((expected.low, expected.high))
    assert "Welch" in welch.method and "paired" in paired.method


def test_seed_interval_needs_two_runs_a_side():
    with pytest.raises(ValueError, match="two or more runs on each side"):
        stats.seed_difference([0.9], [0.8, 0.7], paired=False)
