"""The memory page's figures, each a panel per task and each cell in the headline's colour and marker.

* ``memory.png`` (the README's headline): the fraction of seeds solved against T, each cell's fitted
  logistic curve. Where every seed of a point solved (or none did) its exact 95% interval is the same for
  every cell at that n, so it is drawn once, as a shaded band, not as a comb of bars that hide each other;
  only the split points (some seeds solved) carry their own bar, spread apart. The axis names it.
* ``accuracy.png``: the fresh eval accuracy against T, the median per cell (a line) and each seed a dot.
* ``solved.png``: training sequences to solve against T (log y), the Kaplan-Meier median per cell; a
  cell whose median is not reached is drawn at its budget as an open marker.
* ``decay_vs_lyapunov.png``: the fitted gradient decay against λ_1 at the end of training, a point per
  run, axes from quartiles (``figure_rules.robust_limits``; points beyond on the edge as ◆), y = x.

The rules of ``rnn_scratch.study.figure_rules`` hold: legends outside (one, below, for every panel),
readable ticks (``readable`` thins a log axis's labelled lengths), log y where a quantity spans decades.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from rnn_scratch.study.figure_rules import (
    OUTLIER_MARKER,
    clip_to,
    log_y,
    outlier_note,
    readable,
    robust_limits,
)
from rnn_scratch.study.horizon import Outcome, logistic_curve, rates
from rnn_scratch.study.plots import plt
from rnn_scratch.study.stats import kaplan_meier, median, proportion_ci
from rnn_scratch.study.sweep import Sweep
from rnn_scratch.study.trials import axis_offset

MARKERS = "osD^vPX*p"


def style(i: int) -> dict[str, Any]:
    """Cell number ``i``'s colour and marker: the same in every memory figure."""
    return {"color": f"C{i % 10}", "marker": MARKERS[i % len(MARKERS)]}


def _axis(ax: Any, lengths: list[int], task: str) -> None:
    """A log axis of the lengths, labelled with what T is for ``task``: copy's T is Arjovsky's, the
    blanks between the last symbol and the marker (its sequences are T + 20 long)."""
    ax.set_xscale("log")
    ticks = readable(lengths)
    ax.set_xticks(ticks, [f"{t:g}" for t in ticks], fontsize=8)
    ax.minorticks_off()
    if len(lengths) == 1:
        ax.set_xlim(lengths[0] / 2, lengths[0] * 2)
    ax.set_xlabel("T: blanks to bridge (log scale)" if task == "copy" else "sequence length T (log scale)")


def _panels(tasks: list[dict[str, Any]], height: float = 3.8) -> tuple[Any, list[Any]]:
    fig, axes = plt.subplots(1, len(tasks), figsize=(4.4 * len(tasks), height), dpi=90, squeeze=False)
    return fig, list(axes[0])


def _legend(fig: Any, cells: list[str], labels: dict[str, str], extra: list[Any] | None = None) -> None:
    """One legend for every panel, below them, in as many columns as fit."""
    handles = [plt.Line2D([], [], lw=1.6, label=labels[c], **style(i)) for i, c in enumerate(cells)]
    handles += extra or []
    columns = min(3, len(handles))
    fig.legend(handles=handles, loc="lower center", ncol=columns, fontsize=8, frameon=False)
    fig.tight_layout(rect=(0, 0.04 + 0.045 * math.ceil(len(handles) / columns), 1, 1))


def _save(fig: Any, path: Path) -> None:
    fig.savefig(path)
    plt.close(fig)


def draw(
    sweep: Sweep, tasks: list[dict[str, Any]], cells: list[str], labels: dict[str, str], out: Path
) -> list[str]:
    """Draw the four figures into ``out``; the names of those drawn (the headline first)."""
    if not tasks:
        return []
    headline(tasks, cells, labels, out / "memory.png")
    accuracy(sweep, tasks, cells, labels, out / "accuracy.png")
    solve_times(tasks, cells, labels, out / "solved.png")
    drawn = ["memory", "accuracy", "solved"]
    if decay_vs_lyapunov(sweep, tasks, cells, labels, out / "decay_vs_lyapunov.png"):
        drawn.append("decay_vs_lyapunov")
    return drawn


