"""MLflow tracking: finished run folders shown as MLflow runs (optional extra ``featpipe[mlflow]``).

The run folder stays the source of truth; an MLflow run is a view of one, made after the folder
is complete. What one run logs:

- params: the resolved config (config.yaml), flattened to dotted keys (``features.hog.orientations``);
- metrics: accuracy per split and per class, stage timings, feature dimension, prediction
  throughput, model size, the SVM's C search (stepped by trial) and the MLP's per-epoch
  history (stepped by epoch);
- tags: pipeline family, features, classifier, data fingerprint, git revision, run id;
- artifacts: every file of the folder (plots, config.yaml, metrics.json, model files).

Each MLflow run carries a tag with the folder's identity (a hash of its config digest, data
fingerprint and folder name), so logging a folder again finds that run and updates it instead
of adding a second one: `featpipe export mlflow` can be repeated safely.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Iterable, Iterator

import yaml

from . import yaml_safe
from .errors import FeatpipeError, ModelError

EXTRA_HINT = "pip install 'featpipe[mlflow]'"
DEFAULT_EXPERIMENT = "featpipe"  # runs outside a batch; a batch's runs go to an experiment named after it
RUN_KEY_TAG = "featpipe.run_key"  # the folder's identity: how a folder logged twice finds its MLflow run
LOGGED_TAG = "featpipe.logged_finished"  # set last: the folder's finish time once everything is logged
PROBE_TIMEOUT_S = 10  # the reachability check's HTTP timeout, instead of MLflow's minutes of retries
_BATCH_LIMIT = 100  # params, tags or metrics per log_batch call (MLflow accepts up to 100 params a call)
_PARAM_MAX = 6000  # characters of a param value MLflow stores
_KEY_UNSAFE = re.compile(r"[^\w.\- /]")  # characters MLflow does not accept in a param or metric key


class TrackingError(FeatpipeError):
    """MLflow is not installed, its tracking store cannot be reached, or logging to it failed."""


def import_mlflow():
    """The mlflow module, or a TrackingError saying which extra to install."""
    try:
        import mlflow
    except ImportError as exc:
        raise TrackingError(f"MLflow tracking needs the mlflow package, which is not installed ({exc}); "
                            f"install the extra: {EXTRA_HINT}") from None
    return mlflow


# -- reading run folders (the one place this module reads them) ----------------------------------

@dataclass
class FinishedRun:
    """What a finished run folder holds, as plain data."""

    path: Path
    metrics: dict  # metrics.json
    config: dict  # config.yaml (the resolved config)
    history: dict | None  # history.json (MLP runs), else None


def read_finished_run(run_dir: str | Path) -> FinishedRun:
    """Read a finished run folder; ModelError if it is not one (no metrics.json, failed, unreadable)."""
    from .runs.folder import read_metrics

    path = Path(run_dir)
    if (path / "error.json").is_file() and not (path / "metrics.json").is_file():
        raise ModelError(f"{path}: a failed run (error.json, no metrics.json); only finished runs are logged")
    metrics = read_metrics(path)
    if metrics.get("status") != "done" or not isinstance(metrics.get("accuracy"), dict):
        raise ModelError(f"{path}: not a finished run (status {metrics.get('status')!r}); only finished runs are logged")
    try:
        config = yaml_safe.read_yaml_file(path / "config.yaml", "config")
        history_path = path / "history.json"
        history = json.loads(history_path.read_text(encoding="utf-8")) if history_path.is_file() else None
    except (OSError, yaml.YAMLError, json.JSONDecodeError) as exc:
        raise ModelError(f"{path}: unreadable run folder ({exc})") from None
    if not isinstance(config, dict):
        raise ModelError(f"{path / 'config.yaml'}: not a featpipe config (expected a mapping)")
    return FinishedRun(path=path, metrics=metrics, config=config, history=history if isinstance(history, dict) else None)


def find_run_folders(root: str | Path) -> list[Path]:
    """Every run folder (finished or failed) at or below `root`."""
    from .runs.folder import find_run_dirs  # not via featpipe.report, which imports matplotlib

    return find_run_dirs(root)


def batch_name_of(run_dir: Path) -> str | None:
    """The name of the batch whose output folder holds `run_dir`, or None outside a batch."""
    from .bench.state import OutputFolder

    try:
        manifest = OutputFolder(run_dir.parent).read_manifest()
    except FeatpipeError:
        return None
    return manifest["name"] if manifest else None


# -- what a run logs -----------------------------------------------------------------------------

def flatten(data: dict, prefix: str = "") -> dict[str, str]:
    """Nested config -> {"a.b.c": text}; lists and scalars written as in YAML flow style."""
    from .runs.groups import flatten as flatten_values

    return {name: value if isinstance(value, str) else json.dumps(value)
            for name, value in flatten_values(data, prefix).items()}


def data_fingerprint(metrics: dict) -> str:
    """One digest of the run's data: its splits' fingerprints (order-free), 16 hex digits."""
    fingerprints = (metrics.get("data") or {}).get("fingerprints") or {}
    return hashlib.sha256(json.dumps(fingerprints, sort_keys=True).encode()).hexdigest()[:16]


def run_key(run: FinishedRun) -> str:
    """The folder's identity: config digest, data fingerprint and folder name, hashed."""
    parts = [run.metrics.get("config_digest"), data_fingerprint(run.metrics), run.path.name]
    return hashlib.sha256(json.dumps(parts).encode()).hexdigest()[:32]


