"""A finished run as the curve-level statistics read it: one ``Trial`` per run, from job folders or from a
published ``summary.csv``.

``curves`` (success against ln T), ``survival`` (time to solve), ``contrasts`` (the contest's tests) and
``failures`` (how an unsolved run failed) all take ``list[Trial]``. A trial holds:

* what ran: ``task``, ``cell``, ``length`` (the run's ``seq_len``: copy's is Arjovsky's T + 20), ``seed``,
  ``lr``;
* whether it solved (``Job.solved``: the rule met at an eval and confirmed by the fresh eval) and its
  time to solve in training sequences as the interval it is known to lie in, ``lower < t <= upper``: a
  solved run between its last failing eval (``solve_after``, else the eval before ``steps_to_solve`` on
  the run's schedule: ``runs.previous_eval``) and its solving eval; an unsolved run (a diverged one, a
  pass the fresh eval overturned) right-censored at its budget, ``(budget, inf)``;
* the gradient evidence for ``failures``: the largest global gradient norm before clipping, and
  ``ln_first_last`` = ln(||dL/dh_1|| / ||dL/dh_T||) at the end of training, read from the float64 probe's
  last row in ``grad_norms.npz`` when the job folder is there (-inf when ||dL/dh_1|| underflowed even
  float64), else extrapolated from the fitted decay per step: ``grad_decay_final * (T - 1)``.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from rnn_scratch.study.runs import Job, previous_eval
from rnn_scratch.tasks.registry import TASKS, make_task, min_length


@dataclass(frozen=True)
class Trial:
    """One finished run (see the module's docstring); times in training sequences."""

    task: str
    cell: str
    length: int
    seed: str
    solved: bool
    lower: float  # solved: the last failing eval's sequences (0: before the first eval); else the budget
    upper: float  # solved: the solving eval's sequences; else inf (right-censored at ``lower``)
    budget: float
    status: str = "completed"
    lr: float | None = None
    grad_norm_max: float | None = None
    ln_first_last: float | None = None  # ln(||dL/dh_1|| / ||dL/dh_T||) at the end; None: not recorded


def _float(value: Any) -> float | None:
    try:
        out = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(out) else out


def _ln_ratio(decay: float | None, length: int) -> float | None:
    return None if decay is None else decay * (length - 1)


def _profile_ratio(job: Job) -> float | None:
    """ln(||dL/dh_1|| / ||dL/dh_T||) from the last float64 probe row (stacked: the bottom layer's)."""
    rows = job.profile.get("probe_h")
    if rows is None or rows.size == 0:
        return None
    last = np.asarray(rows[-1], dtype=np.float64)
    last = last[0] if last.ndim == 2 else last
    first, end = float(last[0]), float(last[-1])
    if not (math.isfinite(first) and math.isfinite(end)) or end <= 0:
        return None
    return -math.inf if first <= 0 else math.log(first / end)


def axis_offset(task: str) -> int:
    """``seq_len - T`` on the task's own axis (copy: 20, Arjovsky's T = the blanks to bridge), 0 else."""
    found = TASKS.get(task)
    return int(getattr(found, "length_offset", 0)) if found is not None else 0


def trials_from_jobs(jobs: Iterable[Job], cell_key: str = "cell") -> list[Trial]:
    """The finished jobs as trials (missing, unreadable and interrupted ones left out). The cell is the
    ``cell_key`` override, else the model's name."""
    out = []
    for job in jobs:
        if not job.finished or (found := job.time_to_solve) is None:
            continue
        config, m = job.config, job.metrics
        batch = float(config.get("batch_size") or 1)
        budget = float(m.get("budget_sequences") or (config.get("steps") or 0) * batch)
        bounds = job.solve_bounds  # None unless solved with a recorded step
        if bounds is not None:
            lower, upper = bounds[0] * batch, found[0]
        else:
            lower, upper = budget, math.inf
        task = job.overrides.get("task") or str((config.get("task") or {}).get("name"))
        seq_len = int(config.get("seq_len") or 0)
        length = seq_len - axis_offset(task)  # on the task's own axis (copy: Arjovsky's T)
        ratio = _profile_ratio(job)
        ratio = ratio if ratio is not None else _ln_ratio(_float(m.get("grad_decay_final")), seq_len)
        out.append(Trial(
            task=task,
            cell=job.overrides.get(cell_key) or str((config.get("model") or {}).get("name")),
            length=length, seed=str(config.get("seed")), solved=bounds is not None, lower=float(lower),
            upper=float(upper), budget=budget, status=job.status.value,
            lr=_float((config.get("optim") or {}).get("lr")), grad_norm_max=_float(m.get("grad_norm_max")),
            ln_first_last=ratio,
        ))  # fmt: skip
    return out


def solved_in_row(row: dict[str, str]) -> bool:
    """The row's ``solved`` column when it has one; else (a CSV from before it was written) status
    ``solved`` and a fresh eval, where recorded, that meets the task's rule."""
    if row.get("solved") not in (None, ""):
        return row["solved"].strip().lower() == "true"
    if row.get("status") != "solved":
        return False
    prefix = "fresh_eval_"
    fresh = {
        k[len(prefix) :]: f for k, v in row.items() if k.startswith(prefix) and (f := _float(v)) is not None
    }
    if not fresh:
        return True
    length = int(row.get("seq_len") or 0) or min_length(row["task"])  # a preset that fixes seq_len omits it
    verdict = make_task(row["task"], length).solved(fresh)
    return verdict is not False


def trials_from_csv(path: Path, eval_every: int, eval_schedule: str = "fixed") -> list[Trial]:
    """A sweep's ``summary.csv`` as trials (rows whose status is not a result left out). ``eval_every``
    and ``eval_schedule`` are the sweep's (its preset's): they place the last failing eval of a solved
    run whose row carries no ``solve_after``. Raises ``ValueError`` naming the file and column missing."""
    with Path(path).open(newline="") as f:
        rows = list(csv.DictReader(f))
    need = ("task", "cell", "seq_len", "seed", "status", "steps_to_solve", "budget_sequences")
    if rows and (missing := [c for c in need if c not in rows[0]]):
        raise ValueError(f"{path}: no column {missing[0]!r}")
    schedule = {"eval_every": eval_every, "eval_schedule": eval_schedule}
    out = []
    for row in rows:
        if row["status"] not in ("completed", "solved", "diverged"):
            continue
        seq_len, budget = int(row["seq_len"]), float(row["budget_sequences"])
        length = seq_len - axis_offset(row["task"])  # on the task's own axis (copy: Arjovsky's T)
        steps = _float(row["steps_to_solve"])
        solved = bool(steps) and solved_in_row(row)  # a time to solve is needed too
        if solved and steps:
            at = _float(row.get("sequences_to_solve")) or steps
            batch = at / steps
            after = _float(row.get("solve_after"))
            after = after if after is not None else previous_eval(schedule, int(steps))
            lower, upper = after * batch, at
        else:
            lower, upper = budget, math.inf
        out.append(Trial(
            task=row["task"], cell=row["cell"], length=length, seed=row["seed"], solved=solved,
            lower=lower, upper=upper, budget=budget, status=row["status"], lr=_float(row.get("lr")),
            grad_norm_max=_float(row.get("grad_norm_max")),
            ln_first_last=_ln_ratio(_float(row.get("grad_decay_final")), seq_len),
        ))  # fmt: skip
    return out


def by_task(trials: Iterable[Trial]) -> dict[str, list[Trial]]:
    """The trials grouped by task, in order of appearance."""
    out: dict[str, list[Trial]] = {}
    for t in trials:
        out.setdefault(t.task, []).append(t)
    return out


def cells_of(trials: Iterable[Trial]) -> list[str]:
    """The cells in order of appearance."""
    return list(dict.fromkeys(t.cell for t in trials))
