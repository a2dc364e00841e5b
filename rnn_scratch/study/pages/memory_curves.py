"""The memory page's curve-level statistics as tables: each cell's T50, the contrasts over the whole
success curve, times to solve and how the failures failed.

The numbers come from the results library (``rnn_scratch.study.curves``: a logistic curve in ln T per
cell with a seed-cluster bootstrap, likelihood-ratio contrasts between cells; ``survival``: an
interval-censored log-normal AFT model of the training sequences to solve; ``failures``: vanished or
exploded, from the recorded gradient norms); this module only lays them out for
``templates/sections/memory.md.j2`` and writes the contrasts' full list to ``curve_contrasts.csv``.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

from rnn_scratch.study.curves import CellCurve, cell_curves, pairwise_contrasts, with_holm
from rnn_scratch.study.failures import failure_counts
from rnn_scratch.study.render import Table
from rnn_scratch.study.runs import Job
from rnn_scratch.study.survival import TimeModel, TimeRatio, time_model
from rnn_scratch.study.trials import Trial, by_task, trials_from_jobs

ALPHA = 0.05


def _length(x: float | None, below: bool) -> str:
    if x is None:
        return "below the grid" if below else "beyond the grid"
    return f"{x:,.0f}"


def t50_text(curve: CellCurve) -> tuple[str, str]:
    """(T50, its interval) as table cells: a fitted T50, or the bracket a separated cell's runs give."""
    if curve.fit == "logistic" and curve.t50 is not None:
        where = "" if curve.inside else " (outside the lengths run)"
        return f"{curve.t50:,.0f}{where}", f"[{_length(curve.low, True)}, {_length(curve.high, False)}]"
    words = {
        "separated": "between the longest solved and the shortest failed length",
        "all_solved": "beyond the longest length run",
        "none_solved": "below the shortest length run",
        "not_falling": "none: success does not fall with T",
        "one_length": "one length only",
    }
    if curve.interval != "bracket":
        return words.get(curve.fit, curve.fit), ""
    return words.get(curve.fit, curve.fit), f"[{_length(curve.low, True)}, {_length(curve.high, False)}]"


def curve_tables(
    jobs: list[Job], labels: dict[str, str], out: Path, axis: dict[str, str]
) -> list[dict[str, Any]]:
    """Per task, the template's data (``templates/sections/memory.md.j2`` words it): ``t50``, ``contrasts``
    (the pairs that hold after Holm), ``times`` (the AFT model's ratios, ``exponent``), ``failures``; also
    writes ``out/curve_contrasts.csv`` (every pair, Holm over every task's pairs). ``axis``: task -> the
    name of its length axis."""
    tasks = by_task(trials_from_jobs(jobs))
    if not tasks:
        return []
    contrasts = with_holm([c for trials in tasks.values() for c in pairwise_contrasts(trials)])
    write_contrasts(contrasts, labels, out / "curve_contrasts.csv")
    name = labels.get
    entries: list[dict[str, Any]] = []
    for task, trials in tasks.items():
        mine = [c for c in contrasts if c.task == task]
        held = sorted((c for c in mine if c.holm < ALPHA), key=lambda c: c.holm)
        model = time_model(trials)
        entries.append({
            "task": task, "axis": axis.get(task, "T"), "pairs": len(mine), "all_pairs": len(contrasts),
            "t50": Table(["cell", "runs solved", "T50", "interval"], [
                [name(c.cell, c.cell), f"{c.solved}/{c.runs}", *t50_text(c)] for c in cell_curves(trials)
            ]),
            "contrasts": Table(["cell", "against", "chi2 (df)", "p", "Holm p"], [
                [name(c.cell_a, c.cell_a), name(c.cell_b, c.cell_b), f"{c.statistic:.1f} ({c.df})",
                 f"{c.p:.2g}", f"{c.holm:.2g}" + (" (separation)" if c.degenerate else "")] for c in held
            ]),
            "held": len(held),
            "times": time_table(model, labels),
            "exponent": (model.length_exponent, model.length_low, model.length_high)
            if model.converged and model.length_exponent is not None else None,
            "times_message": "" if model.converged else model.message,
            "failures": failure_table(task, trials, labels),
        })  # fmt: skip
    return entries


def time_table(model: TimeModel, labels: dict[str, str]) -> Table:
    """The AFT model's time ratio per cell (reference: 1)."""

    def ratio(r: TimeRatio) -> str:
        if r.p is None and r.estimable:
            return "reference"
        if r.ratio is None or r.low is None or r.high is None:
            return "not estimable (no run solved)"
        return f"{r.ratio:.2g} [{r.low:.2g}, {r.high:.2g}]"

    rows = [
        [labels.get(r.cell, r.cell), f"{r.solved}/{r.runs}", ratio(r), "" if r.p is None else f"{r.p:.2g}"]
        for r in model.ratios
    ]
    return Table(["cell", "runs solved", "time ratio [95%]", "p"], rows)


def failure_table(task: str, trials: list[Trial], labels: dict[str, str]) -> Table:
    """How one task's unsolved runs failed, from their recorded gradient norms."""
    rows = [
        [labels.get(str(r["cell"]), str(r["cell"])), str(r["unsolved"]), str(r["vanished"]),
         str(r["exploded"]), str(r["exploded_then_vanished"]), str(r["neither"]), str(r["unknown"])]
        for r in failure_counts(trials) if r["task"] == task
    ]  # fmt: skip
    return Table(["cell", "unsolved", "vanished", "exploded", "then vanished", "neither", "unknown"], rows)


def write_contrasts(contrasts: list[Any], labels: dict[str, str], path: Path) -> None:
    """Every curve contrast, one row each."""
    with path.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["task", "cell", "against", "statistic", "df", "p", "holm", "degenerate"])
        for c in contrasts:
            a, b = labels.get(c.cell_a, c.cell_a), labels.get(c.cell_b, c.cell_b)
            writer.writerow(
                [c.task, a, b, f"{c.statistic:.4g}", c.df, f"{c.p:.4g}", f"{c.holm:.4g}", c.degenerate]
            )