def run_params(run: FinishedRun) -> dict[str, str]:
    """The flattened config; a value too long for MLflow is cut (the whole config is an artifact)."""
    return {_safe_key(k): v[:_PARAM_MAX] for k, v in flatten(run.config).items()}


def run_metrics(run: FinishedRun) -> list[tuple[str, float, int]]:
    """(key, value, step) for every number worth plotting or sorting by."""
    m = run.metrics
    out: list[tuple[str, float, int]] = []

    def add(key: str, value, step: int = 0) -> None:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            out.append((_safe_key(key), float(value), step))

    for split, accuracy in m["accuracy"].items():
        add(f"{split}_accuracy", accuracy)
    for split, score in (m.get("scores") or {}).items():
        for name, accuracy in (score.get("per_class") or {}).items():
            add(f"{split}_accuracy/{name}", accuracy)
    timings = m.get("timings") or {}
    for stage, seconds in timings.items():
        add(f"time/{stage}_s", seconds)
    for stage, seconds in (timings.get("feature_stages") or {}).items():
        add(f"time/features/{stage}_s", seconds)
    add("feature_dim", m.get("feature_dim"))
    add("predict_images_per_s", m.get("predict_images_per_s"))
    add("model_bytes", m.get("model_bytes"))
    selection = m.get("selection") or {}
    if selection.get("parameter"):
        add(f"selected/{selection['parameter']}", selection.get("chosen"))
        for step, trial in enumerate(selection.get("trials") or []):
            add(f"selection/{selection['parameter']}", trial.get(selection["parameter"].rsplit(".", 1)[-1]), step)
            add("selection/val_accuracy", trial.get("val_accuracy"), step)
    for name, values in (run.history or {}).items():
        if isinstance(values, list):
            for epoch, value in enumerate(values, start=1):
                add(f"epoch/{name}", value, epoch)
    return out


def run_tags(run: FinishedRun) -> dict[str, str]:
    from .runs.results import family_of

    m = run.metrics
    features = [str(f) for f in m.get("features") or []]
    revision = m.get("git_revision")
    tags = {
        RUN_KEY_TAG: run_key(run),
        "featpipe.run_id": run.path.name,
        "featpipe.name": str(m.get("name")),
        "featpipe.family": family_of(features, m.get("classifier")),
        "featpipe.features": "+".join(features),
        "featpipe.classifier": str(m.get("classifier")),
        "featpipe.data_fingerprint": data_fingerprint(m),
        "featpipe.data_source": str((m.get("data") or {}).get("source")),
        "featpipe.config_digest": str(m.get("config_digest")),
        "featpipe.git_revision": str(revision),
        "featpipe.run_dir": str(run.path.absolute()),
        "featpipe.version": str((m.get("versions") or {}).get("featpipe")),
    }
    if revision:
        tags["mlflow.source.git.commit"] = str(revision).removesuffix("+dirty")
    return tags


def _safe_key(key: str) -> str:
    return _KEY_UNSAFE.sub("_", key)


def _millis(iso: str | None) -> int | None:
    try:
        return int(datetime.fromisoformat(iso).timestamp() * 1000) if iso else None
    except ValueError:
        return None


def _chunks(items: list, size: int = _BATCH_LIMIT) -> Iterator[list]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


# -- the tracking store --------------------------------------------------------------------------

def resolve_uri(tracking_uri: str | None) -> str:
    """The tracking URI to use: the one given, else $MLFLOW_TRACKING_URI, else MLflow's own default.

    A plain path ending in .db or .sqlite means a SQLite database there.
    """
    mlflow = import_mlflow()
    if not tracking_uri:
        return mlflow.get_tracking_uri()
    if "://" not in tracking_uri and tracking_uri.endswith((".db", ".sqlite")):
        return "sqlite:///" + str(Path(tracking_uri).absolute())
    return tracking_uri


@dataclass
class Logged:
    """One run folder's MLflow run: its id and what logging did (created, updated, unchanged)."""

    path: Path
    run_id: str
    action: str
    experiment: str

    def describe(self) -> str:
        return f"mlflow: {self.action} run {self.run_id} in experiment {self.experiment!r} ({self.path.name})"


