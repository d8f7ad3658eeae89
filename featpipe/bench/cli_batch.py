"""Sweeps on the command line: turn `featpipe bench` arguments into the batch file they stand for.

``featpipe bench a.yaml b.yaml --grid svm.C=0.01,0.1 --zip seed=0,1 --set data.per_class=500``
is the batch file::

    name: a-b
    set: {data.per_class: 500}
    runs:
      - config: a.yaml
        grid: {svm.C: [0.01, 0.1]}
        zip: {seed: [0, 1]}
      - config: b.yaml
        grid: {svm.C: [0.01, 0.1]}
        zip: {seed: [0, 1]}

and is planned by the same code as a batch file (`featpipe.bench.plan.parse_batch`), so a
command line and the file it prints with ``--dry-run`` give the same runs and run IDs.

Values of ``--grid`` / ``--zip`` are comma-separated and each is read as YAML. A comma inside
brackets, braces or quotes does not split: ``mlp.hidden_sizes=[64],[128,64]`` sweeps two lists,
``name='a,b'`` is one string. ``--set`` values are one YAML value each, as for ``featpipe run``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import yaml

from featpipe import yaml_safe
from featpipe.config import read_text_file, read_yaml_mapping
from featpipe.errors import ConfigError

_OPENERS = {"[": "]", "{": "}"}
#: How errors name the batch that config files and sweeps on the command line stand for.
COMMAND_LINE = "the command line's batch (see it with --dry-run)"


def split_values(text: str, where: str) -> list[str]:
    """Split `text` on commas outside brackets, braces and quotes: ``"[64],[128,64]"`` -> two items."""
    items, current, closers, quote = [], [], [], None
    for char in text:
        if quote is not None:
            quote = None if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char in _OPENERS:
            closers.append(_OPENERS[char])
        elif char in "]}":
            if not closers or closers.pop() != char:
                raise ConfigError(f"{where}: unbalanced {char!r} in {text!r}")
        elif char == "," and not closers:
            items.append("".join(current))
            current = []
            continue
        current.append(char)
    if quote is not None or closers:
        raise ConfigError(f"{where}: unclosed {quote or closers[-1]!r} in {text!r}")
    items.append("".join(current))
    if any(not item.strip() for item in items):
        raise ConfigError(f"{where}: empty value in {text!r}; separate values with single commas, e.g. svm.C=0.1,1")
    return items


def read_value(text: str, where: str) -> Any:
    """One value as YAML (``0.1`` a number, ``[4,4]`` a list); text that is not YAML stays text."""
    try:
        return yaml_safe.parse_yaml(text, where)
    except yaml_safe.YamlLimitError:
        raise
    except yaml.YAMLError:
        return text


def parse_assignment(text: str, option: str, many: bool) -> tuple[str, Any]:
    """``KEY=VALUE`` (``many``: ``KEY=V1,V2,...``) -> (key, value or list of values)."""
    key, sep, raw = text.partition("=")
    key = key.strip()
    if not sep or not key:
        example = "svm.C=0.01,0.1,1" if many else "data.per_class=500"
        raise ConfigError(f"{option} {text!r}: expected KEY.PATH={'V1,V2,...' if many else 'VALUE'}, e.g. {example}")
    where = f"{option} {key}"
    if not many:
        return key, read_value(raw, where) if raw.strip() else None
    return key, [read_value(item, where) for item in split_values(raw, where)]


def _assignments(texts: Sequence[str], option: str, many: bool) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for text in texts:
        key, value = parse_assignment(text, option, many)
        if key in result:
            raise ConfigError(f"{option} {key} is given twice; give it once (with every value)")
        result[key] = value
    return result


def is_batch_file(path: str | Path) -> bool:
    """Whether the YAML file at `path` is a batch file (it has ``runs:``) rather than a config."""
    data = read_yaml_mapping(read_text_file(path, "config or batch"), str(path), "config or batch file")
    return "runs" in data


def sweep_batch(
    configs: Sequence[str | Path],
    *,
    grid: Sequence[str] = (),
    zip_: Sequence[str] = (),
    set_: Sequence[str] = (),
    name: str | None = None,
) -> dict:
    """The batch dict that config files plus ``--grid`` / ``--zip`` / ``--set`` stand for.

    Config paths are kept as given: relative to the working directory, where the batch file
    is anchored (see `batch_path`).
    """
    if not configs:
        raise ConfigError("featpipe bench: give a batch file, or one or more config files to sweep")
    grid_values = _assignments(grid, "--grid", many=True)
    zip_values = _assignments(zip_, "--zip", many=True)
    common = _assignments(set_, "--set", many=False)
    runs = []
    for config in configs:
        entry: dict[str, Any] = {"config": str(config)}
        if grid_values:
            entry["grid"] = dict(grid_values)
        if zip_values:
            entry["zip"] = dict(zip_values)
        runs.append(entry)
    batch: dict[str, Any] = {"name": name or default_name(configs)}
    if common:
        batch["set"] = common
    batch["runs"] = runs
    return batch


def with_overrides(batch: dict, set_: Sequence[str]) -> dict:
    """A batch file's dict with command-line ``--set`` values applied to every run.

    They go into each entry's own ``set`` (after what it sets), so the command line wins
    over the file; sweeps still vary what they sweep.
    """
    common = _assignments(set_, "--set", many=False)
    if not common:
        return batch
    runs = batch.get("runs")
    if not isinstance(runs, list):
        return batch  # parse_batch says what is wrong with it
    updated = dict(batch)
    updated["runs"] = []
    for entry in runs:
        if isinstance(entry, dict):
            entry = {**entry, "set": {**(entry.get("set") or {}), **common}}
        updated["runs"].append(entry)
    return updated


def default_name(configs: Sequence[str | Path]) -> str:
    """``hog_svm`` for one config, ``hog_svm-color_svm`` for two, ``hog_svm-and-3`` beyond (batch names allow no '+')."""
    stems = [Path(config).stem for config in configs]
    if len(stems) > 2:
        return f"{stems[0]}-and-{len(stems) - 1}"
    return "-".join(stems)


def batch_path(name: str) -> Path:
    """Where the command line's batch file stands: the working directory (its config paths are relative to it)."""
    return Path.cwd() / f"{name}.yaml"


