"""The evidence figures of a preset, over seeds.

* ``plot_survival``: the Kaplan-Meier fraction solved against training sequences, a step curve per
  group, censored runs (never solved within their budget) as ticks at their budget.
* ``plot_gradients``: ||dL/dh_t|| against the distance from the loss T - t, log y, at initialisation
  (before any update) and at the end of training side by side, from the float64 probe
  (``grad_norms.npz``: ``probe_h``). A thin line per seed, the median over seeds bold where every seed
  has a value (no median that switches between seeds where one underflowed). A row per series.
* ``plot_decay_vs_lyapunov``: each run's fitted gradient decay per step against its top Lyapunov
  exponent lambda_1 (both natural log per step), at initialisation (open) and at the end (filled),
  a colour per group, with the line y = x.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from rnn_scratch.analysis.gradients import distances
from rnn_scratch.study.aggregate import Group
from rnn_scratch.study.figure_rules import (
    OUTLIER_MARKER,
    clip_to,
    legend_outside,
    log_y,
    outlier_note,
    robust_limits,
)
from rnn_scratch.study.plots import TAB10, _label, _panels, _save, footnote, plt, title

PANEL_ABOVE = 10  # more groups than this get a panel per value of the first swept key
T = TypeVar("T")


def panel_split(
    items: list[T], values: Callable[[T], dict[str, str]], heading: str, size: tuple[float, float]
) -> tuple[Any, list[Any], dict[str, list[T]]]:
    """(figure, axes, panel name -> its items): more than ``PANEL_ABOVE`` items over several swept keys
    get a panel per value of the first key (named ``key=value``); else one axes of ``size`` inches, its
    panel named ""."""
    keys = list(values(items[0])) if items else []
    split = len(items) > PANEL_ABOVE and len(keys) > 1
    panels: dict[str, list[T]] = {}
    for item in items:
        panels.setdefault(f"{keys[0]}={values(item)[keys[0]]}" if split else "", []).append(item)
    if split:
        fig, axes = _panels(len(panels), heading)
        return fig, axes, panels
    fig, one = plt.subplots(figsize=size, dpi=90)
    title(fig, heading)
    return fig, [one], panels


def plot_survival(groups: list[Group], path: Path, heading: str) -> bool:
    """Kaplan-Meier fraction solved per group; False when no group has a solved rule. More than
    ``PANEL_ABOVE`` groups: a panel per value of the first swept key (e.g. a cell), a curve per rest."""
    curves = [(g, km) for g in groups if (km := g.km()) is not None]
    if not curves:
        return False
    keys = list(curves[0][0].values)
    fig, axes, panels = panel_split(curves, lambda c: c[0].values, heading, (10.5, 4.8))
    split = "" not in panels  # a panel per value of the first key
    end = max(km.horizon for _, km in curves)
    batch = min((t for _, km in curves for t in km.times[1:] if t > 0), default=1.0)
    for ax, (name, members) in zip(axes, panels.items(), strict=True):
        for k, (g, km) in enumerate(members):
            colour, style = TAB10[k % 10], ("-", "--", "-.", ":")[(k // 10) % 4]
            # every run solved: the curve stays at 1 to the last time shown; else it ends at its horizon
            times = np.append(km.times, end if km.events == km.n else km.horizon)
            fraction = np.append(km.fraction, km.fraction[-1])
            median = "not reached" if km.median is None else f"{km.median:g}"
            label = f"{_label(g.values, keys[1:]) if split else g.label}: {km.events}/{km.n}, median {median}"
            ax.step(times, fraction, where="post", color=colour, linestyle=style, label=label)
            censored = [t for j in g.finished if (t := _censored_at(j)) is not None]
            if censored:
                ax.plot(censored, [km.at(t) for t in censored], "|", color=colour, markersize=10)
        ax.axhline(0.5, color="grey", linestyle=":", linewidth=1)
        ax.annotate("half solved", (0.01, 0.5), xycoords=("axes fraction", "data"), va="bottom", color="grey")
        ax.set_xscale("symlog", linthresh=batch)  # linear below the first eval's time, log above
        ax.set_xlim(left=0)
        ax.set_ylim(-0.02, 1.05)
        ax.set_xlabel("training sequences (steps x batch; log above the first eval)", fontsize=8)
        ax.set_ylabel("fraction of runs solved (Kaplan-Meier)", fontsize=8)
        ax.grid(alpha=0.3)
        if split:
            ax.set_title(name, fontsize=9)
        legend_outside(ax)
    note = (
        "per curve: solved k/n and the KM median in training sequences; "
        "|: a run never solved, censored at its budget"
    )
    return _save(fig, path, bottom=footnote(fig, note))


def _censored_at(job: Any) -> float | None:
    from rnn_scratch.study.aggregate import time_to_solve

    found = time_to_solve(job)
    return found[0] if found is not None and not found[1] else None


def _probe_rows(job: Any) -> tuple[np.ndarray, np.ndarray] | None:
    """(at initialisation, at the end) rows of ||dL/dh_t|| from the job's float64 probe."""
    steps, rows = job.profile.get("probe_steps"), job.profile.get("probe_h")
    if steps is None or rows is None or rows.ndim != 2 or not rows.shape[0] or 0 not in steps:
        return None
    return rows[list(steps).index(0)], rows[-1]


