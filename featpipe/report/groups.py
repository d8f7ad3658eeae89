"""A section's runs as groups of repeats: the groups table, which runs get pictures, the effects and the headline.

Built on `featpipe.runs.groups` (which runs are repeats) and `featpipe.analysis` (statistics,
effects, the comparison); this module only feeds them the runs of one report section.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from ..analysis.compare import Comparison, Contender, compare_best
from ..analysis.effects import Effect, GroupPoint, effect_of, swept_keys
from ..analysis.stats import Spread
from ..runs.folder import RunRecord, read_correct
from ..runs.groups import REPEAT_KEYS, annotate_groups
from ..runs.results import FAMILIES

#: At most this many runs get per-run pictures (templates, codebooks, misclassified images).
MAX_PICTURED = 8
#: With more runs than this, only the pictured runs' summaries are on the page.
MAX_SUMMARIES = 100


@dataclass
class GroupRow:
    """One group of repeats: id, family, pipeline, what sets it apart, its spread and its runs (best first)."""

    id: str
    family: str | None
    pipeline: str | None
    settings: str
    spread: Spread | None
    runs: list[RunRecord]
    rows: list[dict]
    swept: dict

    @property
    def best(self) -> RunRecord | None:
        return self.runs[0] if self.runs and self.rows[0].get("val_accuracy") is not None else None


def section_groups(runs: Sequence[RunRecord], rows: list[dict], repeat_keys: Sequence[str] = REPEAT_KEYS) -> list[GroupRow]:
    """Group a section's runs (`rows[i]` is `runs[i]`'s row, best first); adds group columns to the rows.

    Groups come best mean first; a group's runs keep the rows' order (best first).
    """
    from ..analysis.stats import spread

    groups = annotate_groups(rows, [run.config for run in runs], repeat_keys)
    result = []
    for group in groups:
        members = list(group.members)
        values = [rows[i].get("val_accuracy") for i in members if rows[i].get("status") == "done"]
        first = rows[members[0]]
        swept = {k: v for k, v in runs[members[0]].swept.items() if k not in repeat_keys}
        result.append(GroupRow(
            id=first["group"], family=first.get("family"), pipeline=first.get("pipeline"),
            settings=group.describe(), spread=spread([v for v in values if v is not None]),
            runs=[runs[i] for i in members], rows=[rows[i] for i in members], swept=swept,
        ))
    _name_within_pipelines(result, {f"g{i}": g for i, g in enumerate(groups, 1)})
    result.sort(key=lambda g: (g.spread is None, -(g.spread.mean if g.spread else 0.0)))
    return result


def _name_within_pipelines(rows: list[GroupRow], groups: dict) -> None:
    """Label each group by the settings that differ between the groups of its own pipeline only
    (the pipeline column already says how pipelines differ)."""
    import json

    from ..bench.plan import format_value
    from ..runs.groups import _varying_keys

    for pipeline in dict.fromkeys(row.pipeline for row in rows):
        members = [row for row in rows if row.pipeline == pipeline]
        settings = [json.loads(groups[row.id].key) for row in members]
        varying = _varying_keys(settings)
        for row, one in zip(members, settings):
            row.settings = " ".join(f"{k}={format_value(one.get(k))}" for k in varying)


def best_group_per_family(groups: Sequence[GroupRow]) -> dict[str, GroupRow]:
    """The group with the best mean validation accuracy in each family, in FAMILIES order."""
    best: dict[str, GroupRow] = {}
    for group in groups:
        if group.spread is not None and group.family and group.family not in best:
            best[group.family] = group  # groups come best first
    return {family: best[family] for family in FAMILIES if family in best}


def pictured_runs(groups: Sequence[GroupRow], limit: int = MAX_PICTURED) -> list[RunRecord]:
    """The runs worth per-run pictures: the best run of each family's best group, then of the next best groups."""
    chosen: list[RunRecord] = []
    for group in [*best_group_per_family(groups).values(), *groups]:
        run = group.best
        if run is not None and run not in chosen and len(chosen) < limit:
            chosen.append(run)
    return chosen


def effects(groups: Sequence[GroupRow]) -> list[Effect]:
    """One Effect per swept setting (seed and other repeat keys excluded)."""
    points = []
    for group in groups:
        if group.spread is None or not group.family:
            continue
        settings = {**group.swept, **_settings_of(group)}
        points.append(GroupPoint(group.family, settings, group.spread, group.id))
    declared = list(dict.fromkeys(k for g in groups for k in g.swept))
    return [effect_of(key, points, FAMILIES) for key in swept_keys(points, declared)]


def _settings_of(group: GroupRow) -> dict:
    from ..runs.groups import group_settings

    run = group.runs[0]
    return group_settings(run.config) if run.config else {}


def comparison(groups: Sequence[GroupRow]) -> Comparison | None:
    """The headline comparison between the best groups of the two best families (None with fewer than two)."""
    contenders = []
    for family, group in best_group_per_family(groups).items():
        done = [(run, row) for run, row in zip(group.runs, group.rows) if row.get("val_accuracy") is not None]
        correct = []
        for run, _ in done:
            values, _why = read_correct(run.path)
            correct.append(values)
        contenders.append(Contender(
            family=family, label=f"{group.pipeline}" + (f" {group.settings}" if group.settings else ""),
            accuracies=[row["val_accuracy"] for _, row in done],
            seeds=[run.config.get("seed", run.metrics.get("seed")) for run, _ in done],
            fingerprints=[((run.metrics.get("data") or {}).get("fingerprints") or {}).get("val") for run, _ in done],
            correct=correct,
        ))
    return compare_best(contenders)
