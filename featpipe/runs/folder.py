"""The run folder: its layout, its name, writing it whole or not at all, and reading it back.

Layout of a run folder (``featpipe run`` writes it under ``--out``, ``featpipe bench`` under
its output folder, named by run ID)::

    config.yaml      the resolved config                                       (always)
    metrics.json     results and provenance; ``format`` is FORMAT              (a finished run)
    model.json/.npz  the fitted pipeline (featpipe.model_io)                   (a finished run)
    history.json     per-epoch MLP training curves                             (MLP runs)
    predictions.npy  int16 (2, n): the validation labels and predictions       (newer runs)
    *.png            confusion matrix, learning curves, templates              (output.plots)
    error.json       type and message of a failed run, traceback.txt beside it (a failed run)

A folder is built in a hidden temporary folder beside its destination and moved into place
only when complete, so a reader never sees half a run. An existing folder is never replaced
unless the caller says so (``--force``, or a batch redoing a run); otherwise the new run takes
the first free name among NAME, NAME-2, NAME-3, ... reserved atomically, so two runs that start
in the same second (same config, same ``--name``) both survive.

``predictions.npy`` lets two runs scored on the same validation images (the same
``data.fingerprints.val`` in metrics.json) be compared image by image (McNemar's test);
older folders lack it, and readers say so rather than fail.

Folders written before ``format`` existed (format 1) read the same way: every reader here
takes what it finds and checks its types instead of trusting them.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import re
import shutil
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np
import yaml

from .. import atomic, provenance
from ..errors import ConfigError, FeatpipeError, ModelError, OutputError

FORMAT = 3  # 1: before metrics.json had a "format" field; 2: before "feature_time" (what features cost)

CONFIG = "config.yaml"
METRICS = "metrics.json"
HISTORY = "history.json"
PREDICTIONS = "predictions.npy"
ERROR = "error.json"
TRACEBACK = "traceback.txt"
RUN_MARKERS = (METRICS, ERROR)

DONE, FAILED = "done", "failed"

NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")
NAME_MAX = 120
_NAME_RULE = "letters, digits, '_', '.' and '-', starting with a letter or digit, at most 120 characters"
_MAX_SUFFIX = 10_000


def check_run_name(name: str, what: str = "--name") -> str:
    """`name` if it is a plain folder name; else a ConfigError (a run name is not a path)."""
    if not isinstance(name, str) or not NAME_PATTERN.match(name) or len(name) > NAME_MAX or name in (".", ".."):
        raise ConfigError(f"{what} {name!r}: a run name is a name, not a path; use {_NAME_RULE} "
                          "(choose the parent folder with --out)")
    return name


def default_run_name(config_name: str, now: datetime | None = None) -> str:
    """``<config name>-<YYYYmmdd-HHMMSS>``; a clash with an existing folder is resolved on writing."""
    return f"{config_name}-{(now or datetime.now()).strftime('%Y%m%d-%H%M%S')}"


def metrics_record(config, *, feature_dim: int, scores: dict, selection: dict | None, timings: dict,
                   feature_stages: dict, cache_hits: dict, images_per_s: float, data: dict, started: str,
                   command=None, feature_costs: dict | None = None) -> dict:
    """metrics.json's content for a finished run of `config` (a featpipe.config.Config).

    `scores` maps each split to `featpipe.metrics.classification_scores`; `timings` maps stages
    (load_data, features, train, predict) to seconds; `feature_stages`, `cache_hits` and
    `feature_costs` say per feature stage what it took here, whether it came from the feature
    cache and what computing it took (`results.feature_time_record`); `data` describes the
    splits (source, class_names, image_shape, sizes, fingerprints). Provenance is added here.
    """
    from .results import FEATURE_TIME, feature_time_record

    return {
        "format": FORMAT,
        "name": config.name,
        "status": DONE,
        "classifier": config.classifier,
        "features": config.extractor_kinds(),
        "feature_dim": int(feature_dim),
        "accuracy": {name: s["accuracy"] for name, s in scores.items()},
        "scores": scores,
        "selection": selection,
        "timings": {**{k: round(v, 4) for k, v in timings.items()},
                    "feature_stages": {k: round(v, 4) for k, v in feature_stages.items()}},
        "feature_cache_hits": cache_hits,
        FEATURE_TIME: feature_time_record(timings.get("features", 0.0), feature_stages, cache_hits, feature_costs),
        "predict_images_per_s": images_per_s,
        "data": data,
        "seed": config.seed,
        "config_digest": config.digest(),
        "started": started,
        "finished": provenance.now_iso(),
        "versions": provenance.package_versions(),
        "git_revision": provenance.git_revision(),
        "machine": provenance.machine(),
        "command": list(command) if command else None,
    }


def write_run(run_dir: str | os.PathLike, config, metrics: dict, *, history: dict | None = None,
              files: Callable[[Path], None] | None = None, replace: bool = False,
              predictions: tuple[Any, Any] | None = None) -> Path:
    """Write a finished run's folder at `run_dir` (or the next free NAME-k) and return where it went.

    `predictions` is (labels, predicted) on the validation images, saved as predictions.npy.
    `files(tmp)` adds the model and plots to the folder being built; metrics.json is written
    last, with ``format`` and ``model_bytes`` filled in. Any OSError becomes an OutputError
    naming the path, and nothing is left behind.
    """
    from ..config import dump_yaml

    run_dir = Path(run_dir)
    tmp = atomic.staging_dir(run_dir)
    try:
        with _writing_into(tmp, run_dir):
            (tmp / CONFIG).write_text(dump_yaml(config), encoding="utf-8")
            if history is not None:
                atomic.write_json(tmp / HISTORY, history)
            if predictions is not None:
                atomic.save_npy(tmp / PREDICTIONS, predictions_array(*predictions))
            if files is not None:
                files(tmp)
            metrics["format"] = FORMAT
            metrics["model_bytes"] = sum(p.stat().st_size for p in tmp.glob("model.*"))
            atomic.write_json(tmp / METRICS, metrics)
        return _move_into_place(tmp, run_dir, replace)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def write_failure(run_dir: str | os.PathLike, config: dict, error: dict, traceback_text: str) -> None:
    """Write a failed run's folder: error.json (status failed, the error, time), traceback.txt, config.yaml.

    Replaces any earlier folder at `run_dir` as a whole (a batch records the last attempt).
    """
    run_dir = Path(run_dir)
    record = {"format": FORMAT, "status": FAILED, "run_id": run_dir.name, "name": config.get("name"), **error,
              "host": atomic.host_name(), "finished": provenance.now_iso()}
    with atomic.atomic_dir(run_dir) as tmp, _writing_into(tmp, run_dir):
        atomic.write_json(tmp / ERROR, record)
        atomic.write_text(tmp / TRACEBACK, traceback_text)
        atomic.write_text(tmp / CONFIG, yaml.safe_dump(config, sort_keys=False))


@contextlib.contextmanager
def _writing_into(tmp: Path, run_dir: Path) -> Iterator[None]:
    """OSError -> OutputError naming the file as it would be in `run_dir` (not the hidden `tmp`)."""
    try:
        yield
    except OSError as exc:
        culprit = str(exc.filename or run_dir).replace(str(tmp), str(run_dir))
        raise atomic.output_error(exc, culprit, use_filename=False) from None
    except OutputError as error:
        raise OutputError(str(error).replace(str(tmp), str(run_dir))) from None


def _move_into_place(tmp: Path, run_dir: Path, replace: bool) -> Path:
    if replace:
        atomic.move_into_place(tmp, run_dir, replace=True)
        return run_dir
    for k in range(1, _MAX_SUFFIX):
        candidate = run_dir if k == 1 else run_dir.with_name(f"{run_dir.name}-{k}")
        try:
            atomic.move_into_place(tmp, candidate, replace=False)
        except OutputError as error:
            if candidate.exists():  # taken (FileExistsError): try the next name
                continue
            raise error from None
        return candidate
    raise OutputError(f"{run_dir}: {_MAX_SUFFIX} run folders of this name exist already; choose another --name")


# --- reading ---------------------------------------------------------------------------------


@dataclass
class RunRecord:
    """What a run folder holds, read tolerantly.

    Attributes
    ----------
    path : the run folder.
    name : the run's name (metrics ``name``, else config ``name``, else the folder name).
    status : ``"done"``, ``"failed"``, or what the run's metrics say (e.g. ``"running"``).
    metrics : metrics.json's content ({} when there is none).
    config : config.yaml's content as plain data ({} when unreadable).
    error : a one-line error message for failed runs, else None.
    history : history.json's content for MLP runs (per-epoch lists), else None.
    swept : the values a batch swept to make this run ({} outside a batch).
    """

    path: Path
    name: str
    status: str
    metrics: dict = field(default_factory=dict)
    config: dict = field(default_factory=dict)
    error: str | None = None
    history: dict | None = None
    swept: dict = field(default_factory=dict)

    @property
    def done(self) -> bool:
        return self.status == DONE

    @property
    def format(self) -> int:
        value = self.metrics.get("format")
        return value if isinstance(value, int) else 1

    def relative_to(self, root: Path) -> str:
        """The folder's path relative to `root` ("." for the root itself), for display."""
        try:
            return str(self.path.relative_to(root)) or "."
        except ValueError:
            return str(self.path)


