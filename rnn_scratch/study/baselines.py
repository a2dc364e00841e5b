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

from rnn_scratch.study.runs import Job
from rnn_scratch.tasks.order_free import order_free_scores
from rnn_scratch.tasks.registry import make_task


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


def order_free_lines(jobs: list[Job]) -> list[str]:
    """The baselines as a table by length and, where the fixed integrator meets the solved rule at every
    length, the sentence that says the task is order-free."""
    rows = baseline_rows(jobs)
    if not rows:
        return []
    lines = [
        "Order-free baselines (eval accuracy of a trained softmax read-out of a fixed integrator, W_hh = I "
        "with random input weights, and of the symbol counts; `rnn_scratch.tasks.order_free`, 2,048 "
        "training and 2,048 fresh sequences):",
        "",
        "| T | integrator | symbol counts | order-free ceiling | solved rule |",
        "|---|---|---|---|---|",
    ]
    for T, row in rows.items():
        ceiling = f"{row['ceiling_acc']:.2f}" if "ceiling_acc" in row else "-"
        scores = f"{row['integrator_acc']:.3f} | {row['counts_acc']:.3f}"
        lines.append(f"| {T} | {scores} | {ceiling} | {row['rule']} |")
    if all(row["integrator_acc"] >= 0.9 for row in rows.values()):
        lines += [
            "",
            "**This task is order-free**: the fixed integrator, untrained but for its read-out, meets the "
            "solved rule at every length here (the class is which key symbol appeared, and its count says "
            "so). So success here ranks how trainable an accumulator is, not how far a cell carries order: "
            "it is the vanishing-gradient demonstration. The memory preset's tasks need order.",
        ]
    return [*lines, ""]


def fixed_recurrence_rows(path: Path, task: str) -> dict[int, list[dict[str, str]]]:
    """T -> the rows of ``fixed_recurrence.csv`` (``rnn_scratch.tasks.fixed_recurrence``) for ``task``."""
    out: dict[int, list[dict[str, str]]] = {}
    if not path.exists():
        return out
    with path.open() as f:
        for row in csv.DictReader(f):
            if row["task"] == task:
                out.setdefault(int(row["T"]), []).append(row)
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


def fixed_recurrence_lines(path: Path, task: str) -> list[str]:
    """Per length: the best fixed recurrence (its setting and accuracy), the best of each kind, and the
    length up to which no learned memory is needed."""
    rows = fixed_recurrence_rows(path, task)
    if not rows:
        return []
    lines = [
        "Fixed recurrences, untrained but for the same softmax read-out "
        f"(`rnn_scratch.tasks.fixed_recurrence`, every setting in `{path.name}`): the best eval accuracy "
        "of each kind, and the best overall:",
        "",
        "| T | leaky filter (one decay) | leaky bank | echo state network | best fixed recurrence | rule |",
        "|---|---|---|---|---|---|",
    ]
    for T, at in rows.items():
        best_of = [max((float(r["accuracy"]) for r in at if r["baseline"] == kind), default=None)
                   for kind in ("leaky", "leaky_bank", "esn")]  # fmt: skip
        top = max(at, key=lambda r: float(r["accuracy"]))
        shown = " | ".join(f"{v:.3f}" if v is not None else "-" for v in best_of)
        best = f"{top['baseline']} ({top['setting']}): {float(top['accuracy']):.3f}"
        lines.append(
            f"| {T} | {shown} | {best} | {'met' if top['solved_rule_pass'] == 'True' else 'missed'} |"
        )
    return [*lines, "", f"So {reach_words(rows)}.", ""]


def reach_words(rows: dict[int, list[dict[str, str]]]) -> str:
    """Where the task starts needing learned memory, in words."""
    reach, lengths = fixed_memory_reach(rows), list(rows)
    if reach is None:
        return (
            f"no fixed recurrence meets the rule even at T = {lengths[0]}: it needs learned memory throughout"
        )
    if reach == lengths[-1]:
        return (
            f"a fixed recurrence meets the rule at every length to T = {reach}: no learned memory is needed"
        )
    after = lengths[lengths.index(reach) + 1]
    return (
        f"a fixed recurrence meets the rule up to T = {reach}; from T = {after} the task needs learned memory"
    )
