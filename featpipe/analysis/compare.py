"""The headline comparison: does the best group of one pipeline family beat the best of another by more than chance?

Given each family's best group of repeats (highest mean validation accuracy), the top two
families are compared:

- with two or more repeats on each side, the interval is over seeds (`stats.seed_difference`);
- otherwise over images: a bootstrap of the two runs' per-image correctness (`stats.bootstrap_difference`);
- McNemar's test needs one run of each scored on the same images (the same validation
  fingerprint) with predictions.npy; the pair with the most images is used.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from . import stats


@dataclass
class Contender:
    """A family's best group: its label, its runs' validation accuracies, seeds, fingerprints and correctness."""

    family: str
    label: str
    accuracies: list[float]
    seeds: list
    fingerprints: list[str | None]
    correct: list[np.ndarray | None]

    @property
    def mean(self) -> float:
        return float(np.mean(self.accuracies))


@dataclass
class Comparison:
    """The result: `a` is ahead of `b` by `interval.difference`; McNemar's test when a shared pair exists."""

    a: Contender
    b: Contender
    interval: stats.Interval | None
    mcnemar: stats.McNemar | None
    pair_images: int
    notes: list[str]

    def headline(self) -> str:
        """"A beats B by N points, 95% interval [a, b]" (or why there is no interval)."""
        points = 100 * (self.a.mean - self.b.mean)
        who = f"{self.a.label} ({self.a.family})", f"{self.b.label} ({self.b.family})"
        if self.interval is None:
            return f"{who[0]} leads {who[1]} by {points:.1f} points; no interval ({'; '.join(self.notes)})"
        low, high = 100 * self.interval.low, 100 * self.interval.high
        verb = "beats" if low > 0 else "leads"
        text = (f"{who[0]} {verb} {who[1]} by {points:.1f} points, 95% interval [{low:.1f}, {high:.1f}] "
                f"({self.interval.method})")
        if low <= 0:
            text += ": the interval includes 0, so the gap may be chance"
        if self.mcnemar is not None:
            text += (f"; McNemar's exact test on {self.pair_images:,} shared images: p = {self.mcnemar.p_value:.2g} "
                     f"({self.mcnemar.only_a} images only the first gets right, {self.mcnemar.only_b} only the second)")
        return text + "."


def compare_best(contenders: Sequence[Contender]) -> Comparison | None:
    """Compare the two best of `contenders` (one per family); None with fewer than two."""
    ranked = sorted((c for c in contenders if c.accuracies), key=lambda c: -c.mean)
    if len(ranked) < 2:
        return None
    a, b = ranked[:2]
    notes: list[str] = []
    pair = _shared_pair(a, b)
    test = stats.mcnemar(*pair) if pair is not None else None
    if pair is None:
        notes.append("no run of each is scored on the same validation images with saved predictions, "
                     "so McNemar's test cannot be run")
    interval = None
    if len(a.accuracies) >= 2 and len(b.accuracies) >= 2:
        paired = sorted(map(str, a.seeds)) == sorted(map(str, b.seeds)) and len(set(map(str, a.seeds))) == len(a.seeds)
        if paired:
            order_b = {str(seed): acc for seed, acc in zip(b.seeds, b.accuracies)}
            interval = stats.seed_difference(a.accuracies, [order_b[str(s)] for s in a.seeds], paired=True)
        else:
            interval = stats.seed_difference(a.accuracies, b.accuracies, paired=False)
    elif pair is not None:
        interval = stats.bootstrap_difference(*pair)
    else:
        notes.append("one run on each side and no shared images: nothing to estimate chance from")
    return Comparison(a, b, interval, test, 0 if pair is None else len(pair[0]), notes)


def _shared_pair(a: Contender, b: Contender) -> tuple[np.ndarray, np.ndarray] | None:
    """Correctness of one run of `a` and one of `b` scored on the same images, the largest such pair."""
    best = None
    for fa, ca in zip(a.fingerprints, a.correct):
        for fb, cb in zip(b.fingerprints, b.correct):
            if fa and fa == fb and ca is not None and cb is not None and ca.shape == cb.shape:
                if best is None or len(ca) > len(best[0]):
                    best = (ca, cb)
    return best
