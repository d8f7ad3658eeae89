"""Repeats: runs whose resolved configs differ only in the seed form one group.

A seed changes the split and the initialization, not the experiment, so its runs are repeats
of one another: the batch table and the report show a group's mean, spread and count instead
of one line per seed. A user can name other settings that only change the split or the
initialization (``data.val_fraction``, say) to be treated the same way (`repeat_keys`).

Settings that never change what a run computes (its name, where it writes, the data cache) are
left out of the comparison.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Sequence

#: Settings that make runs repeats of one another by default.
REPEAT_KEYS = ("seed",)
#: Settings that label a run or say where its files go; they never separate groups.
IGNORED_KEYS = ("name", "output", "data.cache_dir")


def flatten(config: dict, prefix: str = "") -> dict[str, Any]:
    """A nested config as ``{"svm.C": 1.0, "features.hog.orientations": 9, ...}``."""
    flat: dict[str, Any] = {}
    for key, value in config.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            flat.update(flatten(value, f"{dotted}."))
        else:
            flat[dotted] = value
    return flat


def _left_out(key: str, keys: Sequence[str]) -> bool:
    return any(key == k or key.startswith(k + ".") for k in keys)


def group_settings(config: dict, repeat_keys: Sequence[str] = REPEAT_KEYS) -> dict[str, Any]:
    """The settings that identify a run's group: its flattened config without repeat and ignored keys."""
    return {key: value for key, value in flatten(config).items()
            if not _left_out(key, repeat_keys) and not _left_out(key, IGNORED_KEYS)}


def group_key(config: dict, repeat_keys: Sequence[str] = REPEAT_KEYS) -> str:
    """A text equal for two configs exactly when they differ only in `repeat_keys` (and ignored keys)."""
    return json.dumps(group_settings(config, repeat_keys), sort_keys=True, default=str)


@dataclass
class Group:
    """Indices of the runs (in the caller's list) that repeat one experiment, and what sets it apart.

    `settings` holds the values, among those that differ between the groups given together,
    that this group has (e.g. ``{"svm.C": 0.1}``); `repeats` the repeat keys' values of each member.
    """

    key: str
    members: list[int]
    settings: dict[str, Any] = field(default_factory=dict)
    repeats: list[dict[str, Any]] = field(default_factory=list)

    def describe(self) -> str:
        """``svm.C=0.1 data.val_fraction=0.2``, or '' when nothing sets the group apart."""
        from ..bench.plan import format_value

        return " ".join(f"{key}={format_value(value)}" for key, value in self.settings.items())


def group_configs(configs: Sequence[dict], repeat_keys: Sequence[str] = REPEAT_KEYS) -> list[Group]:
    """Group runs by their configs (one per run, plain data); groups in order of first appearance.

    Each group's `settings` are its values of the keys that differ between groups, so a label
    names only what was varied.
    """
    keys = [group_key(config, repeat_keys) for config in configs]
    groups: dict[str, Group] = {}
    for index, (key, config) in enumerate(zip(keys, configs)):
        group = groups.setdefault(key, Group(key=key, members=[]))
        group.members.append(index)
        flat = flatten(config)
        group.repeats.append({k: v for k, v in flat.items() if _left_out(k, repeat_keys)})
    settings = {key: json.loads(key) for key in groups}
    varying = _varying_keys(list(settings.values()))
    for key, group in groups.items():
        group.settings = {k: settings[key].get(k) for k in varying}
    return list(groups.values())


def _varying_keys(settings: list[dict[str, Any]]) -> list[str]:
    """Keys whose value is not the same in every one of `settings`, in order of first appearance."""
    keys: dict[str, None] = {}
    for one in settings:
        keys.update(dict.fromkeys(one))
    return [key for key in keys
            if len({json.dumps(one[key], sort_keys=True, default=str) if key in one else "<unset>"
                    for one in settings}) > 1]


#: Columns a results row gains from its group (the group's validation accuracy over its done runs).
GROUP_COLUMNS = ("group", "group_runs", "group_val_mean", "group_val_std", "group_val_min", "group_val_max")


def annotate_groups(rows: list[dict], configs: Sequence[dict], repeat_keys: Sequence[str] = REPEAT_KEYS) -> list[Group]:
    """Group results rows (one config each, same order) and add GROUP_COLUMNS to every row, in place.

    Groups are numbered g1, g2, ... in the rows' order; a group's statistics use its finished
    runs with a validation accuracy, and its standard deviation is None with fewer than two.
    """
    from ..analysis.stats import spread

    groups = group_configs(configs, repeat_keys)
    for number, group in enumerate(groups, 1):
        values = [rows[i].get("val_accuracy") for i in group.members if rows[i].get("status") == "done"]
        summary = spread([v for v in values if v is not None])
        for i in group.members:
            rows[i].update({
                "group": f"g{number}", "group_runs": len(group.members),
                "group_val_mean": summary.mean if summary else None,
                "group_val_std": summary.std if summary else None,
                "group_val_min": summary.min if summary else None,
                "group_val_max": summary.max if summary else None,
            })
    return groups
