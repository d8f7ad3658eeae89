"""What a swept setting does: validation accuracy against the setting's values, per pipeline family.

The points are groups of repeats (featpipe.runs.groups): each value of the setting is shown by
the best group of the family with that value (the other swept settings at their best), with
its mean and standard deviation over repeats. The axis is logarithmic when the values are
spaced by factors (0.01, 0.1, 1), categorical when they are not numbers (hidden sizes, names).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

from .stats import Spread

LOG, LINEAR, CATEGORICAL = "log", "linear", "categorical"


@dataclass(frozen=True)
class GroupPoint:
    """One group of repeats as the effects plot sees it: family, its settings, its accuracy spread."""

    family: str
    settings: dict[str, Any]
    spread: Spread
    label: str = ""


@dataclass(frozen=True)
class EffectPoint:
    value: Any
    mean: float
    std: float | None
    count: int
    label: str


@dataclass
class Effect:
    """The data of one effects plot: a line of points per family, the best value of each, warnings."""

    key: str
    values: list[Any]  # the distinct values swept, in axis order
    scale: str  # LOG, LINEAR or CATEGORICAL
    lines: dict[str, list[EffectPoint]] = field(default_factory=dict)
    best: dict[str, EffectPoint] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _text(value: Any) -> str:
    from ..bench.plan import format_value

    return format_value(value)


def axis_scale(values: Sequence[Any]) -> str:
    """LOG for positive numbers spaced by factors, LINEAR for other numbers, CATEGORICAL otherwise."""
    if not values or not all(_is_number(v) for v in values):
        return CATEGORICAL
    ordered = np.sort(np.asarray(values, dtype=float))
    if ordered[0] <= 0 or len(ordered) < 2 or ordered[-1] / ordered[0] < 10:
        return LINEAR
    if len(ordered) == 2:
        return LOG
    steps, ratios = np.diff(ordered), np.diff(np.log(ordered))
    # the spacing that is more even (smaller relative spread of the steps) decides
    return LOG if np.std(ratios) / np.mean(ratios) < np.std(steps) / np.mean(steps) else LINEAR


def effect_of(key: str, points: Sequence[GroupPoint], families: Sequence[str]) -> Effect:
    """The effect of `key` over `points` (groups having a value for it), one line per family in `families` order."""
    having = [p for p in points if key in p.settings]
    distinct: dict[str, Any] = {}
    for point in having:
        distinct.setdefault(json.dumps(point.settings[key], sort_keys=True, default=str), point.settings[key])
    values = list(distinct.values())
    scale = axis_scale(values)
    if scale != CATEGORICAL:
        values = sorted(values)
    effect = Effect(key=key, values=values, scale=scale)
    if len(values) < 2:
        shown = _text(values[0]) if values else "no value"
        effect.warnings.append(f"{key} was swept over a single value ({shown}): there is no effect to show")
        return effect
    index = {json.dumps(v, sort_keys=True, default=str): i for i, v in enumerate(values)}
    for family in families:
        best_at: dict[int, GroupPoint] = {}
        for point in (p for p in having if p.family == family):
            i = index[json.dumps(point.settings[key], sort_keys=True, default=str)]
            if i not in best_at or point.spread.mean > best_at[i].spread.mean:
                best_at[i] = point
        if not best_at:
            continue
        line = [EffectPoint(values[i], p.spread.mean, p.spread.std, p.spread.count, p.label)
                for i, p in sorted(best_at.items())]
        effect.lines[family] = line
        top = max(line, key=lambda p: p.mean)
        effect.best[family] = top
        warning = _edge_warning(key, family, top.value, values, scale, len(line))
        if warning:
            effect.warnings.append(warning)
    return effect


def _edge_warning(key: str, family: str, best: Any, values: list, scale: str, n_points: int) -> str | None:
    """A warning when the best value is the smallest or largest one swept (numbers, 3 or more values)."""
    if scale == CATEGORICAL or n_points < 3 or len(values) < 3:
        return None
    if best == values[0]:
        side, where = "smallest", "below"
    elif best == values[-1]:
        side, where = "largest", "above"
    else:
        return None
    return (f"{family}: the best {key} ({_text(best)}) is the {side} value swept; the best may lie {where} it, "
            "so extend the sweep")


def swept_keys(points: Sequence[GroupPoint], declared: Sequence[str] = ()) -> list[str]:
    """The settings to show effects of: those a batch declared swept, else those that were varied alone.

    Outside a batch, a key counts when two groups of one family differ in that key and in
    nothing else (so two different pipelines are not read as an effect of their settings).
    """
    if declared:
        return list(dict.fromkeys(declared))
    keys: dict[str, None] = {}
    for point in points:
        keys.update(dict.fromkeys(point.settings))
    found = []
    for key in keys:
        buckets: dict[str, set[str]] = {}
        for point in points:
            if key not in point.settings:
                continue
            rest = json.dumps([point.family, {k: v for k, v in point.settings.items() if k != key}],
                              sort_keys=True, default=str)
            buckets.setdefault(rest, set()).add(json.dumps(point.settings[key], sort_keys=True, default=str))
        if any(len(values) > 1 for values in buckets.values()):
            found.append(key)
    return found
