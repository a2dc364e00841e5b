"""The report's figures, over seeds: the median with its order-statistic band (95% from n = 6, the
range below; no band where a group's outcomes split) and every seed as a dot; curves as the median over
seeds with a band from the lowest to the highest seed.

* ``plot_metric``: the primary metric (eval accuracy, or the adding problem's eval MSE on a log scale)
  against x, a line per series (the swept keys other than x and seed); with many series, a panel per
  value of all but the last of those keys. Chance (or the 1/6 baseline and the solved threshold) dashed.
* ``plot_curves``: ``losses`` (training loss against step, moving average; ``grad_norms``, the last
  logged step's ||dL/dh_t|| against t, is kept for old runs), a panel per series and a line per x. A
  panel of copy runs draws the memoryless loss, ln 8 per recalled symbol, as Arjovsky et al. draw theirs:
  a curve on that line has learned nothing a network without memory could not.

The gradient profile at initialisation and at the end, the Kaplan-Meier curves and the decay against
lambda_1 are ``rnn_scratch.study.evidence_plots``.
"""

from __future__ import annotations

import math
import textwrap
import warnings
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only, no display needed
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from rnn_scratch.study.aggregate import Group, metric_value, number, sort_key  # noqa: E402
from rnn_scratch.study.figure_rules import (  # noqa: E402
    frame_single_x,
    legend_outside,
    log_y,
    make_room,
    readable,
    wide,
)
from rnn_scratch.tasks.copy import MEMORYLESS_LOSS  # noqa: E402
from rnn_scratch.training.record import Status  # noqa: E402

MAX_LINES = 4  # more series than this on one axis: split them into panels
TAB10 = [f"C{i}" for i in range(10)]  # matplotlib's default colour cycle


def wrap(text: str, inches: float, fontsize: float) -> str:
    """``text`` broken into lines that fit ``inches`` at ``fontsize`` points (no title is cut off)."""
    return "\n".join(textwrap.wrap(text, width=max(20, int(inches * 130 / fontsize))))


def title(fig: plt.Figure, text: str, fontsize: float = 10) -> None:
    fig.suptitle(wrap(text, fig.get_figwidth() - 0.3, fontsize), fontsize=fontsize)


def footnote(fig: plt.Figure, text: str) -> float:
    """A grey note at the bottom, wrapped; returns the figure fraction it takes (for ``_save``)."""
    lines = wrap(text, fig.get_figwidth() - 0.2, 7)
    fig.text(0.01, 0.01, lines, fontsize=7, color="grey", va="bottom")
    return (lines.count("\n") + 1) * 0.13 / fig.get_figheight() + 0.01


def _panels(n: int, heading: str, sharey: bool = True) -> tuple[plt.Figure, list[plt.Axes]]:
    cols = min(n, 3)  # each panel's legend sits to its right (``figure_rules.make_room`` adds its width)
    rows = math.ceil(n / cols)
    size = (6.4, 4.6) if n == 1 else (3.9 * cols, 3.4 * rows + 0.4)
    fig, axes = plt.subplots(rows, cols, figsize=size, dpi=90, squeeze=False, sharey=sharey)
    for ax in axes.flat[n:]:
        ax.set_visible(False)
    title(fig, heading)
    return fig, list(axes.flat[:n])


def _colours(n: int) -> list[Any]:
    return [plt.get_cmap("viridis")(v) for v in np.linspace(0.0, 0.9, max(n, 1))]


def _save(fig: plt.Figure, path: Path, bottom: float = 0.0) -> bool:
    """Lay out below the (wrapped) title and above ``bottom`` (room for a footnote), write, close."""
    heading = fig.get_suptitle()
    top = 1.0 - ((heading.count("\n") + 1) * 0.2 + 0.1) / fig.get_figheight() if heading else 1.0
    make_room(fig)  # legends sit outside the panels: the figure grows by their width
    fig.tight_layout(rect=(0, bottom, 1, top))
    fig.savefig(path)
    plt.close(fig)
    return True


def _label(values: dict[str, str], keys: list[str]) -> str:
    return ", ".join(f"{k}={values[k]}" for k in keys) or "all runs"


