"""Every demo, run small: its numbers bear out the lecture's claim and its figures are real PNGs.

The thresholds are the claims themselves (a line fails on rings, the bump error falls, a deep
linear network is one matrix, ...), not numbers copied from a run.
"""

import numpy as np
import pytest

from featpipe.demos import DEMOS, run_demo


@pytest.fixture(scope="module")
def run_small(demo_dir):
    cache = {}

    def run(name, **options):
        if name not in cache:
            cache[name] = run_demo(name, demo_dir / name, seed=0, **options)
        return cache[name]

    return run


def test_feature_transform(run_small, png_check):
    result = run_small("feature-transform", n_samples=300)
    acc = result.numbers["accuracy"]
    assert acc["linear_on_xy"]["test"] < 0.7
    assert acc["linear_on_r_theta"]["test"] > 0.95
    radius = result.numbers["polar_boundary_radius"]
    # The polar boundary mapped back is (nearly) a circle between the rings (radii 1 and 2).
    assert 1.0 < radius["min_over_theta"] <= radius["max_over_theta"] < 2.0
    assert result.all_claims_hold
    png_check(result.figures[0])


def test_space_warping(run_small, png_check):
    result = run_small("space-warping", n_samples=200)
    separable = result.numbers["linearly_separable"]
    assert not separable["input"]
    assert not separable["hidden_linear"]
    assert separable["hidden_relu"]
    assert result.numbers["logistic_regression_accuracy"]["hidden_relu"] == 1.0
    counts = result.numbers["grid_points_per_input_region"]
    assert result.numbers["grid_points_relu_maps_to_origin"] == counts["C"]
    assert result.numbers["grid_points_relu_maps_onto_one_axis"] == counts["B"] + counts["D"]
    assert result.all_claims_hold
    png_check(result.figures[0])


def test_capacity_vs_regularization(run_small, png_check):
    result = run_small("capacity-vs-regularization", n_train=80, hidden_sizes=(2, 64),
                       weight_decays=(1e-2, 1e-1), epochs=300)
    units = result.numbers["by_hidden_units"]
    l2 = result.numbers["by_l2_with_64_units"]
    assert units["64_units"]["boundary_length"] > units["2_units"]["boundary_length"]
    assert units["64_units"]["train_accuracy"] >= units["2_units"]["train_accuracy"]
    norms = [units["64_units"]["sum_squared_weights"]] + [v["sum_squared_weights"] for v in l2.values()]
    assert all(a > b for a, b in zip(norms, norms[1:]))
    assert l2["l2=0.1"]["boundary_length"] < units["64_units"]["boundary_length"]
    assert result.all_claims_hold
    png_check(result.figures[0])


def test_universal_approximation(run_small, png_check):
    result = run_small("universal-approximation", bump_counts=(4, 8, 16, 32), train_steps=1500)
    max_error = result.numbers["max_abs_error"]
    rms_error = result.numbers["rms_error"]
    assert all(a > b for a, b in zip(max_error, max_error[1:]))
    assert all(a > b for a, b in zip(rms_error, rms_error[1:]))
    assert result.numbers["relu_units"] == [16, 32, 64, 128]
    assert result.numbers["trained_sin"]["rms_error"] < 0.1
    png_check(result.figures[0])


def test_deep_linear(run_small, png_check):
    result = run_small("deep-linear", n_samples=200, epochs=60)
    for check in result.numbers["collapse_check"].values():
        assert check["max_abs_difference"] <= 1e-5
        assert check["max_relative_difference"] <= 1e-5
        assert check["same_predictions"]
    acc = result.numbers["train_accuracy"]
    assert acc["xor"]["relu"] >= 0.95 and acc["xor"]["identity"] <= 0.75
    assert acc["rings"]["relu"] >= 0.95 and acc["rings"]["identity"] <= 0.75
    assert result.all_claims_hold
    png_check(result.figures[0])


def test_loss_slices(run_small, png_check):
    result = run_small("loss-slices", n_samples=150, epochs=30, n_points=41)
    slices = result.numbers["slices"]
    assert slices["x^2"]["convex"]
    assert not slices["cos x"]["convex"]
    network = {name: s for name, s in slices.items() if name.startswith(("layer", "random"))}
    assert len(network) == result.numbers["depth"] + 1
    assert any(not s["convex"] for s in network.values())
    last = [s for name, s in network.items() if name.startswith(f"layer {result.numbers['depth']} ")]
    assert last and last[0]["convex"]  # cross-entropy is convex in the last layer's weights
    png_check(result.figures[0])


def test_templates(run_small, png_check):
    result = run_small("templates", epochs=5, hidden_units=32, shown_units=16)
    assert result.numbers["data"] == "digits"
    assert result.numbers["image_shape"] == [8, 8, 1]
    acc = result.numbers["accuracy"]
    assert acc["linear"]["val"] > 0.8 and acc["mlp"]["val"] > 0.8  # both learned the digits
    assert result.numbers["mlp_units_shown"] == 16
    png_check(result.figures[0], min_height=150)


def test_every_demo_is_covered_here():
    tested = {"feature-transform", "space-warping", "capacity-vs-regularization", "universal-approximation",
              "deep-linear", "loss-slices", "templates"}
    assert set(DEMOS) == tested


def test_seed_repeats_exactly_and_changes_the_data(run_small, tmp_path):
    first = run_small("space-warping", n_samples=200)  # seed 0, shared with the test above
    again = run_demo("space-warping", tmp_path / "again", seed=0, n_samples=200)
    other = run_demo("space-warping", tmp_path / "other", seed=1, n_samples=200)
    assert again.numbers == first.numbers
    assert other.numbers["grid_points_per_input_region"] != first.numbers["grid_points_per_input_region"]
    assert np.isfinite(again.seconds) and again.seconds > 0


def test_templates_on_an_rgb_image_folder(image_folder, tmp_path, png_check):
    result = run_demo("templates", tmp_path, seed=0, data=str(image_folder), epochs=3, hidden_units=8,
                      shown_units=8)
    assert result.numbers["image_shape"] == [12, 12, 3]
    assert result.numbers["weight_decay"] == 0.3  # larger images get the stronger default decay
    assert result.figures == [tmp_path / "templates-colors.png"]
    assert not (tmp_path / "templates.png").exists()  # the digits figure's name stays free
    png_check(result.figures[0], min_height=150)
