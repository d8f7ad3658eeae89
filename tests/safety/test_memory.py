"""Memory is estimated before allocating: an oversized configuration is refused in seconds, clearly."""

from __future__ import annotations

import numpy as np
import pytest
from safety_inputs import TINY

from featpipe import memory
from featpipe.errors import ConfigError
from featpipe.nn import MLPClassifier

MLP = TINY.replace("svm: {C: 0.1}", "classifier: mlp\nmlp: {hidden_sizes: [16], epochs: 1}")


def test_huge_hidden_layer_is_refused_before_allocating(cli, tmp_path, monkeypatch):
    monkeypatch.setenv("FEATPIPE_MEMORY_LIMIT", "8GiB")
    config = tmp_path / "mlp.yaml"
    config.write_text(MLP)
    output = cli("run", config, "--set", "mlp.hidden_sizes=[100000000]", "--out", tmp_path / "runs", code=2,
                 says=["training the MLP (mlp.hidden_sizes=[100000000]", "GiB", "8.0 GiB of memory is available",
                       "lower mlp.hidden_sizes", "FEATPIPE_MEMORY_LIMIT"])
    assert "numpy" not in output
    assert not (tmp_path / "runs").exists()


def test_the_limit_can_be_raised_or_lowered(cli, tmp_path, monkeypatch):
    config = tmp_path / "mlp.yaml"
    config.write_text(MLP)
    monkeypatch.setenv("FEATPIPE_MEMORY_LIMIT", "10KB")
    cli("run", config, "--out", tmp_path / "runs", "-q", code=2, says=["only 9.8 KiB of memory is available"])
    monkeypatch.setenv("FEATPIPE_MEMORY_LIMIT", "1GiB")
    cli("run", config, "--out", tmp_path / "runs", "--name", "ok", "-q", code=0)


def test_svm_estimate_names_what_to_lower(cli, tmp_path, monkeypatch):
    config = tmp_path / "svm.yaml"
    config.write_text(TINY)
    monkeypatch.setenv("FEATPIPE_MEMORY_LIMIT", "1000")
    cli("run", config, "--out", tmp_path / "runs", "-q", code=2, says=["training the SVM", "data.n_train"])


def test_bad_limit_setting(cli, tmp_path, monkeypatch):
    config = tmp_path / "svm.yaml"
    config.write_text(TINY)
    monkeypatch.setenv("FEATPIPE_MEMORY_LIMIT", "plenty")
    cli("run", config, "--out", tmp_path / "runs", "-q", code=2, says=["FEATPIPE_MEMORY_LIMIT='plenty'"])


@pytest.mark.parametrize("optimizer, slots", [("sgd", 0), ("momentum", 1), ("adam", 2)])
def test_mlp_estimate_matches_the_weights_a_fitted_mlp_holds(optimizer, slots):
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(60, 7)).astype(np.float32), np.arange(60) % 3
    mlp = MLPClassifier(hidden_sizes=[11, 5], epochs=1, optimizer=optimizer, random_state=0).fit(X, y)
    weights = sum(a.nbytes for a in [*mlp.coefs_, *mlp.intercepts_])
    parts = memory.mlp_bytes(7, [11, 5], 3, n_samples=60, batch_size=256, optimizer=optimizer)
    assert parts["network weights, gradients and best copy"] == 3 * weights
    assert parts["optimizer state"] == slots * weights
    assert parts["normalised training features"] == X.nbytes


@pytest.mark.parametrize("text, expected", [("123", 123), ("8GiB", 8 * 2**30), ("1.5 MB", 1_500_000), ("2kib", 2048)])
def test_parse_bytes(text, expected):
    assert memory.parse_bytes(text, "X") == expected


def test_parse_bytes_refuses_nonsense():
    with pytest.raises(ConfigError, match="X='-3'"):
        memory.parse_bytes("-3", "X")


def test_available_memory_is_positive_without_override(monkeypatch):
    monkeypatch.delenv("FEATPIPE_MEMORY_LIMIT", raising=False)
    assert memory.available_bytes() > 0


def test_image_size_beyond_the_pixel_limit_is_a_config_error(cli, tmp_path):
    config = tmp_path / "svm.yaml"
    config.write_text(TINY)
    cli("run", config, "--set", "data.image_size=[100000, 100000]", "--out", tmp_path / "runs", code=2,
        says=["image_size [100000, 100000] is 10,000,000,000 pixels, over data.max_image_pixels"])


def test_resizing_a_builtin_source_beyond_memory_is_refused(cli, tmp_path, monkeypatch):
    monkeypatch.setenv("FEATPIPE_MEMORY_LIMIT", "1GiB")
    config = tmp_path / "svm.yaml"
    config.write_text(TINY)
    cli("run", config, "--set", "data.image_size=[6000, 6000]", "--out", tmp_path / "runs", "-q", code=1,
        says=["resizing 1,797 images to 6000x6000 needs about", "set data.image_size smaller"])


def test_decoding_a_folder_beyond_memory_is_refused_before_decoding(cli, tmp_path, image_folder, monkeypatch):
    from featpipe.data import images as images_module

    def refuse(*args, **kwargs):
        raise AssertionError("decoded although the images cannot fit")

    monkeypatch.setattr(images_module, "decode_image", refuse)
    monkeypatch.setenv("FEATPIPE_MEMORY_LIMIT", "10KB")
    cli("data", "info", image_folder, "-q", code=1, says=["decoding 18 images of 12x12 pixels needs about 15.2 KiB"])
    cli("data", "info", f"folder:{image_folder}", "-q", code=1, says=["data.image_size"])