def _log_x(ax: plt.Axes, xs: list[float]) -> None:
    """A log x axis with a tick at every value run, labelled where ``figure_rules.readable`` says (the
    refined lengths 200, 271, 368, 500 would print over each other)."""
    ticks = sorted(set(xs))
    if ticks and min(ticks) > 0 and max(ticks) / min(ticks) >= 8:
        ax.set_xscale("log")
        shown = readable(ticks)
        ax.set_xticks(ticks, [f"{v:g}" if v in shown else "" for v in ticks])
        ax.minorticks_off()


def split(groups: list[Group], x: str) -> tuple[list[str], list[str]]:
    """(panel keys, line keys) among the group keys other than x: all in one panel while few lines."""
    others = [k for k in (groups[0].values if groups else {}) if k != x]
    n_lines = len({_label(g.values, others) for g in groups})
    if n_lines <= MAX_LINES or len(others) < 2:
        return [], others
    return others[:-1], others[-1:]


def plot_metric(groups: list[Group], x: str, metric: str, path: Path, title: str | None = None) -> bool:
    """``metric`` against ``x``: mean and 95% CI band per line, each seed a dot. False if nothing to draw."""
    if not any(g.finished and g.summary(metric).n for g in groups):
        return False
    panel_keys, line_keys = split(groups, x)
    panels = list(dict.fromkeys(_label(g.values, panel_keys) for g in groups))
    fig, axes = _panels(len(panels), title or f"{metric} over seeds: median, its interval, each seed a dot")
    jobs = [j for g in groups for j in g.finished]
    labels = sorted({g.values[x] for g in groups}, key=sort_key)
    # one value of x is a category, never spread over a numeric axis (seed dots would sit at 97 and 103)
    numeric = len(labels) > 1 and all(number(v) is not None for v in labels)
    position: dict[str, float] = {
        v: (number(v) or 0.0) if numeric else float(i) for i, v in enumerate(labels)
    }
    for ax, panel in zip(axes, panels, strict=True):
        members = [g for g in groups if _label(g.values, panel_keys) == panel]
        lines = list(dict.fromkeys(_label(g.values, line_keys) for g in members))
        for k, line in enumerate(lines):  # every line drawn: past 10, the colours repeat with other marks
            colour, mark = TAB10[k % 10], ("o", "s", "^", "D")[(k // 10) % 4]
            series = sorted(
                (g for g in members if _label(g.values, line_keys) == line),
                key=lambda g: position[g.values[x]],
            )
            pts = [(position[g.values[x]], g.summary(metric)) for g in series if g.summary(metric).n]
            if not pts:
                continue
            xs = [p[0] for p in pts]
            means = np.array([s.centre for _, s in pts], dtype=float)
            # a split group (some seeds solved, some not) gets no band: its dots are the data
            lo = np.array([s.low if s.low is not None and not s.split else s.centre for _, s in pts], float)
            hi = np.array([s.high if s.high is not None and not s.split else s.centre for _, s in pts], float)
            if numeric:
                style = ("-", "--", "-.", ":")[k % 4]  # lines that coincide (all at 1.0) stay visible
                ax.plot(xs, means, marker=mark, linestyle=style, color=colour, label=line, markersize=4)
                ax.fill_between(xs, lo, hi, color=colour, alpha=0.2, linewidth=0)
            else:  # categories have no order to join: a dot and its interval bar per category, side by side
                step = min(0.12, 0.8 / len(lines))  # all of a category's dots stay within its slot
                dodged = [x_ + step * (k - (len(lines) - 1) / 2) for x_ in xs]
                ax.errorbar(dodged, means, yerr=[means - lo, hi - means], fmt=mark, color=colour, label=line,
                            markersize=5, capsize=3, linestyle="none")  # fmt: skip
            for g in series:
                for i, j in enumerate(g.finished):
                    v = metric_value(j, metric)
                    if v is not None and math.isfinite(v):
                        xv = (
                            position[g.values[x]] * (1 + 0.03 * (i - 1))
                            if numeric
                            else position[g.values[x]] + 0.04 * (i - 1)
                        )
                        ax.plot(
                            xv,
                            v,
                            "x" if j.status == Status.DIVERGED else ".",
                            color=colour,
                            alpha=0.6,
                            markersize=6,
                        )
        _reference_lines(ax, jobs, metric)
        _baseline_lines(ax, members, x, position, metric, numeric)
        if numeric:
            _log_x(ax, [position[g.values[x]] for g in members])
            # a panel with data at one x only (one length of this task): centred, one tick, not spread
            frame_single_x(ax, [position[g.values[x]] for g in members if g.summary(metric).n])
        else:
            ax.set_xticks(list(position.values()), labels)
            ax.set_xlim(-0.5, len(labels) - 0.5)
        ax.set_title(panel if panel_keys else "", fontsize=9)
        ax.set_xlabel(x + (" (log scale)" if ax.get_xscale() == "log" else ""))
        ax.grid(alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            legend_outside(ax)
    # the panels share y: its scale and ticks are set once everything is drawn
    drawn = [
        float(y) for ax in axes for line in ax.lines for y in np.ravel(np.asarray(line.get_ydata(), float))
    ]
    logged = any(ax.get_yscale() == "log" for ax in axes) or wide(drawn)
    for ax in axes:
        if logged:
            log_y(ax)
        ax.set_ylabel(metric.replace("_", " ") + (" (log scale)" if logged else ""))
    note = (
        f"{'line' if numeric else 'dot'}: median over seeds, {'band' if numeric else 'bar'}: its "
        "order-statistic interval (95% from 6 seeds, the range below); where seeds split between solved "
        "and unsolved: no interval; small dots: seeds (x: diverged)"
    )
    return _save(fig, path, bottom=footnote(fig, note))


def _reference_lines(ax: plt.Axes, jobs: list[Any], metric: str) -> None:
    if metric == "eval_acc":
        ax.set_ylim(0, 1.05)
        refs = {("chance", j.metrics["chance_acc"]) for j in jobs if j.metrics.get("chance_acc") is not None}
        refs |= {
            ("solved", 0.9) for j in jobs if str(j.metrics.get("solved_rule", "")).startswith("eval_acc")
        }
    elif metric == "eval_mse":
        ax.set_yscale("log")
        refs = {("baseline 1/6", j.metrics["baseline_mse"]) for j in jobs if j.metrics.get("baseline_mse")}
        refs |= {("solved", v / 10) for _, v in list(refs)}
    else:
        return
    for name, value in sorted(refs, key=lambda r: r[1]):
        ax.axhline(value, color="grey", linestyle="--" if name != "solved" else ":", linewidth=1)
        ax.annotate(
            name, (0.01, value), xycoords=("axes fraction", "data"), va="bottom", color="grey", fontsize=7
        )


BASELINE_WORDS = {"persistence": "persistence", "seasonal": "seasonal naive", "ar": "AR(p)"}


def _baseline_lines(
    ax: plt.Axes, groups: list[Group], x: str, position: dict[str, float], metric: str, joined: bool
) -> None:
    """The task's own baselines measured on each run's eval set (``eval_baseline_<name>_mse``, the series
    task), a grey line each with its name in the legend: flat where it is one value, else through its
    median at each x (an AR(p) of p = T changes with T), joined where x is numeric."""
    prefix = "eval_baseline_"
    suffix = f"_{metric.removeprefix('eval_')}"
    found: dict[str, dict[float, list[float]]] = {}
    for g in groups:
        for j in g.finished:
            for key, value in j.metrics.items():
                if key.startswith(prefix) and key.endswith(suffix) and isinstance(value, (int, float)):
                    name = key[len(prefix) : -len(suffix)]
                    found.setdefault(name, {}).setdefault(position[g.values[x]], []).append(float(value))
    for k, (name, by_x) in enumerate(sorted(found.items())):
        xs = sorted(by_x)
        ys = [float(np.median(by_x[v])) for v in xs]
        label = f"baseline: {BASELINE_WORDS.get(name, name)}"
        style = dict(color=("0.35", "0.55", "0.15")[k % 3], linestyle=(0, (4, 2 + k)), linewidth=1.2)
        if len(set(ys)) == 1:
            ax.axhline(ys[0], label=label, **style)  # type: ignore[arg-type]
        else:
            if not joined:
                style["linestyle"] = "none"
            ax.plot(xs, ys, marker="_", markersize=16, label=label, **style)  # type: ignore[arg-type]


def _gradient_curve(job: Any) -> np.ndarray | None:
    """||dL/dh_t|| for t = 1..T at the last logged step with a finite value (a diverged run's last is NaN)."""
    h = job.profile.get("h")
    finite = np.isfinite(h).any(axis=1).nonzero()[0] if h is not None and h.ndim == 2 else []
    if not len(finite):
        return None
    norms = h[finite[-1]]  # type: ignore[index]
    return np.where(norms > 0, norms, np.nan)


def smooth(values: np.ndarray, window: int) -> np.ndarray:
    """Trailing moving average; the first points average what there is so far."""
    if window <= 1 or values.size == 0:
        return values
    csum = np.cumsum(np.insert(values, 0, 0.0))
    idx = np.arange(1, values.size + 1)
    start = np.maximum(idx - window, 0)
    return (csum[idx] - csum[start]) / (idx - start)


def _loss_curve(job: Any) -> np.ndarray | None:
    loss = job.profile.get("loss")
    if loss is None or not loss.size:
        return None
    return smooth(loss, max(1, loss.size // 50))


def _stack(curves: list[np.ndarray]) -> np.ndarray:
    """Curves of unequal length (runs stopped when solved) padded with NaN: (n, max length)."""
    out = np.full((len(curves), max(c.size for c in curves)), np.nan)
    for i, c in enumerate(curves):
        out[i, : c.size] = c
    return out


def memoryless_loss(jobs: list[Any]) -> float | None:
    """The loss of a network without memory when every job is a copy run (ln 8 per recalled symbol,
    ``rnn_scratch.tasks.copy``), else None."""
    tasks = {(j.config.get("task") or {}).get("name") for j in jobs}
    return MEMORYLESS_LOSS if tasks == {"copy"} else None


def plot_curves(groups: list[Group], x: str | None, path: Path, kind: str, heading: str = "") -> bool:
    """``kind`` "grad_norms" or "losses": a panel per series, a line per x (median over seeds, band
    from the lowest to the highest seed). Runs stop when solved, so a median over the seeds left would jump
    as each stops: the median is drawn while every seed trains, and past the first stop each seed still
    training is drawn alone (thin)."""
    curve = _gradient_curve if kind == "grad_norms" else _loss_curve
    if not any(curve(j) is not None for g in groups for j in g.jobs if j.finished):
        return False  # e.g. only torch_* baselines: they expose no per-step gradient
    others = [k for k in (groups[0].values if groups else {}) if k != x]
    panels = list(dict.fromkeys(_label(g.values, others) for g in groups))
    title = {
        "grad_norms": "||dL/dh_t|| at the end of training (loss at t = T): median over seeds, band min..max"
    }
    words = title.get(
        kind, "training loss: median over seeds (band min..max) while every seed trains, then each seed left"
    )
    fig, axes = _panels(len(panels), f"{heading}: {words}" if heading else words)
    for ax, panel in zip(axes, panels, strict=True):
        members = [g for g in groups if _label(g.values, others) == panel]
        for colour, g in zip(_colours(len(members)), members, strict=True):
            curves = [c for j in g.finished if (c := curve(j)) is not None]
            if not curves:
                continue
            stacked = _stack(curves)
            with np.errstate(all="ignore"), warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)  # a step no seed reached: all NaN
                mid, lo, hi = (np.nanmedian(stacked, 0), np.nanmin(stacked, 0), np.nanmax(stacked, 0))
            every = min(c.size for c in curves)  # steps every seed reached (runs stop when solved)
            t = np.arange(1, mid.size + 1)
            name = f"{x}={g.values.get(x)}" if x else g.label
            ax.plot(t[:every], mid[:every], color=colour, label=f"{name} ({len(curves)} seeds)")
            ax.fill_between(t[:every], lo[:every], hi[:every], color=colour, alpha=0.2, linewidth=0)
            for c in (c for c in curves if c.size > every):  # past the first stop: the seeds still training
                ax.plot(t[every - 1 : c.size], c[every - 1 :], color=colour, linewidth=0.7, alpha=0.7)
        floor = memoryless_loss([j for g in members for j in g.finished]) if kind == "losses" else None
        if floor is not None and ax.lines:
            words = f"memoryless: ln 8 = {floor:.3f}"
            ax.axhline(floor, color="grey", linestyle="--", linewidth=1, label=words)
        ax.set_title(panel, fontsize=9)
        ax.set_xlabel("time step t" if kind == "grad_norms" else "step")
        ax.set_ylabel(
            "||dL/dh_t|| (log scale)" if kind == "grad_norms" else "loss (moving average, log scale)"
        )
        ax.grid(alpha=0.3)
        if ax.lines:
            legend_outside(ax)
    for ax in axes:  # norms and losses are positive and span decades (a diverged run reaches 1e13)
        log_y(ax)  # after every panel is drawn: they share y
    return _save(fig, path)
