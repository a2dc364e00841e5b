"""The memory preset's section: each cell's horizon on tasks that need order, beside order-free baselines.

Per task (temporal order, recall among key distractors, copy), from the adaptive grid's runs
(``rnn_scratch.study.adaptive``):

* **Order-free baselines** at every length run: the fixed integrator and the symbol counts, each with a
  trained softmax read-out (``rnn_scratch.tasks.order_free``), against the task's solved rule.
* **Success against T**: k/n [exact 95%] per cell and length; ``not run`` past a length where every seed
  failed (the planner never ran it; it is not counted as a failure).
* **Training sequences to solve**: Kaplan-Meier medians, unsolved runs censored at the budget.
* **Horizons**: where a cell's outcomes are *separated* on the grid (every seed solved at every length up to
  T_a, none at any length from the next one, T_b), the horizon is the bracket "between T_a and T_b": the
  data place it nowhere more finely, so no interval is claimed; a finer grid is what would narrow it. Else
  the logistic fit's T50 (``rnn_scratch.study.horizon``) with its percentile bootstrap over seeds, never
  widened to the grid.
* **Seeds a contrast needs**: exact power of Fisher's test of two cells' success at one length.
* **The figure** (the README's headline): success against T, a panel per task, a colour and marker per
  cell, the points with their exact 95% intervals and each cell's fitted logistic curve.
"""

from __future__ import annotations

import math
import os
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from scipy import stats

from rnn_scratch.models.registry import model_cell, model_names
from rnn_scratch.study.baselines import baseline_rows, fixed_recurrence_lines, order_free_lines
from rnn_scratch.study.horizon import (
    BOOTSTRAP,
    Horizon,
    Outcome,
    cells_in_order,
    horizon,
    logistic_curve,
    outcomes,
    rates,
    separated,
    solved_of,
)  # fmt: skip
from rnn_scratch.study.presets import Page, Section
from rnn_scratch.study.runs import Job
from rnn_scratch.study.stats import kaplan_meier, success_text

TASK_WORDS = {
    "temporal_order": "temporal order (H&S 1997, 6a)",
    "recall_keys": "recall among key distractors",
    "copy": "copy memory (Arjovsky et al. 2016; T + 20 steps)",
}
MARKERS = "osD^vPX*p"
EVAL_WORDS = "the run's 512 eval sequences"
POWER_PAIRS = ((0.9, 0.1), (0.8, 0.2), (0.7, 0.3))
ALPHA, POWER = 0.05, 0.8


def section(page: Page) -> Section:
    """The per-task tables and horizons, and the headline figure ``memory.png`` (after the group tables)."""
    jobs = page.sweep.jobs
    # the preset's own lists give the order (each round's multirun lists only what it ran)
    params = (yaml.safe_load(page.preset.config.read_text()) or {}).get("hydra", {}).get("sweeper", {})
    listed = {k.lstrip("+"): str(v).split(",") for k, v in (params.get("params") or {}).items()}
    ran = [j.overrides.get("task", "") for j in jobs]
    tasks = list(dict.fromkeys([t for t in listed.get("task", []) if t in ran] + ran))
    order = listed.get("cell")
    lines = ["### Horizons on tasks that need order", ""]
    panels = []
    for task in tasks:
        mine = [j for j in jobs if j.overrides.get("task") == task]
        results = outcomes(mine)
        if not results:
            continue
        cells = cells_in_order(results, order)
        labels = {cell: label(mine, cell) for cell in cells}
        found = [honest_horizon(results, cell) for cell in cells]
        baselines = baseline_rows(mine)
        fixed = fixed_recurrence_lines(page.out / "fixed_recurrence.csv", task)
        lines += task_lines(task, mine, results, cells, labels, found, fixed)
        panels.append((task, results, cells, labels, baselines))
    lines += power_lines(len(page.sweep.seeds))
    lines += cost_lines(jobs)
    figure = page.out / "memory.png"
    if panels and plot_panels(panels, figure):
        shown = Path(os.path.relpath(figure, page.docs)).as_posix()
        lines += [f"![memory: success against T per task]({shown})", ""]
    return Section(claim=lines)


def label(jobs: list[Job], cell: str) -> str:
    """What a cell is, in its registry's words and the run's settings: "tanh RNN, orthogonal init",
    "LSTM, chrono gate bias", "IRNN (ReLU, W_hh = I), tuned lr 1.1e-04" (``+cell`` name without a run)."""
    config = next((j.config for j in jobs if j.overrides.get("cell") == cell and j.config), None)
    model = (config or {}).get("model") or {}
    if model.get("name") not in model_names():
        return cell
    words, details, init_named = model_cell(model["name"]).describe(model)
    parts = [words, *([] if init_named else [f"{model.get('init', 'default')} init"]), *details]
    if cell.endswith("_tuned"):
        parts.append(f"tuned lr {(config or {}).get('optim', {}).get('lr', 0):.1e}")
    return ", ".join(parts)


