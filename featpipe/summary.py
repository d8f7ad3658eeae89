"""Short text summaries of finished runs, for the terminal (numbers formatted as every results table)."""

from __future__ import annotations

from pathlib import Path

from .runs.results import feature_time, percent, rate, seconds


def format_run(metrics: dict, run_dir: Path | str | None = None) -> str:
    """A few lines: what ran, how accurate on each split, how long each stage took."""
    features = "+".join(metrics.get("features", [])) or "?"
    lines = [f"{metrics.get('name', '?')}: {features} -> {metrics.get('classifier', '?')}"
             f" ({metrics.get('feature_dim', '?')} features)"]
    accuracy = metrics.get("accuracy", {})
    lines.append("  accuracy: " + ", ".join(f"{split} {percent(value)}" for split, value in accuracy.items()))
    selection = metrics.get("selection")
    if selection:
        lines.append(f"  {selection.get('parameter', 'value')} chosen on validation: {selection.get('chosen')}"
                     f"{_widening(selection)}")
    for name, member in (metrics.get("members") or {}).items():
        lines.append(_member_line(name, member))
    timings = metrics.get("timings", {})
    stages = ", ".join(f"{k} {seconds(v)}s" for k, v in timings.items() if isinstance(v, (int, float)))
    lines.append(f"  time: {stages}; predicts {rate(metrics.get('predict_images_per_s', 0))} images/s")
    cost_line = _feature_cost(metrics)
    if cost_line:
        lines.append(cost_line)
    if run_dir is not None:
        lines.append(f"  written to {run_dir}")
    return "\n".join(lines)


def _feature_cost(metrics: dict) -> str | None:
    """For features that came from the feature cache: what computing them takes (or that it is unknown)."""
    here, cost, cached = feature_time(metrics)
    if cached not in ("all", "some"):
        return None
    took = f"{seconds(here)}s here" if here is not None else "time here not recorded"
    what = ("computing them takes " + f"{seconds(cost)}s (cached stages as measured by the run that cached them)" if cost is not None
            else "what computing them takes is unknown (cached by an older featpipe, which kept no cost)")
    return f"  features from the feature cache ({cached} stages): {took}; {what}"


def _member_line(name: str, member: dict) -> str:
    """One fusion member: its features, its own accuracy, its chosen C and weight."""
    features = "+".join(member.get("features") or []) or "?"
    accuracy = ", ".join(f"{split} {percent(value)}" for split, value in (member.get("accuracy") or {}).items())
    selection = member.get("selection") or {}
    chosen = f"; {selection.get('parameter', 'value')} {selection.get('chosen')}{_widening(selection)}" if selection else ""
    return (f"  member {name} ({features}, {member.get('feature_dim', '?')} features, weight {member.get('weight', '?')}): "
            f"alone {accuracy}{chosen}")


def _widening(selection: dict) -> str:
    """How the C search went past its grid, if it did (older runs have no such record)."""
    widened = selection.get("widened") or []
    text = f" (grid widened to {', '.join(f'{c:g}' for c in widened)})" if widened else ""
    if selection.get("on_edge"):
        text += "; still on the edge of the values tried: widen the grid further (svm.C or svm.widen)"
    return text