def headline(tasks: list[dict[str, Any]], cells: list[str], labels: dict[str, str], path: Path) -> None:
    """Success against T per task: points, split points' exact bars, the all-or-none band, the fits."""
    fig, axes = _panels(tasks, 4.2)
    n = int(
        np.median(
            [
                sum(1 for r in t["results"] if r.cell == r0.cell and r.T == r0.T)
                for t in tasks
                for r0 in t["results"][:1]
            ]
        )
    )
    lo_all, hi_none = proportion_ci(n, n)[0], proportion_ci(0, n)[1]
    for ax, task in zip(axes, tasks, strict=True):
        results: list[Outcome] = task["results"]
        lengths = sorted({r.T for r in results})
        for c in [c for c in cells if c in task["cells"]]:
            i = cells.index(c)
            T, rate, lo, hi = rates(results, c)
            shift = 1.0 + 0.045 * (i - (len(cells) - 1) / 2)  # cells side by side at a shared length
            ax.plot(T * shift, rate, lw=0, ms=5, alpha=0.9, **style(i))
            split = (rate > 0) & (rate < 1)  # all or none solved: the shared interval at the right edge
            if split.any():
                bars = [rate[split] - lo[split], hi[split] - rate[split]]
                ax.errorbar(
                    T[split] * shift,
                    rate[split],
                    yerr=bars,
                    fmt="none",
                    ecolor=style(i)["color"],
                    elinewidth=1.0,
                    capsize=2,
                )
            if (curve := logistic_curve(results, c)) is not None:
                ax.plot(curve[0], curve[1], color=style(i)["color"], lw=1.5, alpha=0.85)
        edge = max(lengths) * (1.45 if len(lengths) > 1 else 1.3)
        ax.errorbar(
            [edge, edge * 1.15],
            [1.0, 0.0],
            yerr=[[1.0 - lo_all, 0.0], [0.0, hi_none]],
            fmt="none",
            ecolor="0.55",
            elinewidth=2.5,
            capsize=3,
        )
        best = task["order_free"]["best"]
        said = f"order-free read-outs: acc <= {best:.2f}" if best is not None else ""
        ax.set_title(f"{task['words']}\n{said}", fontsize=9)
        _axis(
            ax, lengths, task["name"]
        )  # one length: centred, a factor of 2 either side (figure_rules.frame_single_x)
        if len(lengths) > 1:
            ax.set_xlim(min(lengths) / 1.3, edge * 1.4)
        ax.set_ylim(-0.04, 1.04)
        ax.axhline(0.5, color="grey", lw=0.7, ls="--")
    axes[0].set_ylabel("fraction of seeds solved\n(bars: 95% exact interval)")
    band = plt.Line2D(
        [],
        [],
        color="0.55",
        lw=2.5,
        label=f"grey, at the right: the 95% exact interval of every point at {n}/{n} "
        f"([{lo_all:.2f}, 1]) or at 0/{n} ([0, {hi_none:.2f}])",
    )
    _legend(fig, cells, labels, [band])
    _save(fig, path)


def accuracy(
    sweep: Sweep, tasks: list[dict[str, Any]], cells: list[str], labels: dict[str, str], path: Path
) -> None:
    """Fresh eval accuracy against T: the median per cell and every seed as a dot."""
    fig, axes = _panels(tasks)
    for ax, task in zip(axes, tasks, strict=True):
        jobs = [j for j in sweep.jobs if j.finished and j.overrides.get("task") == task["name"]]
        offset = axis_offset(task["name"])  # lengths on the task's own axis (copy: Arjovsky's T)
        lengths = sorted({int(j.config.get("seq_len") or 0) - offset for j in jobs})
        for c in [c for c in cells if c in task["cells"]]:
            i = cells.index(c)
            at = {
                t: [
                    v
                    for j in jobs
                    if j.overrides.get("cell") == c
                    and int(j.config.get("seq_len") or 0) - offset == t
                    and (v := j.metrics.get("fresh_eval_acc", j.metrics.get("eval_acc"))) is not None
                ]
                for t in lengths
            }
            xs = [t for t in lengths if at[t]]
            ax.plot(xs, [median(at[t]) for t in xs], lw=1.4, ms=4, **style(i))
            for t in xs:
                ax.scatter([t] * len(at[t]), at[t], s=7, color=style(i)["color"], alpha=0.35, lw=0)
        chance = next((j.metrics.get("chance_acc") for j in jobs if j.metrics.get("chance_acc")), None)
        if chance:
            ax.axhline(chance, color="grey", lw=0.8, ls="--")
        ax.axhline(0.9, color="grey", lw=0.8, ls=":")
        ax.set_title(task["words"], fontsize=9)
        _axis(ax, lengths, task["name"])
        ax.set_ylim(0, 1.03)
    axes[0].set_ylabel("fresh eval accuracy\n(line: median over seeds; dots: seeds)")
    extra = [
        plt.Line2D([], [], color="grey", ls=":", label="solved: acc >= 0.9"),
        plt.Line2D([], [], color="grey", ls="--", label="chance"),
    ]
    _legend(fig, cells, labels, extra)
    _save(fig, path)


