"""The command line end to end on tiny data: run, evaluate, predict, data; every error path."""

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from featpipe import __version__
from featpipe.cli import app

runner = CliRunner()

FAST_SVM = """
name: tiny-hog
seed: 0
data: {source: digits, n_train: 300, val_fraction: 0.2}
features:
  hog: {pixels_per_cell: 2, cells_per_block: 2}
svm: {C: [0.1, 1.0]}
"""


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args])


def only_run(out: Path) -> Path:
    runs = [p for p in out.iterdir() if not p.name.startswith(".")]
    assert len(runs) == 1, runs
    return runs[0]


def test_version():
    result = invoke("--version")
    assert result.exit_code == 0
    assert __version__ in result.output


@pytest.mark.parametrize("command", [[], ["run"], ["evaluate"], ["predict"], ["data", "info"], ["data", "download"]])
def test_every_command_has_help(command):
    result = invoke(*command, "--help")
    assert result.exit_code == 0
    assert "Usage" in result.output


@pytest.mark.parametrize("wrapped", [False, True], ids=["plain", "wrapped-by-a-library"])
def test_ctrl_c_during_a_run_exits_130_with_one_line(tmp_path, write_config, monkeypatch, wrapped):
    def interrupted(*args, **kwargs):
        if not wrapped:
            raise KeyboardInterrupt
        try:
            raise KeyboardInterrupt
        except KeyboardInterrupt as interrupt:  # as pydantic's serializer does
            raise ValueError("Error calling function `ser_path`: KeyboardInterrupt") from interrupt

    monkeypatch.setattr("featpipe.runner.run_experiment", interrupted)
    result = invoke("run", write_config(FAST_SVM), "--out", tmp_path / "runs", "-q")
    assert result.exit_code == 130 and "interrupted: nothing was written" in result.output
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())


def test_an_unexpected_error_in_a_run_is_not_taken_for_ctrl_c(tmp_path, write_config, monkeypatch):
    def broken(*args, **kwargs):
        raise ValueError("a bug")

    monkeypatch.setattr("featpipe.runner.run_experiment", broken)
    result = invoke("run", write_config(FAST_SVM), "--out", tmp_path / "runs", "-q")
    assert result.exit_code == 1 and isinstance(result.exception, ValueError)


def test_run_writes_a_complete_run_folder(tmp_path, write_config):
    out = tmp_path / "runs"
    result = invoke("run", write_config(FAST_SVM), "--out", out, "-q")
    assert result.exit_code == 0, result.output
    assert "tiny-hog: hog -> svm" in result.output
    run = only_run(out)
    names = {p.name for p in run.iterdir()}
    assert {"config.yaml", "metrics.json", "model.json", "model.npz", "confusion.png"} <= names
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["status"] == "done"
    assert set(metrics["accuracy"]) == {"train", "val"}
    assert metrics["accuracy"]["val"] > 0.8  # HOG + SVM on digits is far above chance (0.1)
    assert metrics["selection"]["chosen"] in (0.1, 1.0)
    assert len(metrics["scores"]["val"]["confusion"]) == 10
    assert sum(map(sum, metrics["scores"]["val"]["confusion"])) == metrics["data"]["sizes"]["val"] == 60
    assert metrics["versions"]["numpy"] == np.__version__
    assert Image.open(run / "confusion.png").size[0] > 100


def test_same_seed_same_result(tmp_path, write_config):
    config = write_config(FAST_SVM)
    for name in ("a", "b"):
        assert invoke("run", config, "--out", tmp_path, "--name", name, "-q").exit_code == 0
    a, b = (json.loads((tmp_path / n / "metrics.json").read_text()) for n in "ab")
    assert a["scores"] == b["scores"]


def test_set_overrides_reach_the_run(tmp_path, write_config):
    result = invoke("run", write_config(FAST_SVM), "--out", tmp_path, "--name", "r", "-q",
                    "--set", "svm.C=0.5", "--set", "features.hog.orientations=6")
    assert result.exit_code == 0, result.output
    text = (tmp_path / "r" / "config.yaml").read_text()
    assert "orientations: 6" in text and "C: 0.5" in text


