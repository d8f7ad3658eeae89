"""The statistics of a batch: spread over repeats, and whether one run beats another by more than chance.

Every test and interval is SciPy's (`scipy.stats.binomtest`, `bootstrap`, `ttest_rel`,
`ttest_ind`); this module only chooses them and shapes their results.

- `spread`: mean, sample standard deviation, min, max and count of repeated accuracies.
- `mcnemar`: McNemar's exact test on two runs' per-image correctness over the same images
  (McNemar 1947, Psychometrika 12(2)): only the images one run gets right and the other wrong
  count, and under "no difference" each such image is a fair coin, so the test is a binomial
  test of the discordant counts.
- `bootstrap_difference`: a percentile bootstrap interval of the accuracy difference of two
  runs on the same images, resampling images (pairs kept together).
- `seed_difference`: the Student t interval of the difference of mean accuracies over seeds
  (paired by seed when both groups ran the same seeds, else Welch's).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np
from scipy import stats


@dataclass(frozen=True)
class Spread:
    """Repeated measurements of one experiment; `std` (ddof=1) is None for a single run."""

    count: int
    mean: float
    std: float | None
    min: float
    max: float


def spread(values: Sequence[float]) -> Spread | None:
    """The spread of `values` (None for no values); one value has no standard deviation."""
    array = np.asarray([v for v in values if v is not None and math.isfinite(v)], dtype=float)
    if array.size == 0:
        return None
    std = float(np.std(array, ddof=1)) if array.size > 1 else None
    return Spread(int(array.size), float(array.mean()), std, float(array.min()), float(array.max()))


@dataclass(frozen=True)
class McNemar:
    """McNemar's exact test: `only_a` images only run A gets right, `only_b` only B; the two-sided p-value."""

    only_a: int
    only_b: int
    p_value: float


def mcnemar(correct_a: np.ndarray, correct_b: np.ndarray) -> McNemar:
    """McNemar's exact test of two runs' correctness on the same images (boolean arrays, same order)."""
    correct_a, correct_b = _paired(correct_a, correct_b)
    only_a = int(np.sum(correct_a & ~correct_b))
    only_b = int(np.sum(~correct_a & correct_b))
    if only_a + only_b == 0:
        return McNemar(0, 0, 1.0)
    return McNemar(only_a, only_b, float(stats.binomtest(only_a, only_a + only_b, 0.5).pvalue))


@dataclass(frozen=True)
class Interval:
    """A difference (A minus B, as a fraction) with its confidence interval and how it was made."""

    difference: float
    low: float
    high: float
    method: str


def bootstrap_difference(correct_a: np.ndarray, correct_b: np.ndarray, confidence: float = 0.95,
                         n_resamples: int = 2000, seed: int = 0) -> Interval:
    """Percentile bootstrap interval of accuracy(A) - accuracy(B), resampling the shared images."""
    correct_a, correct_b = _paired(correct_a, correct_b)
    a, b = correct_a.astype(float), correct_b.astype(float)
    difference = float(a.mean() - b.mean())
    if np.array_equal(a, b) or len(a) < 2:
        return Interval(difference, difference, difference, "bootstrap over images")
    result = stats.bootstrap((a, b), lambda x, y, axis: x.mean(axis=axis) - y.mean(axis=axis), paired=True,
                             vectorized=True, confidence_level=confidence, n_resamples=n_resamples,
                             method="percentile", batch=200, random_state=np.random.default_rng(seed))
    low, high = result.confidence_interval
    return Interval(difference, float(low), float(high), f"bootstrap over {len(a):,} images")


def seed_difference(a: Sequence[float], b: Sequence[float], paired: bool, confidence: float = 0.95) -> Interval:
    """The t interval of mean(a) - mean(b) over repeats: `paired` when a[i] and b[i] share a seed.

    Needs at least two values on each side (a single run has no spread).
    """
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if len(a) < 2 or len(b) < 2:
        raise ValueError(f"an interval over seeds needs two or more runs on each side, got {len(a)} and {len(b)}")
    difference = float(a.mean() - b.mean())
    if paired:
        if len(a) != len(b):
            raise ValueError(f"paired values must be as many on each side, got {len(a)} and {len(b)}")
        if np.allclose(a - b, (a - b)[0]):  # no spread in the differences: the interval is the point
            return Interval(difference, difference, difference, f"paired over {len(a)} seeds (no spread)")
        ci = stats.ttest_rel(a, b).confidence_interval(confidence)
        method = f"paired t over {len(a)} seeds"
    else:
        if np.ptp(a) == 0 and np.ptp(b) == 0:
            return Interval(difference, difference, difference, f"over {len(a)} and {len(b)} seeds (no spread)")
        ci = stats.ttest_ind(a, b, equal_var=False).confidence_interval(confidence)
        method = f"Welch t over {len(a)} and {len(b)} seeds"
    return Interval(difference, float(ci.low), float(ci.high), method)


def _paired(correct_a, correct_b) -> tuple[np.ndarray, np.ndarray]:
    a, b = np.asarray(correct_a, dtype=bool), np.asarray(correct_b, dtype=bool)
    if a.shape != b.shape or a.ndim != 1:
        raise ValueError(f"per-image correctness of two runs on the same images: got shapes {a.shape} and {b.shape}")
    return a, b
