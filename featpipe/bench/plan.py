"""Batch files: parse them, expand their sweeps into runs, and give every run its identity.

A batch file is YAML::

    name: quickstart                  # names the batch; an output folder holds one batch
    description: ...                  # optional
    base: base.yaml                   # optional config every entry starts from
    set: {data.n_train: 500}          # optional overrides for every run
    runs:                             # entries; each one a config file and/or overrides and/or sweeps
      - config: digits/hog_svm.yaml   # a path or a glob (one entry per file), relative to this file
        name: hog                     # optional; default: the config's name; must be unique
        set: {svm.loss: hinge}        # overrides for this entry
        grid:                         # cartesian product: 3 x 2 = 6 runs
          svm.C: [0.01, 0.1, 1]
          features.hog.pixels_per_cell: [2, 4]
        zip:                          # lists of equal length moving together (x the grid)
          features.hog.orientations: [6, 9]
          seed: [0, 1]
    repeat: 3                         # optional: every run with seeds s, s+1, s+2 (s: the run's own seed)
    seeds: [0, 1, 2]                  # optional, instead of repeat: every run once with each of these seeds

Repeats: `repeat` and `seeds` multiply every run of every entry by its seeds, as if each entry
swept ``seed`` (which it then must not also sweep); runs that differ only in the seed are one
group in the table and the report (featpipe.runs.groups).

Layering, lowest first: base, the entry's config file, the batch's ``set``, the entry's
``set`` and ``name``, then the swept values. Keys are checked against the config schema as
they are applied (the same check as ``--set``), and every expanded run is validated, so a
typo fails here, naming the file and the key, before any run starts. An entry's
``features`` replaces the base's: extractors are a choice, not settings to blend.
"""

from __future__ import annotations

import copy
import glob
import itertools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


from featpipe.config import Config, apply_override, read_text_file, read_yaml_mapping, validate
from featpipe.errors import ConfigError

from .identity import data_identity, resolve_data_paths, run_id

_BATCH_KEYS = ("name", "description", "base", "set", "repeat", "seeds", "runs")
_ENTRY_KEYS = ("config", "name", "set", "grid", "zip")
_NAME_CHARS = "letters, digits, '_', '.', '-' (not starting with a punctuation mark)"


@dataclass(frozen=True)
class PlannedRun:
    """One run of a batch: its ID, resolved config and the swept values that made it."""

    run_id: str
    config: Config
    swept: dict[str, Any] = field(default_factory=dict)
    origin: str = ""

    @property
    def name(self) -> str:
        return self.config.name

    def describe_swept(self) -> str:
        """``svm.C=0.1 features.hog.pixels_per_cell=4``, or '' for a run without sweeps."""
        return " ".join(f"{key}={format_value(value)}" for key, value in self.swept.items())


@dataclass(frozen=True)
class BatchPlan:
    """A parsed and expanded batch file: its name and its runs in a stable order."""

    name: str
    path: Path
    runs: tuple[PlannedRun, ...]
    description: str = ""

    def swept_keys(self) -> list[str]:
        """Every swept key, in order of first appearance."""
        keys: dict[str, None] = {}
        for run in self.runs:
            keys.update(dict.fromkeys(run.swept))
        return list(keys)

    def by_id(self) -> dict[str, PlannedRun]:
        return {run.run_id: run for run in self.runs}


def load_batch(path: str | Path) -> BatchPlan:
    """Read, expand and validate the batch file at `path`.

    Raises ConfigError (or DataError for a missing data root) naming the file, the entry and
    the key at fault.
    """
    path = Path(path)
    return parse_batch(read_text_file(path, "batch"), path)


