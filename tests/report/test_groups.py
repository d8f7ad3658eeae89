"""Repeats: runs whose configs differ only in the seed (or named repeat keys) form one group."""

from __future__ import annotations

from featpipe.runs.groups import annotate_groups, flatten, group_configs, group_key


def _config(seed=0, C=1.0, val_fraction=0.2, name="a", cache_dir=None):
    return {"name": name, "seed": seed, "data": {"source": "digits", "val_fraction": val_fraction,
                                                 "cache_dir": cache_dir},
            "features": {"hog": {"orientations": 9}}, "classifier": "svm", "svm": {"C": C},
            "output": {"plots": True}}


def test_flatten_makes_dotted_keys():
    assert flatten({"svm": {"C": 1.0}, "features": {"raw": {}}, "seed": 3}) == \
        {"svm.C": 1.0, "features.raw": {}, "seed": 3}


def test_seed_name_and_output_do_not_separate_runs_but_settings_do():
    assert group_key(_config(seed=0)) == group_key(_config(seed=7, name="b", cache_dir="/x"))
    assert group_key(_config(C=1.0)) != group_key(_config(C=0.1))
    assert group_key(_config(val_fraction=0.1)) != group_key(_config(val_fraction=0.2))
    assert group_key(_config(val_fraction=0.1), ("seed", "data.val_fraction")) == \
        group_key(_config(val_fraction=0.2), ("seed", "data.val_fraction"))


def test_groups_name_only_what_was_varied():
    configs = [_config(seed=s, C=c) for c in (0.1, 1.0) for s in range(3)]
    groups = group_configs(configs)
    assert [g.members for g in groups] == [[0, 1, 2], [3, 4, 5]]
    assert [g.settings for g in groups] == [{"svm.C": 0.1}, {"svm.C": 1.0}]
    assert groups[0].describe() == "svm.C=0.1"
    assert [r["seed"] for r in groups[1].repeats] == [0, 1, 2]


def test_annotate_groups_adds_mean_std_range_count_and_no_spread_for_one_run():
    configs = [_config(seed=0), _config(seed=1), _config(seed=2), _config(C=0.1)]
    rows = [{"status": "done", "val_accuracy": v} for v in (0.90, 0.94, 0.92, 0.80)]
    rows.append({"status": "failed", "val_accuracy": None})
    configs.append(_config(seed=3))
    annotate_groups(rows, configs)
    first = rows[0]
    assert first["group"] == "g1" and first["group_runs"] == 4  # the failed repeat counts as a run ...
    assert abs(first["group_val_mean"] - 0.92) < 1e-12 and abs(first["group_val_std"] - 0.02) < 1e-12  # ... not in the mean
    assert (first["group_val_min"], first["group_val_max"]) == (0.90, 0.94)
    assert rows[3]["group"] == "g2" and rows[3]["group_runs"] == 1 and rows[3]["group_val_std"] is None
    assert rows[4]["group"] == "g1"