def test_evaluate_and_predict(tmp_path, write_config, image_folder):
    config = write_config("""
name: colors
data: {source: folder, root: %s, val_fraction: 0.34}
features: {color: {space: rgb, bins: 4}}
svm: {C: 1.0}
""" % image_folder)
    assert invoke("run", config, "--out", tmp_path, "--name", "c", "-q").exit_code == 0
    run = tmp_path / "c"
    result = invoke("evaluate", run, "--data", image_folder, "-q")
    assert result.exit_code == 0, result.output
    assert "accuracy" in result.output
    saved = list((run / "evaluations").glob("*.json"))
    assert len(saved) == 1 and json.loads(saved[0].read_text())["n"] == 18
    # an image of another size, and a gray one: resized / converted as the model expects
    big = np.zeros((40, 30, 3), dtype=np.uint8)
    big[..., 0] = 230
    Image.fromarray(big).save(tmp_path / "reddish.png")
    Image.fromarray(np.full((20, 20), 128, dtype=np.uint8)).save(tmp_path / "gray.png")
    result = invoke("predict", run, tmp_path / "reddish.png", tmp_path / "gray.png", "--top", "2")
    assert result.exit_code == 0, result.output
    first = result.output.splitlines()[0]
    assert first.startswith(str(tmp_path / "reddish.png") + ": red ")


def test_data_info(image_folder):
    result = invoke("data", "info", image_folder, "-q")
    assert result.exit_code == 0, result.output
    assert "blue" in result.output and "18" in result.output


def assert_error(result, code, pattern):
    import re

    assert result.exit_code == code, result.output
    assert re.search(pattern, result.output), result.output
    assert "Traceback" not in result.output


def test_missing_config(tmp_path):
    assert_error(invoke("run", tmp_path / "none.yaml", "--out", tmp_path), 2, "config file not found")


def test_yaml_syntax_error(write_config, tmp_path):
    assert_error(invoke("run", write_config("name: [x\n"), "--out", tmp_path), 2, "YAML syntax error at line")


def test_unknown_key_and_wrong_type(write_config, tmp_path):
    assert_error(invoke("run", write_config("svm: {c: 1}\n"), "--out", tmp_path), 2, "unknown key 'svm.c'")
    assert_error(invoke("run", write_config("seed: x\n"), "--out", tmp_path), 2, r"seed: .*\(got 'x'\)")


def test_set_with_unknown_key(write_config, tmp_path):
    assert_error(invoke("run", write_config(FAST_SVM), "--out", tmp_path, "--set", "features.hog.pixel=3"),
                 2, "unknown key 'features.hog.pixel'")


def test_missing_data_folder_leaves_nothing(write_config, tmp_path):
    out = tmp_path / "runs"
    config = write_config(f"data: {{source: folder, root: {tmp_path / 'missing'}}}\n")
    result = invoke("run", config, "--out", out)
    assert result.exit_code == 1
    assert "missing" in result.output and "Traceback" not in result.output
    assert not out.exists() or not [p for p in out.iterdir() if not p.name.startswith(".checkpoints")]


def test_corrupt_image_is_named(write_config, tmp_path, image_folder):
    bad = image_folder / "train" / "red" / "3.png"
    bad.write_bytes(bad.read_bytes()[:40])
    out = tmp_path / "runs"
    result = invoke("run", write_config(f"data: {{source: folder, root: {image_folder}}}\n"), "--out", out, "-q")
    assert_error(result, 1, "3.png")
    assert not out.exists() or list(out.iterdir()) == []


def test_empty_class_folder_is_named(write_config, tmp_path, image_folder):
    (image_folder / "train" / "yellow").mkdir()
    result = invoke("run", write_config(f"data: {{source: folder, root: {image_folder}}}\n"), "--out", tmp_path / "r")
    assert_error(result, 1, "yellow")


def test_too_few_images_for_a_validation_split_is_named(tmp_path, write_config):
    out = tmp_path / "runs"
    result = invoke("run", write_config(FAST_SVM.replace("n_train: 300", "n_train: 5")), "--out", out, "-q")
    assert_error(result, 1, r"no class has two training images, so the validation split is empty "
                            r"\(5 images of 5 classes\).*raise data.n_train")
    assert not out.exists() or not any(out.iterdir())  # nothing half-written


def test_evaluate_rejects_unknown_classes(tmp_path, write_config, image_folder):
    assert invoke("run", write_config(FAST_SVM), "--out", tmp_path, "--name", "d", "-q").exit_code == 0
    assert_error(invoke("evaluate", tmp_path / "d", "--data", image_folder, "-q"), 1,
                 "classes the model does not know: blue, green, red")


def test_evaluate_and_predict_on_a_folder_that_is_not_a_run(tmp_path):
    assert_error(invoke("evaluate", tmp_path, "--data", "digits"), 1, "not a featpipe run folder")
    assert_error(invoke("predict", tmp_path, tmp_path / "x.png"), 1, "not a featpipe run folder")


def test_predict_on_a_non_image(tmp_path, write_config):
    assert invoke("run", write_config(FAST_SVM), "--out", tmp_path, "--name", "d", "-q").exit_code == 0
    (tmp_path / "notes.png").write_text("not an image")
    assert_error(invoke("predict", tmp_path / "d", tmp_path / "notes.png"), 1, "cannot decode image .*notes.png")