class _PlainDumper(yaml.SafeDumper):
    """Writes every value out in full: no ``&id001`` anchors for sweeps shared by several entries."""

    def ignore_aliases(self, data) -> bool:
        return True


def to_yaml(batch: dict) -> str:
    """The batch dict as a batch file's text (what ``--dry-run`` prints)."""
    return yaml.dump(batch, Dumper=_PlainDumper, sort_keys=False, default_flow_style=None, width=100)


def load_batch_dict(path: str | Path) -> dict:
    """A batch file's YAML as a dict (its errors name the file)."""
    return read_yaml_mapping(read_text_file(path, "batch"), str(path), "batch file")


def command_line_plan(
    sources: Sequence[str | Path],
    *,
    grid: Sequence[str] = (),
    zip_: Sequence[str] = (),
    set_: Sequence[str] = (),
    name: str | None = None,
):
    """Plan `featpipe bench SOURCES...`: one batch file (plus ``--set``), or config files swept.

    Returns ``(plan, text)``: the BatchPlan, and the batch file's YAML when the arguments made
    one (config files), else None (a batch file given as is, without ``--set``).
    """
    from .plan import load_batch, parse_batch

    sources = [Path(source) for source in sources]
    kinds = {source: is_batch_file(source) for source in sources}
    batches = [source for source, batch in kinds.items() if batch]
    if batches:
        if len(sources) > 1:
            raise ConfigError(f"featpipe bench: {batches[0]} is a batch file; give one batch file alone, "
                              "or config files only (to sweep them)")
        if grid or zip_ or name:
            raise ConfigError(f"featpipe bench: --grid, --zip and --name make a batch from config files; "
                              f"{batches[0]} is a batch file already: put sweeps in its runs: entries")
        if not set_:
            return load_batch(batches[0]), None
        text = to_yaml(with_overrides(load_batch_dict(batches[0]), set_))
        return parse_batch(text, batches[0]), text
    batch = sweep_batch(sources, grid=grid, zip_=zip_, set_=set_, name=name)
    text = to_yaml(batch)
    return parse_batch(text, batch_path(batch["name"]), shown=COMMAND_LINE), text