def predictions_array(labels: Any, predicted: Any) -> np.ndarray:
    """The (2, n) int16 array predictions.npy holds: row 0 the true labels, row 1 the predictions."""
    labels, predicted = np.asarray(labels), np.asarray(predicted)
    if labels.shape != predicted.shape or labels.ndim != 1:
        raise ValueError(f"labels {labels.shape} and predictions {predicted.shape}: expected two equal 1-D arrays")
    if labels.size and (min(labels.min(), predicted.min()) < 0 or max(labels.max(), predicted.max()) > 32767):
        raise ValueError("class indices must lie in 0..32767 to be stored as int16")
    return np.stack([labels, predicted]).astype(np.int16)


def read_correct(run_dir: str | os.PathLike) -> tuple[np.ndarray | None, str | None]:
    """Per-image correctness (bool, one per validation image) from predictions.npy, or (None, why not).

    Older folders have no predictions.npy; a damaged file is reported, not raised.
    """
    path = Path(run_dir) / PREDICTIONS
    if not path.is_file():
        return None, f"no {PREDICTIONS} (an older run folder)"
    try:
        array = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError) as exc:
        return None, f"{path}: unreadable ({_first_line(exc)})"
    if array.ndim != 2 or array.shape[0] != 2 or not np.issubdtype(array.dtype, np.integer):
        return None, f"{path}: expected a (2, n) integer array, found {array.dtype} {array.shape}"
    return array[0] == array[1], None


