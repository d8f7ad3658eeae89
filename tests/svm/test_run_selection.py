"""A whole run with the Newton SVM: the selection record in metrics.json and the summary line."""

from featpipe.config import parse_config
from featpipe.runner import run_experiment
from featpipe.summary import format_run


def test_run_records_the_widened_grid(tmp_path):
    # 40 validation images: the accuracies of small C values tie, and a tie goes to the smaller C,
    # which then sits on the lower edge of the grid
    config = parse_config("name: widen\ndata:\n  n_train: 400\nfeatures:\n  hog:\n    pixels_per_cell: 2\n"
                          "svm:\n  C: [0.01, 0.03]\n  widen: 2\noutput:\n  plots: false\n")
    result = run_experiment(config, tmp_path / "run", progress=False)
    selection = result.metrics["selection"]
    assert selection["grid"] == [0.01, 0.03]
    assert len(selection["widened"]) == 2
    assert all(c < 0.01 or c > 0.03 for c in selection["widened"])
    assert sorted(t["C"] for t in selection["trials"]) == sorted([0.01, 0.03, *selection["widened"]])
    assert [t["solver"] for t in selection["trials"]] == ["newton"] * 4
    summary = format_run(result.metrics)
    assert "grid widened to " + ", ".join(f"{c:g}" for c in selection["widened"]) in summary
    assert ("still on the edge" in summary) == selection["on_edge"]