def plot_gradients(groups: list[Group], x: str | None, path: Path, heading: str) -> bool:
    """A row per series (the group keys other than x), init | end columns, a colour per value of x."""
    if not any(_probe_rows(j) is not None for g in groups for j in g.finished):
        return False
    others = [k for k in (groups[0].values if groups else {}) if k != x]
    rows = list(dict.fromkeys(_label(g.values, others) for g in groups))
    fig, axes = plt.subplots(len(rows), 2, figsize=(11, 3.0 * len(rows) + 0.8), dpi=90, squeeze=False)
    for r, row in enumerate(rows):
        members = [g for g in groups if _label(g.values, others) == row]
        for colour_i, g in enumerate(members):
            pairs = [p for j in g.finished if (p := _probe_rows(j)) is not None]
            for col in (0, 1):
                curves = [p[col] for p in pairs]
                _seed_lines(
                    axes[r][col], curves, TAB10[colour_i % 10], f"{x}={g.values.get(x)}" if x else g.label
                )
        for col, when in enumerate(
            ("at initialisation (step 0, before any update)", "at the end of training")
        ):
            ax = axes[r][col]
            if ax.lines:
                log_y(ax)
            ax.set_title(f"{row}: {when}" if others else when, fontsize=9)
            ax.set_xlabel("steps before the loss, T - t")
            ax.set_ylabel("||dL/dh_t|| (log scale)")
            ax.grid(alpha=0.3)
            if ax.get_legend_handles_labels()[0]:
                legend_outside(ax)
    title(fig, heading)
    note = "thin: one seed each; bold: the median over seeds where every seed has a value (float64 probe)"
    return _save(fig, path, bottom=footnote(fig, note))


def _seed_lines(ax: Any, curves: list[np.ndarray], colour: str, label: str) -> None:
    if not curves:
        return
    for c in curves:
        ax.plot(distances(c.size), c, color=colour, linewidth=0.6, alpha=0.5)
    if len({c.size for c in curves}) == 1:
        stacked = np.stack(curves)
        ok = np.isfinite(stacked).all(axis=0) & (stacked > 0).all(axis=0)
        mid = np.where(ok, np.median(np.where(ok, stacked, 1.0), axis=0), np.nan)
        ax.plot(distances(mid.size), mid, color=colour, linewidth=2.2, label=f"{label} ({len(curves)} seeds)")


def plot_decay_vs_lyapunov(groups: list[Group], path: Path, heading: str) -> bool:
    """Gradient decay (y) against lambda_1 (x) per run, init open and end filled, and y = x. More than
    ``PANEL_ABOVE`` groups: a panel per value of the first swept key, a colour per rest. Both axes span
    the quartiles' far-out fences (``figure_rules.robust_limits``): a point beyond sits on the edge as a
    diamond, and the footnote counts them."""
    points = []
    for k, g in enumerate(groups):
        for j in g.finished:
            for when, filled in (("init", False), ("final", True)):
                d, lam = j.metrics.get(f"grad_decay_{when}"), j.metrics.get(f"lyapunov_max_{when}")
                if d is not None and lam is not None and math.isfinite(d) and math.isfinite(lam):
                    points.append((lam, d, k, filled))
    if not points:
        return False
    keys = list(groups[0].values)
    fig, axes, panels = panel_split(list(range(len(groups))), lambda k: groups[k].values, heading, (6.8, 5.6))
    split = "" not in panels  # a panel per value of the first key
    xlim = robust_limits(p[0] for p in points) or (-1.0, 1.0)
    ylim = robust_limits(p[1] for p in points) or (-1.0, 1.0)
    beyond = 0
    for ax, (name, members) in zip(axes, panels.items(), strict=True):
        for i, k in enumerate(members):
            colour = TAB10[i % 10]
            label = _label(groups[k].values, keys[1:]) if split else groups[k].label
            for filled in (False, True):
                xy = [(lam, d) for lam, d, kk, f in points if kk == k and f == filled]
                if not xy:
                    continue
                xs, out_x = clip_to([p[0] for p in xy], xlim)
                ys, out_y = clip_to([p[1] for p in xy], ylim)
                out = out_x | out_y
                beyond += int(out.sum())
                face = colour if filled else "none"
                ax.scatter(xs[~out], ys[~out], s=30, marker="o", edgecolors=colour, facecolors=face,
                           label=label if filled else None)  # fmt: skip
                if out.any():
                    ax.scatter(xs[out], ys[out], s=42, marker=OUTLIER_MARKER, edgecolors=colour,
                               facecolors=face, clip_on=False)  # fmt: skip
        lo, hi = max(xlim[0], ylim[0]), min(xlim[1], ylim[1])
        if lo < hi:
            ax.plot([lo, hi], [lo, hi], color="grey", linestyle="--", linewidth=1, label="y = x")
        ax.axhline(0, color="grey", linewidth=0.5)
        ax.axvline(0, color="grey", linewidth=0.5)
        ax.set_xlim(*xlim)
        ax.set_ylim(*ylim)
        ax.set_xlabel("top Lyapunov exponent λ_1 per step", fontsize=8)
        ax.set_ylabel("gradient decay per step", fontsize=8)
        ax.set_title(name, fontsize=9)
        ax.grid(alpha=0.3)
        legend_outside(ax)
    note = (
        "open: at initialisation; filled: at the end of training; one point per run; gradient decay: the "
        "slope of ln ||dL/dh_t|| against T - t; both in natural log per step"
    )
    note = "; ".join(filter(None, [note, outlier_note(beyond)]))
    return _save(fig, path, bottom=footnote(fig, note))
