"""MLflow tracking end to end: real tiny runs, a real local store, read back through MLflow's own client."""

import json
import shutil
import socket
import sys

import pytest
import yaml
from typer.testing import CliRunner

from featpipe.cli import app
from featpipe.tracking import LOGGED_TAG, RUN_KEY_TAG

pytest.importorskip("mlflow")  # part of the `test` extra; without it only these tests cannot run


def invoke(*args, env=None):
    return CliRunner().invoke(app, [str(a) for a in args], env=env)


def only_run(client, experiment: str):
    """The one MLflow run of `experiment` (fails if there are none or several)."""
    found = client.get_experiment_by_name(experiment)
    assert found is not None, f"no MLflow experiment {experiment!r}"
    runs = client.search_runs([found.experiment_id])
    assert len(runs) == 1, [r.info.run_name for r in runs]
    return runs[0]


def runs_by_name(client, experiment: str) -> dict:
    found = client.get_experiment_by_name(experiment)
    assert found is not None, f"no MLflow experiment {experiment!r}"
    runs = client.search_runs([found.experiment_id])
    names = [r.info.run_name for r in runs]
    assert len(names) == len(set(names)), f"duplicated MLflow runs: {names}"
    return {r.info.run_name: r for r in runs}


def test_run_with_mlflow_logs_params_metrics_history_tags_and_files(configs, store, client, tmp_path):
    out = tmp_path / "runs"
    result = invoke("run", configs / "tiny-mlp.yaml", "--out", out, "--name", "mlp-a", "-q", "--mlflow", store)
    assert result.exit_code == 0, result.output
    folder = out / "mlp-a"
    metrics = json.loads((folder / "metrics.json").read_text())
    history = json.loads((folder / "history.json").read_text())
    run = only_run(client, "featpipe")
    assert f"created run {run.info.run_id}" in result.output
    assert run.info.run_name == "mlp-a" and run.info.status == "FINISHED"

    params = run.data.params
    assert params["seed"] == "0" and params["data.source"] == "digits" and params["classifier"] == "mlp"
    assert params["mlp.hidden_sizes"] == "[16]" and params["mlp.epochs"] == "3" and params["features.raw"] == "{}"
    assert params["data.n_train"] == "300"

    logged = run.data.metrics  # the latest value of each metric
    assert logged["val_accuracy"] == metrics["accuracy"]["val"]
    assert logged["train_accuracy"] == metrics["accuracy"]["train"]
    for name, accuracy in metrics["scores"]["val"]["per_class"].items():
        assert logged[f"val_accuracy/{name}"] == accuracy
    assert logged["feature_dim"] == 64
    assert logged["model_bytes"] == metrics["model_bytes"]
    assert logged["predict_images_per_s"] == metrics["predict_images_per_s"]
    assert logged["time/train_s"] == metrics["timings"]["train"]
    assert logged["time/features/fit_s"] == metrics["timings"]["feature_stages"]["fit"]

    for key in ("val_acc", "loss", "train_acc"):
        steps = client.get_metric_history(run.info.run_id, f"epoch/{key}")
        assert [(m.step, m.value) for m in sorted(steps, key=lambda m: m.step)] == list(enumerate(history[key], 1))

    tags = run.data.tags
    assert tags["featpipe.family"] == "MLP on pixels"
    assert tags["featpipe.features"] == "raw" and tags["featpipe.classifier"] == "mlp"
    assert tags["featpipe.run_id"] == "mlp-a"
    assert tags["featpipe.config_digest"] == metrics["config_digest"]
    assert tags["featpipe.git_revision"] == str(metrics["git_revision"])
    assert len(tags["featpipe.data_fingerprint"]) == 16 and tags[RUN_KEY_TAG]
    assert tags[LOGGED_TAG] == metrics["finished"]

    files = {f.path for f in client.list_artifacts(run.info.run_id)}
    assert {"config.yaml", "metrics.json", "history.json", "model.json", "model.npz",
            "confusion.png", "learning_curves.png"} <= files
    copy = client.download_artifacts(run.info.run_id, "config.yaml", str(tmp_path))
    assert open(copy, encoding="utf-8").read() == (folder / "config.yaml").read_text(encoding="utf-8")