def is_run_dir(path: Path) -> bool:
    """True if `path` holds config.yaml and metrics.json or error.json."""
    return (path / CONFIG).is_file() and any((path / marker).is_file() for marker in RUN_MARKERS)


def find_run_dirs(root: str | os.PathLike) -> list[Path]:
    """Every run folder at or below `root`, sorted by path; hidden folders are not searched.

    A run folder's own subfolders are not searched (a run does not contain runs).
    """
    root = Path(root)
    if is_run_dir(root):
        return [root]
    found = []
    for folder, subfolders, _files in os.walk(root):
        here = Path(folder)
        if here != root and is_run_dir(here):
            found.append(here)
            subfolders[:] = []
            continue
        subfolders[:] = sorted(name for name in subfolders if not name.startswith("."))
    return sorted(found)


def read_json_object(path: Path) -> dict | str:
    """The JSON object in `path`, or a short description of why it cannot be read."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        return _first_line(exc)
    except (json.JSONDecodeError, RecursionError) as exc:
        return f"not valid JSON: {_first_line(exc)}"
    if not isinstance(data, dict):
        return f"expected a JSON object, found {type(data).__name__}"
    return data


def read_metrics(run_dir: str | os.PathLike) -> dict:
    """The metrics of a finished run folder; ModelError naming the file if it is not one."""
    path = Path(run_dir) / METRICS
    if not path.is_file():
        raise ModelError(f"{run_dir}: not a featpipe run folder (no {METRICS})")
    metrics = read_json_object(path)
    if isinstance(metrics, str):
        raise ModelError(f"{path}: unreadable ({metrics})")
    problems = metrics_problems(metrics)
    if problems:
        raise ModelError(f"{path}: not a finished run's metrics: {'; '.join(problems)}")
    return metrics


def read_run_record(path: Path) -> tuple[RunRecord | None, list[str]]:
    """Read one run folder; returns (record, or None if it is broken, and warnings naming the file)."""
    path = Path(path)
    warnings: list[str] = []
    config = _read_config(path / CONFIG, warnings)
    metrics: dict = {}
    if (path / METRICS).is_file():
        content = read_json_object(path / METRICS)
        if isinstance(content, str):
            return None, [*warnings, f"skipped {path}: broken run: {METRICS} is unreadable ({content})"]
        metrics = content
    error = None
    if (path / ERROR).is_file():
        content = read_json_object(path / ERROR)
        error = _error_message(content) if isinstance(content, dict) else f"{ERROR} unreadable ({content})"
    status = metrics.get("status") if isinstance(metrics.get("status"), str) else None
    status = status or (FAILED if error is not None else DONE)
    if status == DONE and error is None:
        problems = metrics_problems(metrics)
        if problems:
            return None, [*warnings, f"skipped {path}: broken run: {METRICS} {'; '.join(problems)}"]
    if status == FAILED and error is None:
        error = _error_message(metrics.get("error")) if metrics.get("error") else "failed (no error recorded)"
    history = None
    if (path / HISTORY).is_file():
        content = read_json_object(path / HISTORY)
        problem = content if isinstance(content, str) else history_problem(content)
        if problem is not None:
            warnings.append(f"{path / HISTORY}: unreadable ({problem}); no learning curve for this run")
        else:
            history = content
    name = next((str(v) for v in (metrics.get("name"), config.get("name")) if isinstance(v, str) and v), path.name)
    return RunRecord(path=path, name=name, status=status, metrics=metrics, config=config, error=error,
                     history=history), warnings


def metrics_problems(metrics: dict) -> list[str]:
    """What is wrong with a finished run's metrics (missing accuracy, values of the wrong type); [] if nothing.

    Only `accuracy` is required (every format has it); other fields are checked when present.
    """
    problems = []
    accuracy = metrics.get("accuracy")
    if not isinstance(accuracy, dict) or not accuracy:
        problems.append("has no 'accuracy' section (not a finished run's metrics)")
    else:
        problems += [f"accuracy.{split} is {value!r} (expected a number between 0 and 1)"
                     for split, value in accuracy.items() if not _fraction(value)]
    for key in ("feature_dim", "model_bytes"):
        value = metrics.get(key)
        if value is not None and not (_number(value) and value >= 0 and float(value).is_integer()):
            problems.append(f"{key} is {value!r} (expected a count)")
    value = metrics.get("predict_images_per_s")
    if value is not None and not _number(value):
        problems.append(f"predict_images_per_s is {value!r} (expected a number)")
    for key, kind in (("timings", dict), ("selection", dict), ("scores", dict), ("data", dict),
                      ("features", list), ("name", str), ("classifier", str), ("feature_time", dict)):
        value = metrics.get(key)
        if value is not None and not isinstance(value, kind):
            problems.append(f"{key} is {value!r:.60} (expected a {kind.__name__})")
    if isinstance(metrics.get("timings"), dict):
        problems += [f"timings.{stage} is {value!r} (expected seconds)" for stage, value in metrics["timings"].items()
                     if not isinstance(value, dict) and not _number(value)]
    if isinstance(metrics.get("feature_time"), dict):
        problems += [f"feature_time.{key} is {value!r} (expected seconds{' or null (unknown)' if key.startswith('cost') else ''})"
                     for key, value in metrics["feature_time"].items() if key.endswith("_s") and not isinstance(value, dict)
                     and not (_number(value) or (value is None and key.startswith("cost")))]
    if isinstance(metrics.get("features"), list) and not all(isinstance(f, str) for f in metrics["features"]):
        problems.append(f"features is {metrics['features']!r:.60} (expected extractor names)")
    if isinstance(metrics.get("selection"), dict) and "chosen" not in metrics["selection"]:
        problems.append("selection has no 'chosen' value")
    if isinstance(metrics.get("scores"), dict):
        for split, score in metrics["scores"].items():
            if not isinstance(score, dict) or not _fraction(score.get("accuracy")):
                problems.append(f"scores.{split} is not a split's scores (accuracy, per_class, confusion)")
            elif score.get("confusion") is not None and not _square_counts(score["confusion"]):
                problems.append(f"scores.{split}.confusion is not a square matrix of counts")
            elif score.get("per_class") is not None and not (
                    isinstance(score["per_class"], dict)
                    and all(v is None or _fraction(v) for v in score["per_class"].values())):
                problems.append(f"scores.{split}.per_class is not a mapping of class to accuracy")
    data = metrics.get("data")
    if isinstance(data, dict):
        names = data.get("class_names")
        if names is not None and not (isinstance(names, list) and all(isinstance(n, str) for n in names)):
            problems.append("data.class_names is not a list of names")
        elif names is not None and isinstance(metrics.get("scores"), dict):
            problems += [f"scores.{split}.confusion is {len(s['confusion'])} x {len(s['confusion'])} for "
                         f"{len(names)} classes" for split, s in metrics["scores"].items()
                         if isinstance(s, dict) and isinstance(s.get("confusion"), list) and s["confusion"]
                         and len(s["confusion"]) != len(names)]
        checks = (("sizes", lambda v: _number(v) and v >= 0 and float(v).is_integer(), "counts"),
                  ("fingerprints", lambda v: isinstance(v, str), "texts"))
        for key, good, what in checks:
            value = data.get(key)
            if value is not None and not (isinstance(value, dict) and all(good(v) for v in value.values())):
                problems.append(f"data.{key} is not a mapping of split to {what}")
        shape = data.get("image_shape")
        if shape is not None and not (isinstance(shape, list) and all(_number(s) for s in shape)):
            problems.append("data.image_shape is not a list of sizes")
    return problems


def history_problem(history: dict) -> str | None:
    """What is wrong with history.json's content (per-epoch lists of numbers, NaN allowed), or None."""
    for key, values in history.items():
        if not isinstance(values, list) or not all(
                v is None or (isinstance(v, (int, float)) and not isinstance(v, bool)) for v in values):
            return f"{key} is not a list of numbers"
    return None


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _fraction(value: Any) -> bool:
    return _number(value) and 0.0 <= value <= 1.0