def test_download_unknown_dataset():
    assert_error(invoke("data", "download", "imagenet"), 1, "unknown data set 'imagenet'")


def test_evaluate_picks_the_only_split(tmp_path, write_config, image_folder):
    assert invoke("run", write_config(f"data: {{source: folder, root: {image_folder}, val_fraction: 0.34}}\n"
                                      "features: {color: {space: rgb, bins: 4}}\n"),
                  "--out", tmp_path, "--name", "c", "-q").exit_code == 0
    (image_folder / "train").rename(image_folder / "holdout")
    result = invoke("evaluate", tmp_path / "c", "--data", image_folder, "-q")
    assert result.exit_code == 0, result.output
    assert "[holdout]" in result.output


def test_evaluate_resizes_a_folder_of_mixed_sizes_to_the_model(tmp_path, write_config, image_folder):
    assert invoke("run", write_config(f"data: {{source: folder, root: {image_folder}, val_fraction: 0.34}}\n"
                                      "features: {color: {space: rgb, bins: 4}}\n"),
                  "--out", tmp_path, "--name", "c", "-q").exit_code == 0
    mixed = tmp_path / "mixed"  # <class>/<image> alone, images of two sizes, none the model's 12x12
    for channel, name in enumerate(["red", "green", "blue"]):
        (mixed / name).mkdir(parents=True)
        for i, size in enumerate([(20, 30), (7, 9)]):
            image = np.zeros((*size, 3), np.uint8)
            image[..., channel] = 230
            Image.fromarray(image).save(mixed / name / f"{i}.png")
    result = invoke("evaluate", tmp_path / "c", "--data", mixed, "-q")
    assert result.exit_code == 0, result.output
    assert "[train]: accuracy 100.00% over 6 images" in result.output


def test_evaluate_on_the_data_the_model_trained_on_says_so_loudly(tmp_path, write_config):
    config = write_config(FAST_SVM.replace("n_train: 300, ", ""))
    assert invoke("run", config, "--out", tmp_path, "--name", "d", "-q").exit_code == 0
    result = invoke("evaluate", tmp_path / "d", "--data", "digits", "-q")  # digits' only split: train + val
    assert result.exit_code == 0, result.output
    metrics = json.loads((tmp_path / "d" / "metrics.json").read_text())
    n_train = metrics["data"]["sizes"]["train"]
    assert f"WARNING: {n_train} of these 1797 images are images the model was trained on" in result.output
    saved = json.loads(next((tmp_path / "d" / "evaluations").glob("*.json")).read_text())
    assert saved["seen_in_training"] == n_train


def test_evaluate_on_new_images_gives_no_warning(tmp_path, write_config, image_folder):
    config = write_config(f"data: {{source: folder, root: {image_folder}, val_fraction: 0.34}}\n"
                          "features: {color: {space: rgb, bins: 4}}\n")
    assert invoke("run", config, "--out", tmp_path, "--name", "c", "-q").exit_code == 0
    other = tmp_path / "other"
    for path in image_folder.rglob("*.png"):  # the same classes, every image changed
        target = other / path.relative_to(image_folder)
        target.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(255 - np.asarray(Image.open(path))).save(target)
    result = invoke("evaluate", tmp_path / "c", "--data", other, "-q")
    assert result.exit_code == 0, result.output
    assert "WARNING" not in result.output and "could not" not in result.output


def test_predict_json_lists_each_image_with_its_top_classes(tmp_path, write_config, image_folder):
    config = write_config(f"data: {{source: folder, root: {image_folder}, val_fraction: 0.34}}\n"
                          "features: {color: {space: rgb, bins: 4}}\n")
    assert invoke("run", config, "--out", tmp_path, "--name", "c", "-q").exit_code == 0
    image = next(image_folder.rglob("*.png"))
    result = invoke("predict", tmp_path / "c", image, "--top", "2", "--json")
    assert result.exit_code == 0, result.output
    (entry,) = json.loads(result.output)
    assert entry["image"] == str(image) and entry["score_kind"] in ("probability", "decision value")
    assert len(entry["top"]) == 2 and {"class", "score"} <= set(entry["top"][0])


def test_data_info_tables_have_a_header_row():
    result = invoke("data", "info", "digits", "-q")
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[2].split() == ["label", "class", "images"]


def test_flags_show_no_value_placeholder_and_completion_is_offered():
    result = invoke("run", "--help")
    assert result.exit_code == 0
    assert "--resume" in result.output and "<bool>" not in result.output
    assert "--install-completion" in invoke("--help").output
