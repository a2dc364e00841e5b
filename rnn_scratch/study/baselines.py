"""The order-free and fixed-recurrence baselines of the task a set of runs trained on.

``rnn_scratch.tasks.order_free`` scores a fixed integrator (W_hh = I, random input weights) and the symbol
counts, each with a trained softmax read-out; the horizon and memory pages print them beside each task's
results, so a reader sees what the task demands beyond counting. Scores are cached per (task, length,
options) for one page build.
"""

from __future__ import annotations

import csv
from functools import cache
from pathlib import Path
from typing import Any

from rnn_scratch.study.render import Table
from rnn_scratch.study.runs import Job
from rnn_scratch.tasks.order_free import order_free_scores
from rnn_scratch.tasks.registry import TASKS, make_task


def baseline_rows(jobs: list[Job]) -> dict[int, dict[str, Any]]:
    """T -> the order-free scores of the task these jobs ran, at every length they ran."""
    config = next((j.config for j in jobs if j.config), None)
    if config is None:
        return {}
    task_cfg = dict(config.get("task") or {})
    name = task_cfg.pop("name")
    out = {}
    for T in sorted({int(j.config.get("seq_len", 0)) for j in jobs if j.config}):
        task = make_task(name, T, **task_cfg)
        out[T] = {**_scores(name, T, tuple(sorted(task_cfg.items()))), "rule": task.solved_rule}
    return out


@cache
def _scores(name: str, T: int, options: tuple[tuple[str, Any], ...]) -> dict[str, float]:
    return order_free_scores(make_task(name, T, **dict(options)), n_train=2048, n_eval=2048)


def order_free(jobs: list[Job]) -> dict[str, Any]:
    """The order-free read-outs by length (a table), the best integrator accuracy, and whether the
    integrator meets the rule at every length (then the task is order-free)."""
    rows = baseline_rows(jobs)
    table = Table(
        ["T", "integrator", "symbol counts", "order-free ceiling", "solved rule"],
        [
            [
                str(t),
                f"{r['integrator_acc']:.3f}",
                f"{r['counts_acc']:.3f}",
                f"{r['ceiling_acc']:.2f}" if "ceiling_acc" in r else "-",
                str(r["rule"]),
            ]
            for t, r in rows.items()
        ],
    )
    best = max((r["integrator_acc"] for r in rows.values()), default=None)
    every = bool(rows) and all(r["integrator_acc"] >= 0.9 for r in rows.values())
    return {"table": table, "best": best, "all_solve": every}


def fixed_recurrence_rows(path: Path, task: str) -> dict[int, list[dict[str, str]]]:
    """T -> the rows of ``fixed_recurrence.csv`` (``rnn_scratch.tasks.fixed_recurrence``) for ``task``,
    T on the task's own axis (the CSV's ``T`` is the sequence length generated; copy: Arjovsky's T =
    seq_len - 20)."""
    out: dict[int, list[dict[str, str]]] = {}
    if not path.exists():
        return out
    offset = int(getattr(TASKS.get(task), "length_offset", 0))
    with path.open() as f:
        for row in csv.DictReader(f):
            if row["task"] == task:
                out.setdefault(int(row["T"]) - offset, []).append(row)
    return dict(sorted(out.items()))


def fixed_memory_reach(rows: dict[int, list[dict[str, str]]]) -> int | None:
    """The longest T up to which, at every length, some fixed recurrence (or order-free read-out) meets
    the solved rule: where the task stops being solvable without learned memory; None if at none."""
    reach = None
    for T, at in rows.items():
        if not any(r["solved_rule_pass"] == "True" for r in at):
            break
        reach = T
    return reach


def fixed_table(rows: dict[int, list[dict[str, str]]]) -> Table:
    """Per length: the best fixed recurrence of each kind and the best overall, against the rule."""
    out = []
    for T, at in rows.items():
        best_of = [
            max((float(r["accuracy"]) for r in at if r["baseline"] == kind), default=None)
            for kind in ("leaky", "leaky_bank", "esn")
        ]
        top = max(at, key=lambda r: float(r["accuracy"]))
        out.append(
            [
                str(T),
                *("-" if v is None else f"{v:.3f}" for v in best_of),
                f"{top['baseline']} ({top['setting']}): {float(top['accuracy']):.3f}",
                "met" if top["solved_rule_pass"] == "True" else "missed",
            ]
        )
    header = [
        "T",
        "leaky filter (one decay)",
        "leaky bank",
        "echo state network",
        "best fixed recurrence",
        "rule",
    ]
    return Table(header, out)
