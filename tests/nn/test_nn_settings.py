"""The MLP's settings schema: choices from the registries, cross-field rules at config time."""

import inspect
import typing

import pytest
from typer.testing import CliRunner

from featpipe.cli import app
from featpipe.config import parse_config
from featpipe.errors import ConfigError
from featpipe.nn import MLPClassifier
from featpipe.nn.layers import ACTIVATIONS
from featpipe.nn.losses import LOSSES
from featpipe.nn.network import INITS
from featpipe.nn.optim import OPTIMIZERS, SCHEDULES, make_optimizer
from featpipe.nn.settings import MLPClassifierSettings, MlpSettings


@pytest.mark.parametrize("field, registry", [
    ("activation", ACTIVATIONS), ("loss", LOSSES), ("optimizer", OPTIMIZERS),
    ("schedule", SCHEDULES), ("init", INITS),
])
def test_choices_are_the_registries(field, registry):
    assert typing.get_args(MlpSettings.model_fields[field].annotation) == tuple(registry)


def test_estimator_defaults_are_the_schema_defaults():
    signature = inspect.signature(MLPClassifier.__init__).parameters
    schema = MLPClassifierSettings.model_fields
    assert set(signature) - {"self"} == set(schema)
    for name, field in schema.items():
        assert signature[name].default == field.default, name


@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_make_optimizer_reads_the_settings_each_optimizer_declares(name):
    settings = MlpSettings(optimizer=name, learning_rate=0.3, weight_decay=0.02, momentum=0.5,
                           rmsprop_decay=0.8, beta1=0.7, beta2=0.9, eps=1e-5)
    optimizer = make_optimizer(name, settings)
    assert type(optimizer) is OPTIMIZERS[name]
    assert optimizer.learning_rate == 0.3 and optimizer.weight_decay == 0.02
    for arg, setting in type(optimizer).hyperparameters.items():
        assert setting in MlpSettings.model_fields
        assert getattr(optimizer, arg) == getattr(settings, setting)


@pytest.mark.parametrize("text, message", [
    ("mlp: {loss: hinge, label_smoothing: 0.1}", r"mlp: label_smoothing=0.1 applies only to loss='softmax', not 'hinge'"),
    ("classifier: mlp\nfeatures: {hog: {}}\nmlp: {augment: {flip: true}}",
     r"mlp.augment.flip=True work on images: use them with one of features \['raw', 'zca'\] alone, e.g. "
     r"features: \{raw: \{\}\} \(this config has features \['hog'\]"),
    ("classifier: mlp\nfeatures: {zca: {}, color: {}}\nmlp: {augment: {flip: true}}", r"mlp.augment.flip=True work on images"),
    ("classifier: mlp\nfeatures: {raw: {}, color: {}}\nmlp: {augment: {crop: 2}}", r"mlp.augment.crop=2 work on images"),
    ("classifier: mlp\nfeatures: {hog: {}}\nmlp: {augment: {affine: {rotation: 5}}}",
     r"mlp.augment.affine=\{'rotation': 5.0, 'scale': \[1.0, 1.0\], 'translate': 0.0\} work on images"),
    ("classifier: mlp\nfeatures: {hog: {}}\nmlp: {augment_crop: 2}", r"mlp.augment.crop=2 work on images"),
    ("mlp: {augment: {affine: {scale: [0, 1.1]}}}", r"mlp.augment.affine.scale: must be \[low, high\] zoom factors with 0 < low <= high"),
    ("mlp: {augment: {affine: {scale: [1.2, 0.9]}}}", r"0 < low <= high, e.g. \[0.9, 1.1\] \(got \[1.2, 0.9\]\)"),
    ("mlp: {augment: {affine: {rotation: 200}}}", r"mlp.augment.affine.rotation: Input should be less than or equal to 180"),
    ("mlp: {augment: {crop_mode: wrap}}", r"mlp.augment.crop_mode: Input should be 'zero' or 'reflect'"),
    ("mlp: {augment: {cutout: -1}}", r"mlp.augment.cutout: Input should be greater than or equal to 0"),
    ("data: {image_size: 16}\nclassifier: mlp\nmlp: {augment: {cutout: 20}}",
     r"mlp.augment.cutout=20 is larger than the 16 x 16 images; use at most 16 .*\(data.image_size=\[16, 16\]\)"),
    ("data: {image_size: [16, 12]}\nclassifier: mlp\nmlp: {augment: {crop: 12}}",
     r"mlp.augment.crop=12 shifts the 16 x 12 images by their side or more.*use less than 12"),
    ("mlp: {epochs: 10, min_epochs: 12}", r"mlp: min_epochs=12 is more than epochs=10"),
    ("mlp: {augment_flip: true, augment: {flip: false}}", r"augment_flip=True and augment.flip=False disagree"),
    ("classifier: mlp\nfeatures: {hog: {}}\nmlp: {normalize: channel}", r"mlp.normalize='channel' work on images"),
    ("mlp: {hidden_sizes: [10, 0]}", r"mlp.hidden_sizes: must be positive integers"),
    ("mlp: {optimizer: lion}", r"mlp.optimizer: Input should be 'sgd', 'momentum'"),
    ("mlp: {norm: batch, batch_size: 1}",
     r"mlp: norm='batch' needs batch_size >= 2 .*got batch_size=1; raise it or use norm='layer'"),
    ("mlp: {norm: layer, hidden_sizes: []}",
     r"mlp: norm='layer' normalizes hidden layers, but hidden_sizes=\[\] has none; use norm='none'"),
    ("mlp: {norm: group}", r"mlp.norm: Input should be 'none', 'batch' or 'layer'"),
    ("mlp: {norm_momentum: 0}", r"mlp.norm_momentum: Input should be greater than 0"),
    ("mlp: {hidden_sizes: [64, 32], dropout: [0.5]}",
     r"mlp: dropout=\[0.5\] has 1 rates but hidden_sizes=\[64, 32\] has 2 hidden layers; give one rate per"),
    ("mlp: {ema: 1.0}", r"mlp.ema: Input should be less than 1"),
    ("mlp: {ema: -0.5}", r"mlp.ema: Input should be greater than or equal to 0"),
    ("mlp: {hidden_sizes: [64, 32], dropout: [0.5, 1.2]}", r"mlp.dropout: must be a rate in \[0, 1\) or a list of them \(1.2 is not\) \(got \[0.5, 1.2\]\)"),
])
def test_cross_field_rules_fire_when_the_config_is_read(text, message):
    with pytest.raises(ConfigError, match=message):
        parse_config(text, "run.yaml")