def cell_text(text: str) -> str:
    """``text`` safe inside a Markdown table cell (IndRNN's words hold a ``|w|``)."""
    return text.replace("|", "\\|")


def honest_horizon(results: list[Outcome], cell: str) -> tuple[Horizon, tuple[int, int] | None]:
    """The cell's fitted horizon and, where its outcomes are separated, the bracket that replaces it."""
    return horizon(results, cell), separated(results, cell)


def horizon_text(found: tuple[Horizon, tuple[int, int] | None]) -> str:
    fit, bracket = found
    if bracket is not None:
        return f"between {bracket[0]} and {bracket[1]} (separated: a finer grid is needed to say more)"
    return fit.text()


def _by_cell_and_length(
    results: list[Outcome], cells: list[str], labels: dict[str, str], text: Any
) -> list[str]:
    lengths = sorted({r.T for r in results})
    lines = ["| cell | " + " | ".join(f"T = {t}" for t in lengths) + " |", "|---" * (len(lengths) + 1) + "|"]
    for cell in cells:
        mine = [r for r in results if r.cell == cell]
        at = {t: [r for r in mine if r.T == t] for t in lengths}  # noqa: SIM300
        failed = [t for t in lengths if at[t] and not any(r.solved for r in at[t])]
        row = []
        for t in lengths:
            runs = at[t]
            row.append(text(runs) if runs else "not run" if failed and t > min(failed) else "")
        lines.append(f"| {cell_text(labels[cell])} | " + " | ".join(row) + " |")
    return lines


def task_lines(
    task: str, jobs: list[Job], results: list[Outcome], cells: list[str], labels: dict[str, str],
    found: list[tuple[Horizon, tuple[int, int] | None]], fixed: list[str] | None = None,
) -> list[str]:  # fmt: skip
    """Markdown for one task: its baselines, success, sequences to solve and horizons."""
    budget = max(r.budget for r in results)

    def median(runs: list[Outcome]) -> str:
        km = kaplan_meier([r.sequences for r in runs], [r.solved for r in runs]).median
        return f"{km:,.0f}" if km is not None else f"> {budget:,.0f}"

    lines = [f"#### {TASK_WORDS.get(task, task)}", "", *order_free_lines(jobs), *(fixed or [])]
    overturned = sum(r.overturned for r in results)
    lines += [
        f"Solved: the eval met the rule (eval acc >= 0.9 on {EVAL_WORDS}) and the fresh eval "
        f"(2,048 new sequences) confirmed it; the fresh eval overturned {overturned} of "
        f"{sum(r.solved or r.overturned for r in results)} runs' eval verdicts here (counted unsolved, "
        "censored at their budget).",
        "",
        f"Solved k/n [95% exact] (budget {budget:,.0f} training sequences; `not run`: past a length "
        "where every seed failed):", "", *_by_cell_and_length(results, cells, labels, _solved), "",
        "Training sequences to solve (Kaplan-Meier median, unsolved runs censored at the budget):", "",
        *_by_cell_and_length(results, cells, labels, median), "",
        "Horizon: the bracket where outcomes are separated; else T50 of a logistic fit in ln T with its "
        f"percentile bootstrap over seeds ({BOOTSTRAP} resamples; at 5 seeds its coverage is below the "
        "nominal 95%: read it as a range):", "", "| cell | horizon | runs solved |", "|---|---|---|",
    ]  # fmt: skip
    for cell, h in zip(cells, found, strict=True):
        lines.append(f"| {cell_text(labels[cell])} | {horizon_text(h)} | {solved_of(results, cell)} |")
    return [*lines, ""]


def _solved(runs: list[Outcome]) -> str:
    return success_text(sum(r.solved for r in runs), len(runs))


@cache
def fisher_power(p1: float, p2: float, n: int, alpha: float = ALPHA) -> float:
    """Exact power of the two-sided Fisher test of k1/n against k2/n when the true rates are p1, p2."""
    k = np.arange(n + 1)
    w1, w2 = stats.binom.pmf(k, n, p1), stats.binom.pmf(k, n, p2)
    power = 0.0
    for a in range(n + 1):
        for b in range(n + 1):
            if w1[a] * w2[b] > 1e-12 and stats.fisher_exact([[a, n - a], [b, n - b]])[1] <= alpha:
                power += w1[a] * w2[b]
    return power


def seeds_needed(p1: float, p2: float, most: int = 60) -> int | None:
    """The fewest seeds per cell for which ``fisher_power`` reaches ``POWER``; None beyond ``most``."""
    return next((n for n in range(2, most + 1) if fisher_power(p1, p2, n) >= POWER), None)