def test_bare_mlflow_uses_mlflow_tracking_uri(configs, store, client, tmp_path):
    """`--mlflow` with no value (here just before the config file) logs where MLFLOW_TRACKING_URI says."""
    out = tmp_path / "runs"
    result = invoke("run", "--mlflow", configs / "tiny-hog.yaml", "--out", out, "--name", "hog-a", "-q",
                    env={"MLFLOW_TRACKING_URI": store})
    assert result.exit_code == 0, result.output
    run = only_run(client, "featpipe")
    assert run.info.run_name == "hog-a"
    assert run.data.tags["featpipe.family"] == "features + SVM" and run.data.tags["featpipe.features"] == "hog"
    selection = json.loads((out / "hog-a" / "metrics.json").read_text())["selection"]
    tried = [trial["C"] for trial in selection["trials"]]  # the grid, plus any values the search widened to
    assert run.data.metrics["selected/svm.C"] == selection["chosen"]
    trials = client.get_metric_history(run.info.run_id, "selection/svm.C")
    assert sorted((m.step, m.value) for m in trials) == list(enumerate(tried))


def test_bare_mlflow_without_tracking_uri_uses_mlflow_db_in_the_working_folder(configs, empty_store, tmp_path,
                                                                             monkeypatch):
    from mlflow.tracking import MlflowClient

    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.chdir(tmp_path)
    shutil.copyfile(empty_store, tmp_path / "mlflow.db")  # the tables made once, not again here
    result = invoke("run", configs / "tiny-hog.yaml", "--out", tmp_path / "runs", "--name", "hog-b", "--mlflow", "-q")
    assert result.exit_code == 0, result.output
    assert f"sqlite:///{tmp_path / 'mlflow.db'}" in result.output
    run = only_run(MlflowClient(tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}"), "featpipe")
    assert run.info.run_name == "hog-b"
    assert run.info.artifact_uri.startswith((tmp_path / "mlruns").as_uri())


def test_export_twice_is_one_mlflow_run_per_folder(configs, store, client, tmp_path):
    out = tmp_path / "runs"
    for config, name in (("tiny-hog.yaml", "hog"), ("tiny-mlp.yaml", "mlp")):
        assert invoke("run", configs / config, "--out", out, "--name", name, "-q").exit_code == 0

    first = invoke("export", "mlflow", out, "--tracking-uri", store)
    assert first.exit_code == 0, first.output
    assert "2 run(s)" in first.output and "2 created" in first.output
    ids = {name: run.info.run_id for name, run in runs_by_name(client, "featpipe").items()}
    assert set(ids) == {"hog", "mlp"}

    second = invoke("export", "mlflow", out, "--tracking-uri", store)
    assert second.exit_code == 0, second.output
    assert "2 unchanged" in second.output
    runs = runs_by_name(client, "featpipe")
    assert {name: run.info.run_id for name, run in runs.items()} == ids
    history = client.get_metric_history(ids["mlp"], "epoch/val_acc")
    assert len(history) == 3  # not logged a second time

    # An export that stopped half-way (no "logged" mark yet) is finished on the same MLflow run.
    client.delete_tag(ids["hog"], LOGGED_TAG)
    third = invoke("export", "mlflow", out / "hog", "--tracking-uri", store)
    assert third.exit_code == 0, third.output
    assert f"updated run {ids['hog']}" in third.output
    runs = runs_by_name(client, "featpipe")
    assert {name: run.info.run_id for name, run in runs.items()} == ids
    assert runs["hog"].data.tags[LOGGED_TAG] == json.loads((out / "hog" / "metrics.json").read_text())["finished"]


def test_export_skips_failed_runs_and_explains_an_empty_folder(configs, store, client, tmp_path):
    out = tmp_path / "runs"
    assert invoke("run", configs / "tiny-hog.yaml", "--out", out, "--name", "hog", "-q").exit_code == 0
    failed = out / "broken"  # as a batch records a run that raised
    failed.mkdir()
    (failed / "config.yaml").write_text(yaml.safe_dump({"name": "broken"}))
    (failed / "error.json").write_text(json.dumps({"type": "ValueError", "message": "boom"}))

    result = invoke("export", "mlflow", out, "--tracking-uri", store)
    assert result.exit_code == 0, result.output
    assert f"skipped: {failed}: a failed run" in result.output
    assert set(runs_by_name(client, "featpipe")) == {"hog"}

    empty = tmp_path / "empty"
    empty.mkdir()
    result = invoke("export", "mlflow", empty, "--tracking-uri", store)
    assert result.exit_code == 1
    assert "no run folders found" in result.output and "Traceback" not in result.output


def test_bench_with_mlflow_logs_each_run_and_those_of_earlier_commands(configs, store, client, tmp_path):
    batch = configs / "batch.yaml"
    out = tmp_path / "out"
    batch.write_text("name: tiny-sweep\nruns:\n  - config: tiny-hog.yaml\n    grid: {svm.C: [0.1]}\n")
    assert invoke("bench", batch, "--out", out, "-j", "1").exit_code == 0

    # The sweep grows by one value: only the new run runs, and both are logged.
    batch.write_text("name: tiny-sweep\nruns:\n  - config: tiny-hog.yaml\n    grid: {svm.C: [0.1, 1.0]}\n")
    result = invoke("bench", batch, "--out", out, "-j", "1", "--mlflow", store)
    assert result.exit_code == 0, result.output
    assert "2 runs, 2 done (1 run now)" in result.output
    assert result.output.count("mlflow: created run") == 1  # as the new run finished
    assert "(1 run by earlier commands)" in result.output
    rows = json.loads((out / "results.json").read_text())["runs"]
    runs = runs_by_name(client, "tiny-sweep")  # the batch's name is the experiment's
    assert set(runs) == {row["run_id"] for row in rows}
    for row in rows:
        run = runs[row["run_id"]]
        assert run.data.metrics["val_accuracy"] == row["val_accuracy"]
        assert run.data.params["svm.C"] in ("0.1", "1.0")
        assert run.data.tags["featpipe.run_dir"] == str(out.absolute() / row["run_id"])

    again = invoke("bench", batch, "--out", out, "-j", "1", "--mlflow", store)
    assert again.exit_code == 0, again.output
    assert set(runs_by_name(client, "tiny-sweep")) == set(runs)


def test_a_store_that_fails_mid_batch_costs_one_attempt_and_a_warning(configs, store, tmp_path):
    """The batch's runs are kept; MLflow is not tried again after its first failure; export logs them later."""
    from featpipe.tracking import MlflowTracker

    out = tmp_path / "runs"
    for name in ("a", "b"):
        assert invoke("run", configs / "tiny-hog.yaml", "--out", out, "--name", name, "-q").exit_code == 0
    tracker = MlflowTracker(store)
    database = store[len("sqlite:///"):]
    healthy = open(database, "rb").read()
    with open(database, "r+b") as f:  # the store breaks between two runs of a batch
        f.write(b"not a database" * 100)
    first = tracker.log_quietly(out / "a")
    assert first.startswith("mlflow: not logged (could not log") and "featpipe export mlflow" in first
    assert tracker.log_quietly(out / "b") == "mlflow: not logged (MLflow failed on an earlier run of this batch)"
    lines = tracker.finish_batch(out, [out / "a", out / "b"])
    assert lines == [f"warning: 2 run(s) not logged to MLflow; once it works again, log them with "
                     f"`featpipe export mlflow {out}`"]

    open(database, "wb").write(healthy)
    result = invoke("export", "mlflow", out, "--tracking-uri", store)
    assert result.exit_code == 0 and "2 created" in result.output, result.output


def test_bench_dry_run_ignores_mlflow_and_writes_nothing(configs, tmp_path):
    batch = configs / "batch.yaml"
    batch.write_text("name: tiny-sweep\nruns:\n  - config: tiny-hog.yaml\n")
    store = tmp_path / "mlflow" / "mlflow.db"
    result = invoke("bench", batch, "--out", tmp_path / "out", "--dry-run", "--mlflow", f"sqlite:///{store}")
    assert result.exit_code == 0, result.output
    assert not store.parent.exists() and not (tmp_path / "out").exists()


def test_missing_extra_says_what_to_install_and_runs_nothing(configs, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "mlflow", None)  # `import mlflow` now fails, as if not installed
    out = tmp_path / "runs"
    for args in (("run", configs / "tiny-hog.yaml", "--out", out, "--mlflow"),
                 ("bench", configs / "tiny-hog.yaml", "--out", out, "--mlflow"),
                 ("export", "mlflow", tmp_path)):
        result = invoke(*args)
        assert result.exit_code == 1, (args, result.output)
        assert "pip install 'featpipe[mlflow]'" in result.output and "Traceback" not in result.output
    assert not out.exists()


def test_unreachable_server_is_one_clear_message_before_any_run(configs, tmp_path):
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    out = tmp_path / "runs"
    result = invoke("run", configs / "tiny-hog.yaml", "--out", out, "--mlflow", f"http://127.0.0.1:{port}")
    assert result.exit_code == 1
    assert f"cannot reach the MLflow tracking server at http://127.0.0.1:{port}" in result.output
    assert "Traceback" not in result.output and len(result.output.strip().splitlines()) == 1
    assert not out.exists()
