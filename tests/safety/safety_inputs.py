"""Inputs the safety tests build: a tiny config, a billion-laughs YAML value."""

from __future__ import annotations

# The smallest config that trains in well under a second on the built-in digits.
TINY = """
name: tiny
data: {source: digits, n_train: 200, val_fraction: 0.25}
features: {hog: {pixels_per_cell: 2, cells_per_block: 2}}
svm: {C: 0.1}
output: {plots: false, feature_cache: false}
"""


def billion_laughs(levels: int = 9, width: int = 10) -> str:
    """A YAML value of a few hundred bytes that expands to width**levels scalars."""
    lines = ["l0: &l0 [" + ", ".join(["lol"] * width) + "]"]
    for k in range(1, levels + 1):
        lines.append(f"l{k}: &l{k} [" + ", ".join([f"*l{k - 1}"] * width) + "]")
    return "\n".join(lines) + "\n"