def solve_times(tasks: list[dict[str, Any]], cells: list[str], labels: dict[str, str], path: Path) -> None:
    """Kaplan-Meier median training sequences to solve against T (log y); open: not reached (at budget)."""
    fig, axes = _panels(tasks)
    for ax, task in zip(axes, tasks, strict=True):
        results: list[Outcome] = task["results"]
        for c in [c for c in cells if c in task["cells"]]:
            i, rows = cells.index(c), []
            for t in sorted({r.T for r in results if r.cell == c}):
                runs = [r for r in results if r.cell == c and t == r.T]
                km = kaplan_meier([r.sequences for r in runs], [r.solved for r in runs]).median
                rows.append((t, km if km is not None else max(r.budget for r in runs), km is not None))
            reached = [(t, v) for t, v, ok in rows if ok]
            if reached:
                ax.plot(*zip(*reached, strict=True), lw=1.4, ms=4, **style(i))
            if missed := [(t, v) for t, v, ok in rows if not ok]:
                ax.plot(*zip(*missed, strict=True), lw=0, ms=5, mfc="none", **style(i))
        ax.set_title(task["words"], fontsize=9)
        _axis(ax, sorted({r.T for r in results}), task["name"])
        log_y(ax)
    axes[0].set_ylabel("training sequences to solve\n(Kaplan-Meier median)")
    extra = [
        plt.Line2D([], [], color="grey", marker="o", mfc="none", lw=0, label="median not reached: the budget")
    ]
    _legend(fig, cells, labels, extra)
    _save(fig, path)


def decay_vs_lyapunov(
    sweep: Sweep, tasks: list[dict[str, Any]], cells: list[str], labels: dict[str, str], path: Path
) -> bool:
    """Gradient decay per step against λ_1 at the end of training, a point per run, y = x."""
    found = [(j, j.metrics.get("lyapunov_max_final"), j.metrics.get("grad_decay_final")) for j in sweep.jobs]
    runs = [(j, float(x), float(y)) for j, x, y in found if j.finished and x is not None and y is not None]
    if not runs:
        return False
    xlim, ylim = robust_limits([x for _, x, _ in runs]), robust_limits([y for _, _, y in runs])
    assert xlim is not None and ylim is not None  # runs hold finite values
    fig, axes = _panels(tasks, 4.0)
    beyond = 0
    for ax, task in zip(axes, tasks, strict=True):
        for c in [c for c in cells if c in task["cells"]]:
            mine = [
                (x, y)
                for j, x, y in runs
                if j.overrides.get("task") == task["name"] and j.overrides.get("cell") == c
            ]
            if not mine:
                continue
            (xs, bx), (ys, by) = clip_to([x for x, _ in mine], xlim), clip_to([y for _, y in mine], ylim)
            out = bx | by
            beyond += int(out.sum())
            s = style(cells.index(c))
            ax.scatter(xs[~out], ys[~out], s=14, color=s["color"], marker=s["marker"], alpha=0.7, lw=0)
            ax.scatter(xs[out], ys[out], s=22, color=s["color"], marker=OUTLIER_MARKER, alpha=0.9, lw=0)
        both = (max(xlim[0], ylim[0]), min(xlim[1], ylim[1]))
        ax.plot(both, both, color="grey", lw=0.8, ls="--")
        ax.set_xlim(*xlim)
        ax.set_ylim(*ylim)
        ax.set_title(task["words"], fontsize=9)
        ax.set_xlabel("top Lyapunov exponent λ_1 at the end (per step)")
    axes[0].set_ylabel("fitted gradient decay at the end\n(slope of ln ||dL/dh_t|| per step)")
    note = outlier_note(beyond)
    extra = [plt.Line2D([], [], color="grey", ls="--", label="y = x" + (f"; {note}" if note else ""))]
    _legend(fig, cells, labels, extra)
    _save(fig, path)
    return True