def parse_batch(text: str, path: str | Path, shown: str | None = None) -> BatchPlan:
    """Expand batch YAML `text`; `path` anchors its relative config paths and names it in errors
    (`shown` instead, for a batch no file holds: the command line's)."""
    path = Path(path)
    shown = shown or str(path)
    spec = read_yaml_mapping(text, shown, "batch file")
    unknown = [key for key in spec if key not in _BATCH_KEYS]
    if unknown:
        raise ConfigError(f"{shown}: unknown key {unknown[0]!r} in batch file; valid keys: {', '.join(_BATCH_KEYS)}")
    name = spec.get("name")
    _check_name(name, f"{shown}: name")
    folder = path.parent
    base = {}
    if spec.get("base") is not None:
        base_path = _relative(folder, spec["base"], f"{shown}: base")
        base = _read_config_file(base_path, f"{shown}: base")
    common = _mapping(spec.get("set"), f"{shown}: set")
    entries = spec.get("runs")
    if not isinstance(entries, list) or not entries:
        raise ConfigError(f"{shown}: runs: expected a non-empty list of entries (each with config, set, grid or zip), "
                          f"got {entries!r}")

    repeats = _repeats(spec, shown)
    runs: list[PlannedRun] = []
    entry_names: dict[str, str] = {}
    memo: dict[str, str] = {}
    for index, entry in enumerate(entries):
        where = f"{shown}: runs[{index}]"
        if not isinstance(entry, dict):
            raise ConfigError(f"{where}: expected a mapping with keys {', '.join(_ENTRY_KEYS)}, got {entry!r}")
        unknown = [key for key in entry if key not in _ENTRY_KEYS]
        if unknown:
            raise ConfigError(f"{where}: unknown key {unknown[0]!r}; valid keys: {', '.join(_ENTRY_KEYS)}")
        for config_path, data in _entry_sources(entry, base, folder, where):
            label = f"{where} ({config_path.name})" if config_path else where
            runs.extend(_expand_entry(entry, data, common, label, shown, entry_names, memo, repeats))

    seen: dict[str, PlannedRun] = {}
    for run in runs:
        if run.run_id in seen:
            raise ConfigError(f"{run.origin}: gives the same run as {seen[run.run_id].origin} "
                              f"(ID {run.run_id}); remove the repeated sweep value or entry")
        seen[run.run_id] = run
    return BatchPlan(name=name, path=path, runs=tuple(runs), description=str(spec.get("description") or ""))


def _entry_sources(entry: dict, base: dict, folder: Path, where: str) -> list[tuple[Path | None, dict]]:
    """The starting config dicts of an entry: base + each config file it names (a glob may name several)."""
    pattern = entry.get("config")
    if pattern is None:
        return [(None, copy.deepcopy(base))]
    if not isinstance(pattern, str) or not pattern.strip():
        raise ConfigError(f"{where}: config: expected a path (or glob) of a config file, got {pattern!r}")
    if glob.has_magic(pattern):
        full = pattern if Path(pattern).is_absolute() else str(folder / pattern)
        matches = sorted(Path(p) for p in glob.glob(full) if Path(p).is_file())
        if not matches:
            raise ConfigError(f"{where}: config: {pattern!r} matches no file (looked in {folder})")
        if len(matches) > 1 and entry.get("name") is not None:
            raise ConfigError(f"{where}: name: one name cannot go to the {len(matches)} configs {pattern!r} matches; "
                              "drop `name` (each run is named after its config)")
    else:
        matches = [_relative(folder, pattern, f"{where}: config")]
    return [(match, _merge(base, _read_config_file(match, f"{where}: config"))) for match in matches]


def _repeats(spec: dict, path: str) -> tuple[str, Any] | None:
    """("repeat", N) or ("seeds", [..]) from the batch file, checked; None when it asks for no repeats."""
    repeat, seeds = spec.get("repeat"), spec.get("seeds")
    if repeat is not None and seeds is not None:
        raise ConfigError(f"{path}: give either repeat (a count) or seeds (a list), not both")
    if repeat is not None:
        if isinstance(repeat, bool) or not isinstance(repeat, int) or not 1 <= repeat <= 1000:
            raise ConfigError(f"{path}: repeat: expected a number of runs per config from 1 to 1000, got {repeat!r}")
        return ("repeat", repeat)
    if seeds is not None:
        good = isinstance(seeds, list) and seeds and all(isinstance(s, int) and not isinstance(s, bool) and s >= 0
                                                         for s in seeds)
        if not good:
            raise ConfigError(f"{path}: seeds: expected a non-empty list of whole numbers >= 0, got {seeds!r}")
        if len(set(seeds)) != len(seeds):
            raise ConfigError(f"{path}: seeds: {seeds!r} lists a seed twice; each seed gives one run")
        return ("seeds", list(seeds))
    return None


def _with_seeds(combinations: list[dict], repeats: tuple[str, Any] | None, data: dict, label: str) -> list[dict]:
    """Every combination once per seed of the batch's `repeat` / `seeds` (unchanged without them)."""
    if repeats is None:
        return combinations
    if any("seed" in combination for combination in combinations):
        raise ConfigError(f"{label}: sweeps seed, and the batch asks for {repeats[0]}: choose one of them")
    kind, value = repeats
    if kind == "repeat":
        first = data.get("seed", Config.model_fields["seed"].default)
        if isinstance(first, bool) or not isinstance(first, int):
            raise ConfigError(f"{label}: seed is {first!r}; repeat counts up from a whole-number seed")
        seeds = [first + i for i in range(value)]
    else:
        seeds = value
    return [{**combination, "seed": seed} for combination in combinations for seed in seeds]


