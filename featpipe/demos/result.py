"""What a demo hands back: the numbers behind its figures, the claims they test, the figure paths."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class DemoResult:
    """The outcome of one demo run.

    Attributes
    ----------
    name : str
        The demo's registry name, e.g. ``"feature-transform"``.
    numbers : dict
        Named measurements behind the figures (floats, ints, lists, nested dicts).
    claims : dict of str -> bool
        Each lecture claim the demo checks, in words, and whether this run's numbers bear it out.
        Computed from `numbers`, so a run that contradicts the lecture says so.
    figures : list of Path
        PNG files written.
    seconds : float
        Wall time of the run (filled in by `featpipe.demos.run_demo`).
    """

    name: str
    numbers: dict[str, Any]
    claims: dict[str, bool]
    figures: list[Path]
    seconds: float = field(default=float("nan"))

    @property
    def all_claims_hold(self) -> bool:
        """True when every claim checked by the demo held in this run."""
        return all(self.claims.values())

    def format(self) -> str:
        """Human-readable report: figures, numbers (flattened, dotted keys), claims, time."""
        lines = [f"demo {self.name}"]
        lines += [f"  figure: {path}" for path in self.figures]
        lines += [f"  {key}: {_format_value(value)}" for key, value in _flatten(self.numbers)]
        for claim, holds in self.claims.items():
            lines.append(f"  [{'holds' if holds else 'FAILS'}] {claim}")
        if self.seconds == self.seconds:  # not NaN
            lines.append(f"  wall time: {self.seconds:.1f} s")
        return "\n".join(lines)


def _flatten(numbers: dict[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    items = []
    for key, value in numbers.items():
        if isinstance(value, dict):
            items += _flatten(value, f"{prefix}{key}.")
        else:
            items.append((f"{prefix}{key}", value))
    return items


def _format_value(value: Any) -> str:
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_format_value(v) for v in value) + "]"
    return str(value)
