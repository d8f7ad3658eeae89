"""Plot helpers for readable figures: a log time axis labelled in seconds, minutes and hours, and
labels placed beside their points without covering each other, a point, or the axes' edge."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

from matplotlib.ticker import FixedLocator, FuncFormatter, NullLocator

#: Tick values (seconds) a reader takes in at a glance: 1-2-5 steps, then minutes and hours.
FINE_TICKS = (0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300, 600,
              1200, 1800, 3600, 7200, 18000, 36000, 86400)
#: The same, one per order of magnitude (1 s, 10 s, 1 min, 10 min, 1 h ...), for wide ranges.
COARSE_TICKS = (0.001, 0.01, 0.1, 1, 10, 60, 600, 3600, 36000, 360000)
MAX_TICKS = 7


def duration_text(seconds: float) -> str:
    """A tick's duration as people write it: ``50 ms``, ``2 s``, ``10 min``, ``1 h``."""
    for unit, scale in (("h", 3600), ("min", 60), ("s", 1)):
        if seconds >= scale:
            return f"{seconds / scale:.3g} {unit}"
    return f"{seconds * 1000:.3g} ms"


def time_axis(ax, low: float, high: float) -> list[float]:
    """Make `ax`'s x axis a log time axis spanning `low`..`high` seconds (with a margin); returns its ticks.

    Ticks come from FINE_TICKS, or COARSE_TICKS when the fine ones would be more than MAX_TICKS;
    the limits widen to the neighbouring ticks so that at least two show.
    """
    low, high = max(low, 1e-3) / 1.6, max(high, low, 1e-3) * 1.6
    ladder = FINE_TICKS if sum(low <= t <= high for t in FINE_TICKS) <= MAX_TICKS else COARSE_TICKS
    ticks = [t for t in ladder if low <= t <= high]
    if len(ticks) < 2:
        low = max([t for t in ladder if t <= low], default=low)
        high = min([t for t in ladder if t >= high], default=high)
        ticks = [t for t in ladder if low <= t <= high]
    ax.set_xscale("log")
    ax.set_xlim(low, high)
    ax.xaxis.set_major_locator(FixedLocator(ticks))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda value, _: duration_text(value)))
    ax.xaxis.set_minor_locator(NullLocator())
    return ticks


@dataclass(frozen=True)
class Box:
    """An axis-aligned rectangle in display pixels."""

    x0: float
    y0: float
    x1: float
    y1: float

    def overlap(self, other: "Box") -> float:
        """Area shared with `other` (0 when they only touch or are apart)."""
        width = min(self.x1, other.x1) - max(self.x0, other.x0)
        height = min(self.y1, other.y1) - max(self.y0, other.y0)
        return width * height if width > 0 and height > 0 else 0.0

    def inside(self, other: "Box") -> bool:
        return self.x0 >= other.x0 and self.y0 >= other.y0 and self.x1 <= other.x1 and self.y1 <= other.y1


def _directions() -> list[tuple[float, float]]:
    angles = (0, 45, 90, 135, 180, 225, 270, 315, 22.5, 67.5, 112.5, 157.5, 202.5, 247.5, 292.5, 337.5)
    return [(math.cos(math.radians(a)), math.sin(math.radians(a))) for a in angles]


def place_labels(ax, xs: Sequence[float], ys: Sequence[float], texts: Sequence[str], *, marker_px: float,
                 fontsize: float = 7.5) -> list:
    """Write `texts[i]` beside the point (xs[i], ys[i]) (data coordinates), each where it covers no
    other label, no point and stays inside the axes; a thin line joins a label set further off to
    its point. Labels are placed in the given order (put the important ones first).

    Returns the text artists. Call after the axes' limits and scales are final.
    """
    fig = ax.figure
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    frame = ax.get_window_extent(renderer)
    frame = Box(frame.x0 + 2, frame.y0 + 2, frame.x1 - 2, frame.y1 - 2)
    centres = ax.transData.transform(list(zip(xs, ys)))
    half = marker_px / 2
    points = [Box(x - half, y - half, x + half, y + half) for x, y in centres]
    placed: list[Box] = []
    artists = []
    px_to_pt = 72.0 / fig.dpi
    for (x, y), xd, yd, text in zip(centres, xs, ys, texts):
        probe = ax.text(0, 0, text, fontsize=fontsize, transform=None)
        extent = probe.get_window_extent(renderer)
        probe.remove()
        w, h = extent.width + 2, extent.height + 2
        best = None
        for step in (1.0, 1.7, 2.6, 3.8, 5.5, 8.0):
            for dx, dy in _directions():
                # distance from the point's centre to the label's centre, clear of the marker
                cx = x + dx * (half + w / 2 * abs(dx) + 1) * step
                cy = y + dy * (half + h / 2 * abs(dy) + 1) * step
                box = Box(cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2)
                clash = sum(box.overlap(b) for b in placed) + sum(box.overlap(b) for b in points)
                clash += 0.0 if box.inside(frame) else w * h * 10
                if best is None or clash < best[0]:
                    best = (clash, box, cx, cy, step)
                if clash == 0:
                    break
            if best[0] == 0:
                break
        _, box, cx, cy, step = best
        placed.append(box)
        line = {"arrowstyle": "-", "color": "0.45", "lw": 0.6, "shrinkA": 0, "shrinkB": half * px_to_pt}
        artists.append(ax.annotate(
            text, (xd, yd), xytext=((cx - x) * px_to_pt, (cy - y) * px_to_pt),
            textcoords="offset points", ha="center", va="center", fontsize=fontsize, zorder=5,
            arrowprops=line if step > 1.0 else None))
    return artists


def label_boxes(artists, renderer) -> list[Box]:
    """The drawn extents of text artists, for checking that labels do not overlap."""
    boxes = []
    for artist in artists:
        e = artist.get_window_extent(renderer)
        boxes.append(Box(e.x0, e.y0, e.x1, e.y1))
    return boxes