class MlflowTracker:
    """One MLflow client for one command: checks the store is reachable, then logs run folders.

    Parameters
    ----------
    tracking_uri : where to log; None or "" for $MLFLOW_TRACKING_URI, else MLflow's default.
    experiment : experiment name for every run; default $MLFLOW_EXPERIMENT_NAME, else the
        batch's name for a batch's runs and "featpipe" for the others.
    """

    def __init__(self, tracking_uri: str | None = None, experiment: str | None = None) -> None:
        import_mlflow()
        from mlflow.tracking import MlflowClient

        self.uri = resolve_uri(tracking_uri)
        self.experiment = experiment or os.environ.get("MLFLOW_EXPERIMENT_NAME") or None
        self.logged: dict[Path, Logged] = {}  # by absolute folder path
        self.failures: dict[Path, str] = {}  # batch runs that could not be logged (see log_quietly), by folder
        self._experiment_ids: dict[str, str] = {}
        self._broken: str | None = None  # the first MLflow failure of a batch: later runs do not try again
        database = _sqlite_path(self.uri)
        if database is not None:
            database.parent.mkdir(parents=True, exist_ok=True)
        with self._errors("open the MLflow tracking store"), _fail_fast_http():
            self.client = MlflowClient(tracking_uri=self.uri)
            self.client.search_experiments(max_results=1)  # fails now, not after the first run

    def experiment_for(self, run_dir: Path) -> str:
        return self.experiment or batch_name_of(run_dir) or DEFAULT_EXPERIMENT

    def log_run(self, run_dir: str | Path) -> Logged:
        """Log one finished run folder: create its MLflow run, or update the one that has its identity."""
        run = read_finished_run(run_dir)
        experiment = self.experiment_for(run.path)
        finished = str(run.metrics.get("finished"))
        with self._errors(f"log {run.path}", run.path):
            experiment_id = self._experiment_id(experiment)
            found = self.client.search_runs([experiment_id], f"tags.`{RUN_KEY_TAG}` = '{run_key(run)}'", max_results=1)
            if found and found[0].data.tags.get(LOGGED_TAG) == finished:
                self.client.set_tag(found[0].info.run_id, "featpipe.run_dir", str(run.path.absolute()))
                return self._record(Logged(run.path, found[0].info.run_id, "unchanged", experiment))
            if found:
                run_id, action = found[0].info.run_id, "updated"
            else:
                created = self.client.create_run(experiment_id, start_time=_millis(run.metrics.get("started")),
                                                 tags={RUN_KEY_TAG: run_key(run)}, run_name=run.path.name)
                run_id, action = created.info.run_id, "created"
            self._log_contents(run_id, run)
            self.client.set_terminated(run_id, "FINISHED", end_time=_millis(finished))
            self.client.set_tag(run_id, LOGGED_TAG, finished)
        return self._record(Logged(run.path, run_id, action, experiment))

    def log_runs(self, paths: Iterable[str | Path]) -> tuple[list[Logged], list[str]]:
        """Log several folders; returns what was logged and a warning per folder that is not a finished run.

        An MLflow failure stops at once (TrackingError): the next folders would fail the same way.
        """
        logged, skipped = [], []
        for path in paths:
            try:
                logged.append(self.log_run(path))
            except TrackingError:
                raise
            except ModelError as error:
                skipped.append(str(error))
        return logged, skipped

    def log_quietly(self, run_dir: str | Path) -> str:
        """Log one of a batch's finished runs; a failure becomes the returned line (and `failures`), not an error.

        One unreachable moment of the tracking server must not stop a batch: the folder is kept
        and `featpipe export mlflow` logs it later.
        """
        if self._broken is not None:
            self.failures[Path(run_dir).absolute()] = self._broken
            return "mlflow: not logged (MLflow failed on an earlier run of this batch)"
        try:
            return self.log_run(run_dir).describe()
        except FeatpipeError as error:
            self.failures[Path(run_dir).absolute()] = str(error)
            if isinstance(error, TrackingError):  # the store, not this folder: the next runs would wait and fail too
                self._broken = str(error)
            return f"mlflow: not logged ({error})"

    def finish_batch(self, out_dir: Path, done: list[Path]) -> list[str]:
        """Log the batch's finished runs not logged yet (those an earlier command ran); lines to print."""
        before = len(self.logged)
        for path in done:
            if Path(path).absolute() not in self.logged and Path(path).absolute() not in self.failures:
                self.log_quietly(path)
        lines = []
        if self.logged:
            experiments = ", ".join(repr(name) for name in sorted({e.experiment for e in self.logged.values()}))
            earlier = len(self.logged) - before
            lines.append(f"mlflow: {len(self.logged)} finished run(s) in experiment {experiments} at {self.uri}"
                         + (f" ({earlier} run by earlier commands)" if earlier else ""))
        if self.failures:
            lines.append(f"warning: {len(self.failures)} run(s) not logged to MLflow; once it works again, "
                         f"log them with `featpipe export mlflow {out_dir}`")
        return lines

    def _record(self, logged: Logged) -> Logged:
        self.logged[logged.path.absolute()] = logged
        return logged

    def _log_contents(self, run_id: str, run: FinishedRun) -> None:
        from mlflow.entities import Metric, Param, RunTag

        stamp = _millis(run.metrics.get("finished")) or 0
        params = [Param(k, v) for k, v in run_params(run).items()]
        tags = [RunTag(k, v) for k, v in run_tags(run).items()]
        metrics = [Metric(k, v, stamp, step) for k, v, step in run_metrics(run)]
        for chunk in _chunks(params):
            self.client.log_batch(run_id, params=chunk)
        for chunk in _chunks(tags):
            self.client.log_batch(run_id, tags=chunk)
        for chunk in _chunks(metrics, 1000):
            self.client.log_batch(run_id, metrics=chunk)
        self.client.log_artifacts(run_id, str(run.path))

    def _experiment_id(self, name: str) -> str:
        if name not in self._experiment_ids:
            experiment = self.client.get_experiment_by_name(name)
            if experiment is None:
                experiment_id = self.client.create_experiment(name, artifact_location=_artifact_location(self.uri, name))
            else:
                experiment_id = experiment.experiment_id
            self._experiment_ids[name] = experiment_id
        return self._experiment_ids[name]

    @contextlib.contextmanager
    def _errors(self, doing: str, run_dir: Path | None = None) -> Iterator[None]:
        """MLflow's and the network's exceptions -> one TrackingError naming the store (and the folder)."""
        from mlflow.exceptions import MlflowException

        try:
            yield
        except (MlflowException, OSError) as exc:
            later = (f"; the run folder is complete: log it later with `featpipe export mlflow {run_dir}`"
                     if run_dir is not None else "")
            unreachable = _unreachable(exc)
            if unreachable is not None:
                raise TrackingError(
                    f"cannot reach the MLflow tracking server at {self.uri} ({unreachable}): start it (e.g. "
                    f"`mlflow server --port 5000`) or give another URI to --mlflow or MLFLOW_TRACKING_URI{later}"
                ) from None
            detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise TrackingError(f"could not {doing} in MLflow at {self.uri}: {detail[:500]}{later}") from None