def test_image_settings_are_fine_on_raw_pixels_and_ignored_by_the_svm():
    config = parse_config("classifier: mlp\nfeatures: {raw: {}}\nmlp: {augment: {flip: true}, normalize: channel}")
    assert config.mlp.augment.flip and config.mlp.hidden_sizes == (100,)
    whitened = parse_config("classifier: mlp\nfeatures: {zca: {eps: 0.1}}\nmlp: {augment: {crop: 4}}")
    assert whitened.mlp.augment.crop == 4 and list(whitened.features.extractors()) == ["zca"]
    assert parse_config("classifier: svm\nfeatures: {hog: {}}\nmlp: {augment: {crop: 2}}").mlp.augment.crop == 2
    assert parse_config("classifier: mlp\nfeatures: {hog: {}}\nmlp: {augment: {mixup: 0.2}}").mlp.augment.mixup == 0.2


def test_old_augment_keys_read_as_the_augment_section_with_the_same_digest():
    old = parse_config("classifier: mlp\nmlp: {augment_flip: true, augment_crop: 2}")
    new = parse_config("classifier: mlp\nmlp: {augment: {flip: true, crop: 2}}")
    assert old.mlp.augment.flip and old.mlp.augment.crop == 2
    assert old.digest() == new.digest()


def test_dropout_per_layer_and_norm_are_read_from_a_config():
    config = parse_config("mlp: {hidden_sizes: [64, 32], dropout: [0.5, 0.25], norm: batch}")
    assert config.mlp.dropout == (0.5, 0.25) and config.mlp.norm == "batch"
    assert parse_config("mlp: {dropout: 0.3}").mlp.dropout == 0.3


@pytest.mark.parametrize("mlp, message", [
    ("{norm: batch, batch_size: 1}", "norm='batch' needs batch_size >= 2"),
    ("{norm: batch, hidden_sizes: []}", "norm='batch' normalizes hidden layers, but hidden_sizes=[] has none"),
    ("{hidden_sizes: [8], dropout: [0.1, 0.2]}", "dropout=[0.1, 0.2] has 2 rates but hidden_sizes=[8] has 1"),
    ("{ema: 1}", "mlp.ema: Input should be less than 1"),
])
def test_bench_dry_run_rejects_bad_norm_and_dropout(tmp_path, mlp, message):
    (tmp_path / "net.yaml").write_text(f"name: net\ndata: {{source: digits}}\nclassifier: mlp\nmlp: {mlp}\n")
    (tmp_path / "batch.yaml").write_text("name: b\nruns:\n  - config: net.yaml\n")
    result = CliRunner().invoke(app, ["bench", str(tmp_path / "batch.yaml"), "--out", str(tmp_path / "o"), "--dry-run"])
    assert result.exit_code == 2, result.output
    assert "net.yaml" in result.output and message in result.output


def test_bench_dry_run_rejects_a_cross_field_error(tmp_path):
    (tmp_path / "aug.yaml").write_text(
        "name: aug\ndata: {source: digits}\nfeatures: {hog: {pixels_per_cell: 2}}\nclassifier: mlp\n"
        "mlp: {augment: {flip: true}}\n"
    )
    (tmp_path / "batch.yaml").write_text("name: b\nruns:\n  - config: aug.yaml\n")
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["bench", str(tmp_path / "batch.yaml"), "--out", str(out), "--dry-run"])
    assert result.exit_code == 2, result.output
    assert "aug.yaml" in result.output and "mlp.augment.flip=True work on images" in result.output
    assert not out.exists()
