"""The rules every study figure keeps, in one place (issue 27, "figures that read").

1. **Legends outside the axes**: ``legend_outside`` puts a panel's legend to its right, and ``make_room``
   widens the figure by the widest legend per column before the layout, so no legend covers data and no
   panel is squeezed. Figures with many series split them into panels (their callers).
2. **Axis ranges from quantiles**: ``robust_limits`` takes the quartiles and extends them by ``FENCE``
   times the interquartile range (Tukey's far-out fences), then shrinks to the data inside them, padded.
   ``clip_to`` pulls the points beyond onto the edge, where the caller marks them (``OUTLIER_MARKER``) and
   ``outlier_note`` says how many there are. One run at lambda_1 = -600 no longer flattens the rest.
3. **Log y for losses** and for any positive quantity spanning more than ``DECADES`` decades:
   ``log_y`` sets the scale and tick labels that exist at any range: 1-2-5 ticks over a decade and more,
   plain ticks (0.2, 0.25, 0.3) when the range is under one decade, where a log axis has no labelled tick.
4. **Baselines** on a figure are horizontal lines with their names (``rnn_scratch.study.plots``).
5. **A single x value is never spread over a numeric axis**: ``frame_single_x`` centres it in a range
   that shows it is one value (a factor of 2 either side on a log axis, half its value else) with one tick.
6. **Log-axis labels that do not print over each other**: ``readable`` keeps the labelled lengths at least
   ``MIN_RATIO`` (a fifth of a decade) apart, so a grid refined near a horizon (200, 271, 368, 500) keeps
   its ticks and labels every other one.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import FixedLocator, FuncFormatter, LogLocator, MaxNLocator, NullFormatter

FENCE = 3.0  # Tukey's "far out": beyond the quartiles by 3 interquartile ranges
PAD = 0.06  # fraction of the range added at each end
DECADES = 2.0  # a positive quantity spanning more than this many decades gets a log axis
MIN_RATIO = 10**0.2  # neighbouring labelled values on a log axis differ by at least this factor
OUTLIER_MARKER = "D"  # a point beyond the axis, drawn on its edge
LEGEND_FONT = 7


def legend_outside(ax: Axes, fontsize: float = LEGEND_FONT, **kwargs: object) -> None:
    """The axes' legend to the right of it, top-aligned, no frame (``make_room`` widens the figure)."""
    ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), fontsize=fontsize, frameon=False, **kwargs)


def make_room(fig: Figure) -> None:
    """Widen ``fig`` by the widest outside legend of each column of panels, so the layout keeps the panels'
    width instead of squeezing them to fit the legends."""
    legends = [ax.get_legend() for ax in fig.axes if ax.get_visible() and ax.get_legend() is not None]
    if not legends:
        return
    renderer = fig.canvas.get_renderer()  # type: ignore[attr-defined]  # Agg's canvas has one
    widest: dict[float, float] = {}
    for ax in fig.axes:
        legend = ax.get_legend()
        if legend is None or not ax.get_visible():
            continue
        column = round(ax.get_position().x0, 3)
        widest[column] = max(widest.get(column, 0.0), legend.get_window_extent(renderer).width / fig.dpi)
    fig.set_figwidth(fig.get_figwidth() + sum(w + 0.15 for w in widest.values()))


def robust_limits(values: Iterable[float], pad: float = PAD) -> tuple[float, float] | None:
    """(low, high) holding every finite value within the far-out fences of the quartiles, padded; None if
    there is no finite value."""
    v = np.asarray([x for x in values if x is not None and math.isfinite(x)], dtype=float)
    if not v.size:
        return None
    q1, q3 = np.percentile(v, [25, 75])
    spread = q3 - q1
    if spread <= 0:  # most values equal: fall back on the 2nd..98th percentile, then on the data's range
        q02, q98 = np.percentile(v, [2, 98])
        spread = (q98 - q02) / 2 or (v.max() - v.min()) or abs(q1) or 1.0
    inside = v[(v >= q1 - FENCE * spread) & (v <= q3 + FENCE * spread)]
    lo, hi = float(inside.min()), float(inside.max())
    margin = pad * ((hi - lo) or abs(hi) or 1.0)
    return lo - margin, hi + margin


def clip_to(values: Sequence[float], limits: tuple[float, float]) -> tuple[np.ndarray, np.ndarray]:
    """(values clipped onto ``limits``, a mask of those that were beyond them)."""
    v = np.asarray(values, dtype=float)
    return np.clip(v, *limits), (v < limits[0]) | (v > limits[1])


def outlier_note(n: int) -> str:
    """The sentence a figure's footnote carries when it clipped points (empty when none)."""
    if not n:
        return ""
    return f"{n} point{'s' if n != 1 else ''} beyond the axes, drawn on the edge as ◆ (range from quartiles)"


def wide(values: Iterable[float], decades: float = DECADES) -> bool:
    """All finite values positive and spanning more than ``decades`` decades."""
    v = np.asarray([x for x in values if x is not None and math.isfinite(x)], dtype=float)
    return bool(v.size) and bool((v > 0).all()) and math.log10(v.max() / v.min()) > decades


def log_y(ax: Axes) -> None:
    """Log y with labelled ticks at the axes' current range: call after everything is drawn."""
    ax.set_yscale("log")
    lo, hi = ax.get_ylim()
    label = FuncFormatter(lambda y, _: f"{y:.3g}")
    if hi / lo >= 10:
        ax.yaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0) if hi / lo < 1e4 else (1.0,)))
        ax.yaxis.set_major_formatter(label if hi / lo < 1e4 else FuncFormatter(lambda y, _: f"{y:.0e}"))
    else:  # under one decade: a log axis would label no tick at all
        ticks = [t for t in MaxNLocator(5).tick_values(lo, hi) if lo <= t <= hi and t > 0]
        ax.yaxis.set_major_locator(FixedLocator(ticks))
        ax.yaxis.set_major_formatter(label)
    ax.yaxis.set_minor_formatter(NullFormatter())


def frame_single_x(ax: Axes, xs: Iterable[float]) -> bool:
    """If ``xs`` hold one distinct value, frame it: centred, one tick, a range that does not pretend to
    be a scale. True if it did."""
    distinct = sorted({float(x) for x in xs})
    if len(distinct) != 1:
        return False
    v = distinct[0]
    if ax.get_xscale() == "log" and v > 0:
        ax.set_xlim(v / 2, v * 2)
    else:  # wide enough that seeds' dots (shifted by a few percent) stay in view
        half = 0.5 * abs(v) or 1.0
        ax.set_xlim(v - half, v + half)
    ax.set_xticks([v], [f"{v:g}"])
    ax.minorticks_off()
    return True


def readable(lengths: Iterable[float]) -> list[float]:
    """The values to label on a log axis: the first, then each at least ``MIN_RATIO`` above the last kept
    (and the longest, replacing a neighbour too close to it)."""
    kept: list[float] = []
    values = sorted(set(lengths))
    for t in values:
        if not kept or t >= kept[-1] * MIN_RATIO:
            kept.append(t)
    if values and kept[-1] != values[-1]:
        kept[-1] = values[-1]
    return kept