def export_runs(root: str | Path, tracking_uri: str | None = None,
                experiment: str | None = None) -> tuple[MlflowTracker, list[Logged], list[str]]:
    """Log every finished run folder at or below `root`; returns the tracker, what was logged, and warnings.

    Failed runs (and folders that are not finished runs) are skipped with a warning each.
    """
    import_mlflow()  # the missing extra first: it is what the user must fix before anything else
    root = Path(root)
    if not root.is_dir():
        raise ModelError(f"{root}: no such folder (expected a run folder or a folder of run folders)")
    paths = find_run_folders(root)
    if not paths:
        raise ModelError(f"{root}: no run folders found (a run folder holds config.yaml and metrics.json; "
                         "make one with `featpipe run` or `featpipe bench`)")
    tracker = MlflowTracker(tracking_uri, experiment)
    logged, skipped = tracker.log_runs(paths)
    return tracker, logged, skipped


def _sqlite_path(uri: str) -> Path | None:
    """The database file of a local SQLite tracking URI (sqlite:///PATH), else None."""
    return Path(uri[len("sqlite:///"):]).absolute() if uri.startswith("sqlite:///") else None


def _artifact_location(uri: str, experiment: str) -> str | None:
    """Artifacts of a local SQLite store go beside the database (mlruns/EXPERIMENT), whatever the working folder."""
    database = _sqlite_path(uri)
    if database is None:
        return None  # the server's or store's own default
    return (database.parent / "mlruns" / _safe_key(experiment).replace(" ", "_")).as_uri()


def _unreachable(exc: Exception) -> str | None:
    """Why a server could not be reached (e.g. "Connection refused"), or None if it answered."""
    text = str(exc)
    if not any(sign in text for sign in ("Max retries exceeded", "Failed to establish", "timed out", "Read timed")):
        return None
    reasons = re.findall(r"\[Errno -?\d+\] ([^\"')]+)", text)
    return reasons[-1].strip() if reasons else "no answer"


@contextlib.contextmanager
def _fail_fast_http() -> Iterator[None]:
    """No retries and a short timeout while checking a server, unless the user set their own."""
    defaults = {"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0", "MLFLOW_HTTP_REQUEST_TIMEOUT": str(PROBE_TIMEOUT_S)}
    added = [name for name in defaults if name not in os.environ]
    os.environ.update({name: defaults[name] for name in added})
    try:
        yield
    finally:
        for name in added:
            os.environ.pop(name, None)
