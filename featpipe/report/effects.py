"""The effects plot: validation accuracy (mean and spread over repeats) against one swept setting."""

from __future__ import annotations

from matplotlib.ticker import PercentFormatter

from ..analysis.effects import CATEGORICAL, LOG, Effect
from ..plots import plt
from .figures import FAMILY_COLORS, Figure, figure_png


def effect_figure(effect: Effect) -> Figure | None:
    """One line per family, error bars of one standard deviation, a star on each family's best value."""
    if not effect.lines:
        return None
    from ..bench.plan import format_value

    fig, ax = plt.subplots(figsize=(6.4, 4.0))
    categorical = effect.scale == CATEGORICAL
    position = {format_value(v): i for i, v in enumerate(effect.values)}
    for family, line in effect.lines.items():
        x = [position[format_value(p.value)] if categorical else p.value for p in line]
        y = [p.mean for p in line]
        err = [p.std or 0.0 for p in line]
        color = FAMILY_COLORS.get(family, "#7f7f7f")
        ax.errorbar(x, y, yerr=err, color=color, marker="o", markersize=4, capsize=3, label=family,
                    linestyle="none" if categorical else "-")
        best = effect.best[family]
        bx = position[format_value(best.value)] if categorical else best.value
        ax.plot([bx], [best.mean], marker="*", markersize=14, color=color, markeredgecolor="black", zorder=4)
    if categorical:
        ax.set_xticks(range(len(effect.values)), [format_value(v) for v in effect.values],
                      rotation=30 if len(effect.values) > 4 else 0)
        ax.set_xlim(-0.5, len(effect.values) - 0.5)
    elif effect.scale == LOG:
        ax.set_xscale("log")
        ax.set_xticks(effect.values, [format_value(v) for v in effect.values])
        ax.minorticks_off()
    else:
        ax.set_xticks(effect.values, [format_value(v) for v in effect.values])
    ax.set_xlabel(effect.key + (" (log scale)" if effect.scale == LOG else ""))
    ax.set_ylabel("validation accuracy")
    ax.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=1))
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="best")
    counts = sorted({p.count for line in effect.lines.values() for p in line})
    repeats = f"{counts[0]}" if len(counts) == 1 else f"{counts[0]}-{counts[-1]}"
    ax.set_title(f"validation accuracy against {effect.key}")
    fig.tight_layout()
    return Figure(
        f"effect-{effect.key}", f"Effect of {effect.key}",
        f"Each point is the best group with that value (other swept settings at their best): mean over "
        f"{repeats} repeat(s), bars one standard deviation (none for a single run); the star marks each "
        "family's best value. A best value on the edge of the sweep means the sweep should go further.",
        figure_png(fig),
    )

