"""Short text summaries of finished runs, for the terminal (numbers formatted as every results table)."""

from __future__ import annotations

from pathlib import Path

from .runs.results import percent, rate, seconds


def format_run(metrics: dict, run_dir: Path | str | None = None) -> str:
    """A few lines: what ran, how accurate on each split, how long each stage took."""
    features = "+".join(metrics.get("features", [])) or "?"
    lines = [f"{metrics.get('name', '?')}: {features} -> {metrics.get('classifier', '?')}"
             f" ({metrics.get('feature_dim', '?')} features)"]
    accuracy = metrics.get("accuracy", {})
    lines.append("  accuracy: " + ", ".join(f"{split} {percent(value)}" for split, value in accuracy.items()))
    selection = metrics.get("selection")
    if selection:
        lines.append(f"  {selection.get('parameter', 'value')} chosen on validation: {selection['chosen']}")
    timings = metrics.get("timings", {})
    stages = ", ".join(f"{k} {seconds(v)}s" for k, v in timings.items() if isinstance(v, (int, float)))
    lines.append(f"  time: {stages}; predicts {rate(metrics.get('predict_images_per_s', 0))} images/s")
    if run_dir is not None:
        lines.append(f"  written to {run_dir}")
    return "\n".join(lines)