def _expand_entry(entry, data, common, label, batch_path, entry_names, memo, repeats=None) -> list[PlannedRun]:
    """Apply overrides and sweeps to one entry's config dict; validate and identify every run."""
    for key, value in common.items():
        _set_key(data, key, value, f"{batch_path}: set")
    for key, value in _mapping(entry.get("set"), f"{label}: set").items():
        _set_key(data, key, value, f"{label}: set")
    if entry.get("name") is not None:
        _check_name(entry["name"], f"{label}: name")
        data["name"] = entry["name"]
    name = str(data.get("name", Config.model_fields["name"].default))
    if name in entry_names:
        raise ConfigError(f"{label}: two batch entries are named {name!r} (the other is {entry_names[name]}); "
                          "give one of them its own `name:`")
    entry_names[name] = label

    combinations = _with_seeds(_sweep_combinations(entry, label), repeats, data, label)
    runs = []
    for swept in combinations:
        run_data = copy.deepcopy(data)
        for key, value in swept.items():
            _set_key(run_data, key, value, label)
        resolve_data_paths(run_data)
        origin = f"{label}" + (f" [{' '.join(f'{k}={format_value(v)}' for k, v in swept.items())}]" if swept else "")
        config = validate(run_data, origin)
        runs.append(PlannedRun(run_id(config, data_identity(config, memo)), config, swept, origin))
    return runs


def _sweep_combinations(entry: dict, label: str) -> list[dict[str, Any]]:
    """The grid's cartesian product (first key outermost) times the zip's rows."""
    grid = _mapping(entry.get("grid"), f"{label}: grid")
    zipped = _mapping(entry.get("zip"), f"{label}: zip")
    for kind, sweep in (("grid", grid), ("zip", zipped)):
        for key, values in sweep.items():
            if not isinstance(values, list):
                raise ConfigError(f"{label}: {kind}: {key}: expected a list of values to sweep, got {values!r}")
            if not values:
                raise ConfigError(f"{label}: {kind}: {key}: the list of values is empty; give at least one value")
    both = set(grid) & set(zipped)
    if both:
        raise ConfigError(f"{label}: {sorted(both)[0]!r} is swept in both grid and zip; sweep it in one of them")
    lengths = {key: len(values) for key, values in zipped.items()}
    if len(set(lengths.values())) > 1:
        described = ", ".join(f"{key} has {n}" for key, n in lengths.items())
        raise ConfigError(f"{label}: zip: the lists must have equal lengths (they move together); {described}")
    rows = [{}]
    for key, values in grid.items():
        rows = [{**row, key: value} for row in rows for value in values]
    if zipped:
        zip_rows = [dict(zip(zipped, values)) for values in zip(*zipped.values())]
        rows = [{**row, **zip_row} for row, zip_row in itertools.product(rows, zip_rows)]
    return rows


def _set_key(data: dict, key: Any, value: Any, where: str) -> None:
    """Set dotted `key` to `value` in a raw config dict, after checking the key exists."""
    if not isinstance(key, str) or not key.strip() or "=" in key:
        raise ConfigError(f"{where}: {key!r} is not a config key; expected a dotted key such as svm.C")
    try:
        apply_override(data, f"{key}=")  # checks the key against the schema and makes its sections
    except ConfigError as exc:
        raise ConfigError(f"{where}: {str(exc).removeprefix(f'--set {key}: ')}") from None
    node = data
    parts = key.split(".")
    for part in parts[:-1]:
        node = node[part]
    node[parts[-1]] = copy.deepcopy(value)


def _merge(base: dict, over: dict, top: bool = True) -> dict:
    """`over` laid on `base`, section by section (the top-level `features` is replaced whole)."""
    merged = copy.deepcopy(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict) and not (top and key == "features"):
            merged[key] = _merge(merged[key], value, top=False)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def _read_config_file(path: Path, where: str) -> dict:
    """The config file an entry names; a file that cannot be read is named with the entry (`where`)."""
    try:
        text = read_text_file(path, "config")
    except ConfigError as error:
        hint = "" if path.exists() else " (relative paths in a batch file start at the batch file's folder)"
        raise type(error)(f"{where}: {error}{hint}") from None
    return read_yaml_mapping(text, str(path), "config")


def _mapping(value: Any, where: str) -> dict:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ConfigError(f"{where}: expected a mapping of dotted keys to values (e.g. svm.C: 0.1), got {value!r}")
    return value


def _relative(folder: Path, value: Any, where: str) -> Path:
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"{where}: expected a file path, got {value!r}")
    path = Path(value).expanduser()
    return path if path.is_absolute() else folder / path


def _check_name(name: Any, where: str) -> None:
    ok = isinstance(name, str) and name[:1].isalnum() and all(c.isalnum() or c in "_.-" for c in name)
    if not ok or len(name) > 100:
        raise ConfigError(f"{where}: expected a name of {_NAME_CHARS}, at most 100 characters; got {name!r}")


def format_value(value: Any) -> str:
    """A compact rendering of a swept value for plan lines and table cells: lists as [a,b], no spaces."""
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(format_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ",".join(f"{k}:{format_value(v)}" for k, v in value.items()) + "}"
    return str(value)
