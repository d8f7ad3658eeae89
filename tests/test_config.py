"""Config validation: every bad key, type and value is named; overrides are checked the same way."""

from pathlib import Path

import pytest

from featpipe.config import Config, dump_yaml, load_config, parse_config
from featpipe.errors import ConfigError

CONFIG_ROOT = Path(__file__).resolve().parent.parent / "configs"
CONFIGS = sorted(CONFIG_ROOT.glob("digits/*.yaml")) + sorted(CONFIG_ROOT.glob("cifar10/*.yaml"))


def test_configs_are_found():
    assert len(CONFIGS) >= 10


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_shipped_config_is_valid(path):
    config = load_config(path)
    assert config.features.extractors()


# Each learned head on fixed features names the linear-SVM config whose features it reuses: the
# two must agree exactly, or the head is compared with the SVM on different features (and the
# feature cache computes them twice).
HEAD_FEATURES_FROM = {
    "mlp_coates_head": "bovw_coates_svm",
    "mlp_fisher_head": "fisher_svm",
    "mlp_hog_color": "hog_color_svm",
}


@pytest.mark.parametrize("head, source", sorted(HEAD_FEATURES_FROM.items()))
def test_learned_heads_use_their_svm_configs_features(head, source):
    head_config = load_config(CONFIG_ROOT / "cifar10" / f"{head}.yaml")
    source_config = load_config(CONFIG_ROOT / "cifar10" / f"{source}.yaml")
    assert head_config.classifier == "mlp" and source_config.classifier == "svm"
    # The mirror settings may differ (a head may train on mirrored rows, or score mirrors, where
    # its SVM does not): every image's own features stay the same.
    def own_features(config):
        return {k: v for k, v in config.to_dict()["features"].items() if k not in ("train_flips", "test_flips")}

    assert own_features(head_config) == own_features(source_config)
    assert (head_config.seed, head_config.to_dict()["data"]) == (source_config.seed, source_config.to_dict()["data"])


#: fusion config -> member -> (the single-pipeline config it copies, what it changes there)
FUSION_MEMBERS_FROM = {
    "fusion_coates_fisher_svm": {
        # mirrored training rows, so twice the rows and half the best C
        "coates": ("bovw_coates_svm", {"features": {"train_flips": True}, "svm": {"C": [0.003125, 0.00625, 0.0125]}}),
        "fisher": ("fisher_svm", {}),
    },
}


@pytest.mark.parametrize("fusion, members", sorted(FUSION_MEMBERS_FROM.items()))
def test_fusion_members_are_their_single_pipeline_configs(fusion, members):
    config = load_config(CONFIG_ROOT / "cifar10" / f"{fusion}.yaml").to_dict()
    assert set(config["fusion"]["members"]) == set(members)
    for member, (source, changed) in members.items():
        single = load_config(CONFIG_ROOT / "cifar10" / f"{source}.yaml").to_dict()
        expected = {part: {**single[part], **changed.get(part, {})} for part in ("features", "svm")}
        assert config["fusion"]["members"][member] == expected
        assert (config["seed"], config["data"]) == (single["seed"], single["data"])


def test_defaults_are_raw_pixels_and_svm():
    config = parse_config("name: x")
    assert list(config.features.extractors()) == ["raw"]
    assert config.classifier == "svm"
    assert config.svm.c_values() == [1.0]


def test_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="config file not found: .*nope.yaml"):
        load_config(tmp_path / "nope.yaml")


def test_yaml_syntax_error_names_line(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("name: x\nsvm:\n  C: [0.1, 1\n")
    with pytest.raises(ConfigError, match=r"bad.yaml: YAML syntax error at line \d+"):
        load_config(path)


def test_top_level_must_be_mapping():
    with pytest.raises(ConfigError, match="expected a mapping"):
        parse_config("- a\n- b\n")


def test_unknown_key_names_path_and_closest_key():
    with pytest.raises(ConfigError, match=r"unknown key 'features.hog.pixel_per_cell' \(did you mean 'pixels_per_cell'\?\)"):
        parse_config("features:\n  hog:\n    pixel_per_cell: 4\n", source="c.yaml")


def test_unknown_top_level_key():
    with pytest.raises(ConfigError, match=r"(?s)c.yaml: .*unknown key 'featurs' \(did you mean 'features'\?\)"):
        parse_config("featurs: {}\n", source="c.yaml")


def test_wrong_type_names_key_value_and_rule():
    with pytest.raises(ConfigError, match=r"seed: .*integer.*\(got 'abc'\)"):
        parse_config("seed: abc\n")


def test_out_of_range_value():
    with pytest.raises(ConfigError, match=r"data.val_fraction: Input should be less than 1 \(got 1.5\)"):
        parse_config("data: {val_fraction: 1.5}\n")


def test_choice_lists_the_choices():
    with pytest.raises(ConfigError, match=r"classifier: Input should be 'svm', 'mlp' or 'fusion' \(got 'svn'\)"):
        parse_config("classifier: svn\n")


def test_pair_settings_accept_int_or_pair_only():
    config = parse_config("features: {hog: {pixels_per_cell: [4, 6], cells_per_block: 3}}")
    assert config.features.hog.pixels_per_cell == (4, 6)
    with pytest.raises(ConfigError, match="features.hog.pixels_per_cell: expected a positive integer or a pair"):
        parse_config("features: {hog: {pixels_per_cell: [4, 0]}}")


def test_extractor_switches():
    config = parse_config("features:\n  hog:\n  color: true\n  raw: false\n")
    assert list(config.features.extractors()) == ["color", "hog"]
    with pytest.raises(ConfigError, match="no extractor chosen"):
        parse_config("features: {raw: false}")


def test_overrides_apply_and_parse_yaml_values():
    config = parse_config("name: x", overrides=["svm.C=[0.1, 1]", "features.hog.orientations=12", "seed=7"])
    assert config.svm.c_values() == [0.1, 1.0]
    assert config.features.hog.orientations == 12
    assert config.seed == 7


def test_override_unknown_key():
    with pytest.raises(ConfigError, match=r"--set svm.c: unknown key 'svm.c' \(did you mean 'C'\?\)"):
        parse_config("name: x", overrides=["svm.c=1"])


def test_override_into_a_value():
    with pytest.raises(ConfigError, match="--set seed.x: seed is a value, not a section"):
        parse_config("name: x", overrides=["seed.x=1"])


def test_override_without_equals():
    with pytest.raises(ConfigError, match="expected KEY.PATH=VALUE"):
        parse_config("name: x", overrides=["svm.C"])


def test_override_value_validated():
    with pytest.raises(ConfigError, match=r"svm.C: C must be a positive number"):
        parse_config("name: x", overrides=["svm.C=-1"])


def test_config_is_frozen_and_digest_stable():
    a = parse_config("name: x\nseed: 3")
    b = parse_config("seed: 3\nname: x")
    assert a.digest() == b.digest()
    assert a.digest() != parse_config("name: x\nseed: 4").digest()
    with pytest.raises(Exception):
        a.seed = 5


def test_resolved_yaml_round_trips():
    config = parse_config("features: {hog: {pixels_per_cell: 4}, color: {}}\nsvm: {C: [0.1, 1]}")
    again = parse_config(dump_yaml(config))
    assert again == config
    assert isinstance(again, Config)