def power_lines(n: int) -> list[str]:
    """How many seeds a contrast of two horizons needs: two horizons differ where, at some length, one cell
    solves and the other does not, so the contrast is Fisher's test of two success counts at that length."""
    needed = ", ".join(f"{p1:g} against {p2:g}: {seeds_needed(p1, p2)}" for p1, p2 in POWER_PAIRS)
    best = stats.fisher_exact([[n, 0], [0, n]])[1]
    return [
        f"Seeds a contrast of two horizons needs: two cells' horizons differ where, at some length, one "
        f"solves and the other does not; Fisher's exact test of their success counts there (two-sided, "
        f"alpha {ALPHA}) reaches {POWER:.0%} power with this many seeds per cell, by true success rates: "
        f"{needed}. At this page's {n} seeds the most extreme split ({n}/{n} against 0/{n}) gives "
        f"p = {best:.3f}, so only near-complete separations are evidence here.",
        "",
    ]


def cost_lines(jobs: list[Job]) -> list[str]:
    """The compute behind the page: core-s of the runs and the wall clock from the first to the last."""
    done = [j for j in jobs if j.finished]
    if not done:
        return []
    core_s = sum(float(j.metrics.get("wall_time_s") or 0) for j in done)
    starts = [(j.folder / ".hydra").stat().st_mtime for j in done]
    ends = [(j.folder / "metrics.json").stat().st_mtime for j in done]
    wall = max(ends) - min(starts)
    return [
        f"Compute: {len(done)} runs, {core_s:,.0f} core-s of training (one thread each); "
        f"{wall / 60:,.0f} min of wall clock from the first run's start to the last run's end on this "
        "page's machine (2 cores, 2 jobs at a time; pauses between invocations included).",
        "",
    ]


def plot_panels(
    panels: list[tuple[str, list[Outcome], list[str], dict[str, str], dict[int, Any]]], path: Path
) -> bool:
    """Success against T, a panel per task: per cell its points (exact 95% bars) and fitted logistic curve."""
    from rnn_scratch.study.figure_rules import frame_single_x
    from rnn_scratch.study.plots import plt  # the Agg backend, set up once there

    cells = list(dict.fromkeys(c for _, _, cs, _, _ in panels for c in cs))
    labels = {c: lab for _, _, _, ls, _ in panels for c, lab in ls.items()}
    fig, axes = plt.subplots(
        1, len(panels), figsize=(4.6 * len(panels), 4.4), dpi=90, sharey=True, squeeze=False
    )
    for ax, (task, results, task_cells, _, baselines) in zip(axes[0], panels, strict=True):
        for cell in task_cells:
            i = cells.index(cell)
            colour, marker = f"C{i % 10}", MARKERS[i % len(MARKERS)]
            T, rate, lo, hi = rates(results, cell)
            shift = 1.0 + 0.025 * (i - (len(cells) - 1) / 2)  # spread overlapping points apart
            ax.errorbar(T * shift, rate, yerr=[rate - lo, hi - rate], color=colour, marker=marker, ms=5, lw=0,
                        elinewidth=0.9, capsize=2, alpha=0.9)  # fmt: skip
            if (curve := logistic_curve(results, cell)) is not None:
                ax.plot(curve[0], curve[1], color=colour, lw=1.6, alpha=0.85)
        best = max((row["integrator_acc"] for row in baselines.values()), default=math.nan)
        said = f"order-free read-outs: acc <= {best:.2f}; solved: acc >= 0.9"
        ax.set_title(f"{TASK_WORDS.get(task, task)}\n{said}", fontsize=9)
        lengths = sorted({r.T for r in results})
        ax.set_xscale("log")
        ax.set_xticks(lengths, [str(t) for t in lengths], fontsize=7, rotation=60)
        ax.minorticks_off()
        frame_single_x(ax, lengths)  # one length: centred, not spread by the points' shifts
        ax.set_ylim(-0.04, 1.04)
        ax.axhline(0.5, color="grey", lw=0.7, ls="--")
        ax.set_xlabel("sequence length T (log scale)")
    axes[0][0].set_ylabel("fraction of seeds solved (95% exact)")
    handles = [
        plt.Line2D([], [], color=f"C{i % 10}", marker=MARKERS[i % len(MARKERS)], lw=1.6, label=labels[c])
        for i, c in enumerate(cells)
    ]
    columns = max(1, min(len(handles), len(panels)))  # as many legend columns as panels: it fits their width
    fig.legend(handles=handles, loc="lower center", ncol=columns, fontsize=8, frameon=False)
    fig.tight_layout(rect=(0, 0.02 + 0.05 * math.ceil(len(handles) / columns), 1, 1))
    fig.savefig(path)
    plt.close(fig)
    return True
