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
from rnn_scratch.study.survival import time_model
from rnn_scratch.study.trials import Trial, by_task, trials_from_jobs

ALPHA = 0.05


def _length(x: float | None, below: bool) -> str:
    if x is None:
        return "below the grid" if below else "beyond the grid"
    return f"{x:,.0f}"


def t50_text(curve: CellCurve) -> tuple[str, str]:
    """(T50, its interval) in words: a fitted T50, or the bracket a separated cell's runs give."""
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
    """The template's ``curves`` entries (``{"title", "table", "note"}``), task by task; also writes
    ``out/curve_contrasts.csv`` (every pair, Holm over every task's pairs). ``axis``: task -> the name
    of its length axis."""
    tasks = by_task(trials_from_jobs(jobs))
    if not tasks:
        return []
    contrasts = with_holm([c for trials in tasks.values() for c in pairwise_contrasts(trials)])
    write_contrasts(contrasts, labels, out / "curve_contrasts.csv")
    entries: list[dict[str, Any]] = []
    for task, trials in tasks.items():
        name = labels.get
        curves = cell_curves(trials)
        rows = [[name(c.cell, c.cell), f"{c.solved}/{c.runs}", *t50_text(c)] for c in curves]
        entries.append({
            "title": f"{task}: T50, the length at which a cell solves half the time (length: "
                     f"{axis.get(task, 'T')}; logistic in ln T, 95% seed-cluster bootstrap interval)",
            "table": Table(["cell", "runs solved", "T50", "interval"], rows),
            "note": "",
        })  # fmt: skip
        mine = [c for c in contrasts if c.task == task]
        held = [c for c in mine if c.holm < ALPHA]
        entries.append({
            "title": f"{task}: pairs of cells whose success curves differ (likelihood ratio of one shared "
                     f"curve against one each; Holm over all {len(contrasts)} pairs of every task)",
            "table": Table(["cell", "against", "chi2 (df)", "p", "Holm p"], [
                [name(c.cell_a, c.cell_a), name(c.cell_b, c.cell_b), f"{c.statistic:.1f} ({c.df})",
                 f"{c.p:.2g}", f"{c.holm:.2g}" + (" (separation)" if c.degenerate else "")]
                for c in sorted(held, key=lambda c: c.holm)
            ]),
            "note": f"{len(held)} of {len(mine)} pairs differ at Holm p < {ALPHA}; every pair is in "
                    "`curve_contrasts.csv`.",
        })  # fmt: skip
        entries.append(time_entry(task, trials, labels))
        entries.append(failure_entry(task, trials, labels))
    return entries


def time_entry(task: str, trials: list[Trial], labels: dict[str, str]) -> dict[str, Any]:
    """The AFT model's time ratios for one task, as a template entry."""
    model = time_model(trials)
    name = labels.get
    rows = [
        [name(r.cell, r.cell), f"{r.solved}/{r.runs}",
         "reference" if r.p is None and r.estimable else
         (f"{r.ratio:.2g} [{r.low:.2g}, {r.high:.2g}]" if r.ratio is not None and r.low is not None
          and r.high is not None else "not estimable (no run solved)"),
         "" if r.p is None else f"{r.p:.2g}"]
        for r in model.ratios
    ]  # fmt: skip
    exponent = ""
    if model.length_exponent is not None and model.length_low is not None and model.length_high is not None:
        exponent = (f" Time to solve grows as T^{model.length_exponent:.2f} [{model.length_low:.2f}, "
                    f"{model.length_high:.2f}] at a fixed cell.")  # fmt: skip
    note = model.message if not model.converged else exponent.strip()
    return {
        "title": f"{task}: training sequences to solve against the reference cell at equal T (log-normal AFT "
                 "model in ln T, interval-censored between the last failing and the solving eval, unsolved "
                 "runs censored at the budget; ratio > 1: slower)",
        "table": Table(["cell", "runs solved", "time ratio [95%]", "p"], rows),
        "note": note,
    }  # fmt: skip


def failure_entry(task: str, trials: list[Trial], labels: dict[str, str]) -> dict[str, Any]:
    """How one task's unsolved runs failed, from their recorded gradient norms."""
    rows = [
        [labels.get(str(r["cell"]), str(r["cell"])), str(r["unsolved"]), str(r["vanished"]),
         str(r["exploded"]), str(r["exploded_then_vanished"]), str(r["neither"]), str(r["unknown"])]
        for r in failure_counts(trials) if r["task"] == task
    ]  # fmt: skip
    return {
        "title": f"{task}: how the unsolved runs failed (`rnn_scratch.study.failures`: exploded = diverged "
                 "or a gradient norm >= 1e6; vanished = ||dL/dh_1|| / ||dL/dh_T|| below float32's epsilon)",
        "table": Table(["cell", "unsolved", "vanished", "exploded", "then vanished", "neither", "unknown"],
                       rows),
        "note": "" if rows else "Every run solved.",
    }  # fmt: skip


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
