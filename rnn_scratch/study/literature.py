"""The literature's long-lag results beside ours, task by task, with every caveat on the page.

The cited results are constants below, each with its reference and the ways its setting differs from
ours (``Task.caveats``); ours come from the runs' folders (the ``literature`` preset's, and the
``horizon`` preset's where task, length and cell match). Per task the page prints its caveats, then a
row per cited result: theirs in words, ours as k of n seeds solved [95% exact], the Kaplan-Meier
median training sequences to solve with its interval-censoring bounds, and the median fresh eval
metric. Their training-sequence counts are quoted in the caveats, never set beside ours as a number to
compare: neither task nor stopping rule is theirs (H&S's adding places the second marker within the
first T/2 - 1 steps and stops when all of the last 2,000 sequences are within 0.04 with mean error
below 0.01; their temporal order requires every output error below 0.3), so a count of ours against
a count of theirs would compare rules, not learners.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rnn_scratch.study.aggregate import Group, k_n, metric_value
from rnn_scratch.study.horizon import CELL_KEY
from rnn_scratch.study.presets import Page
from rnn_scratch.study.render import Table
from rnn_scratch.study.runs import Job
from rnn_scratch.study.stats import median, success_text

HS1997 = "Hochreiter & Schmidhuber (1997), Neural Computation 9(8)"
LE2015 = "Le, Jaitly & Hinton (2015), arXiv:1504.00941, section 4.1"

CAVEATS = {
    "temporal_order": [
        "Theirs (H&S 1997, experiment 6a): sequences 100-110 steps long (random), the two X/Y symbols at "
        "steps 10-20 and 50-60; solved when every output's error stays below 0.3 on the training stream "
        "(their LSTM: about 31,000 training sequences). Ours (`rnn_scratch/tasks/synthetic.py`): a fixed "
        "length T, the symbols in [10%, 20%) and [50%, 60%) of T, solved at eval accuracy >= 0.9 on held-out "
        "sequences, confirmed on fresh ones; cross-entropy and Adam on batches, not their MSE and plain "
        "online gradient steps. Their count and ours measure different rules: not compared.",
        "Their LSTM had no forget gate and truncated its gradient; ours has a forget gate (chrono or "
        "constant bias) and full BPTT.",
    ],
    "adding": [
        "Theirs (H&S 1997, experiment 4): values in [-1, 1], the first marker among the first 10 steps, the "
        "second within the first T/2 - 1, target 0.5 + (X1 + X2) / 4; stopped when all of the last 2,000 "
        "sequences are within 0.04 with mean error below 0.01 (their LSTM at T = 100: about 74,000 "
        "training sequences). Ours (`rnn_scratch/tasks/adding.py`, as Le et al. 2015): values in [0, 1], "
        "one marker in each half, target X1 + X2, solved at eval MSE <= 0.1 x 1/6 (an RMS error of 0.13 "
        "on a target of spread 0.41). Their count and ours measure different rules: not compared.",
        "Le et al. (2015) report MSE curves, not a time to solve, with SGD, small learning rates and "
        "clipping; ours: Adam, clip 1.0, and the comparison is where the curve ends against the always-1 "
        "baseline MSE 1/6.",
    ],
}


@dataclass(frozen=True)
class Reference:
    """A published result: task, length, cell, what happened and (when given) the training sequences."""

    task: str
    T: int
    cell: str  # our cell's name for theirs
    result: str
    source: str


LITERATURE = (
    Reference("temporal_order", 100, "lstm", "solved (T = 100-110)", f"{HS1997}, experiment 6a"),
    Reference("adding", 100, "lstm", "solved (abs. error < 0.04)", f"{HS1997}, experiment 4"),
    Reference("adding", 200, "rnn", "stays at the baseline MSE (T >= 150)", LE2015),
    Reference("adding", 200, "irnn", "goes below the baseline MSE", LE2015),
    Reference("adding", 200, "lstm", "goes below the baseline MSE", LE2015),
)


def _cell(job: Job) -> str:
    """The cell swept (``+cell=irnn``), else the run's model (its config, never its folder's name)."""
    return job.overrides.get(CELL_KEY) or str((job.config.get("model") or {}).get("name"))


def matching(jobs: list[Job], ref: Reference) -> list[Job]:
    """Our finished runs of the reference's task, length and cell."""
    out = []
    for job in jobs:
        config = job.config
        task = (config.get("task") or {}).get("name")
        if job.finished and task == ref.task and config.get("seq_len") == ref.T and _cell(job) == ref.cell:
            out.append(job)
    return out


def ours(runs: list[Job]) -> tuple[str, str, str]:
    """(k/n [exact], KM median training sequences to solve with its censoring bounds, the median fresh
    eval metric: accuracy, or MSE for the adding problem)."""
    if not runs:
        return "not run", "-", "-"
    group = Group("ours", {}, runs)
    times = group.solve_times()
    budget = max(float(j.metrics.get("budget_sequences") or 0) for j in runs)
    seqs = "-" if times is None else times.median_text()
    if times is not None and times.late.median is None:
        seqs = f"> {budget:,.0f} (budget)"
    name = "eval_mse" if any(j.metrics.get("eval_mse") is not None for j in runs) else "eval_acc"
    value = median(metric_value(j, name) for j in runs)
    shown = "-" if value is None else f"{'MSE' if name == 'eval_mse' else 'acc'} {value:.4f}"
    return success_text(*k_n(runs)), seqs, shown


def literature_tables(jobs: list[Job]) -> list[dict[str, Any]]:
    """Per task its caveats and a row per cited result, theirs beside ours."""
    out = []
    for task in dict.fromkeys(ref.task for ref in LITERATURE):
        rows = [
            [str(ref.T), ref.cell, ref.result, ref.source, *ours(matching(jobs, ref))]
            for ref in LITERATURE
            if ref.task == task
        ]
        header = [
            "T",
            "cell",
            "theirs",
            "source",
            "ours: solved k/n [95% exact]",
            "ours: sequences to solve (KM median, interval-censored)",
            "ours: median fresh eval",
        ]
        out.append(
            {"task": task.replace("_", " "), "caveats": list(CAVEATS[task]), "table": Table(header, rows)}
        )
    return out


def section(page: Page) -> dict[str, Any]:
    """The literature preset's section (its ``# @study`` block names this module and ``reads: [horizon]``):
    the cited results beside its runs and the horizon preset's, task by task, before the figures."""
    jobs = [*page.sweep.jobs, *(job for other in page.others.values() for job in other.jobs)]
    return {"tasks": literature_tables(jobs)}