def _square_counts(matrix: Any) -> bool:
    if not isinstance(matrix, list) or not all(isinstance(row, list) and len(row) == len(matrix) for row in matrix):
        return False
    return all(_number(v) and v >= 0 for row in matrix for v in row)


def _read_config(path: Path, warnings: list[str]) -> dict:
    """config.yaml as plain data, read through the config reader (and its limits); {} with a warning."""
    from .. import yaml_safe
    from ..config import read_yaml_mapping

    try:
        data = read_yaml_mapping(yaml_safe.read_yaml_text(path, "run config"), str(path), "run config")
    except (OSError, UnicodeDecodeError, RecursionError) as exc:
        warnings.append(f"{path}: unreadable config ({_first_line(exc)}); using {METRICS} alone")
        return {}
    except FeatpipeError as exc:
        warnings.append(f"{path}: unusable config ({_first_line(exc)}); using {METRICS} alone")
        return {}
    return data


def _error_message(content: Any) -> str:
    """A one-line message from whatever a batch recorded about a failure."""
    if isinstance(content, dict):
        kind = content.get("type") or content.get("error_type") or content.get("exception")
        message = content.get("message") or content.get("error") or content.get("detail")
        if message is None:
            message = json.dumps(content, default=str)[:300]
        return f"{kind}: {message}" if kind else str(message)
    return _first_line(content)


def _first_line(value: Any) -> str:
    text = str(value).strip()
    return text.splitlines()[0] if text else type(value).__name__
