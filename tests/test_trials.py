"""Runs read as trials (rnn_scratch/study/trials.py): the time-to-solve interval from the eval schedule,
the study's meaning of solved, the gradient evidence; and the curve statistics end to end on the
committed memory study's summary.csv."""

import csv
import math
from pathlib import Path

import numpy as np
import pytest

from rnn_scratch.study.contrasts import contest_family, contest_row
from rnn_scratch.study.curves import cell_curves, pairwise_contrasts
from rnn_scratch.study.failures import MODES, failure_counts
from rnn_scratch.study.runs import Job
from rnn_scratch.study.survival import time_model
from rnn_scratch.study.trials import by_task, trials_from_csv, trials_from_jobs

ROOT = Path(__file__).resolve().parents[1]
MEMORY = ROOT / "docs" / "study" / "memory" / "summary.csv"
CONFIG = {"seq_len": 20, "seed": 3, "batch_size": 32, "steps": 1500, "eval_every": 100,
          "eval_schedule": "geometric", "task": {"name": "recall_keys"}, "model": {"name": "rnn"},
          "optim": {"lr": 0.003}}  # fmt: skip


def job(status: str, **metrics) -> Job:
    data = {"status": status, "diverged": status == "diverged", "steps": 1500, "grad_norm_max": 7.0,
            "grad_decay_final": -0.5, "steps_to_solve": None, "sequences_to_solve": None,
            "budget_sequences": 48_000, "solved_rule": "eval acc >= 0.9", **metrics,
            "config": CONFIG}  # fmt: skip
    return Job(Path("j"), {"cell": "rnn_tuned", "seed": "3"}, status, data)


def test_jobs_give_the_interval_between_the_last_failing_and_the_solving_eval():
    solved = job("solved", steps_to_solve=300, sequences_to_solve=9600, solve_after=200)
    early = job("solved", steps_to_solve=32, sequences_to_solve=1024)  # no solve_after: the schedule's
    never = job("completed")
    solved.profile = {"probe_h": np.array([[1.0, 1.0, 1.0], [1e-3, 0.1, 1.0]])}
    a, b, c = trials_from_jobs([solved, early, never])
    assert (a.cell, a.task, a.length, a.seed, a.lr, a.solved) == (
        "rnn_tuned",
        "recall_keys",
        20,
        "3",
        0.003,
        True,
    )
    assert (a.lower, a.upper, a.budget) == (6400.0, 9600.0, 48_000.0)
    assert a.ln_first_last == pytest.approx(math.log(1e-3))  # the probe's last row
    assert (b.lower, b.upper) == (16 * 32, 1024.0)  # geometric schedule: the eval before 32 is 16
    assert b.ln_first_last == pytest.approx(-0.5 * 19)  # no probe: the fitted decay x (T - 1)
    assert (c.solved, c.lower, c.upper) == (False, 48_000.0, math.inf)
    assert trials_from_jobs([job("interrupted")]) == []


def write(path: Path, rows: list[dict]) -> Path:
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


def test_csv_rows_count_a_pass_the_fresh_eval_overturned_as_unsolved(tmp_path):
    base = {"task": "recall_keys", "cell": "irnn", "seq_len": "10", "seed": "0", "status": "solved",
            "steps_to_solve": "900", "sequences_to_solve": "28800", "budget_sequences": "48000",
            "fresh_eval_acc": "0.95", "grad_norm_max": "12.0", "grad_decay_final": "-2.0"}  # fmt: skip
    rows = [
        base,
        {**base, "seed": "1", "fresh_eval_acc": "0.884"},
        {**base, "seed": "2", "status": "missing"},
    ]
    kept, overturned = trials_from_csv(write(tmp_path / "s.csv", rows), eval_every=100)
    assert kept.solved and (kept.lower, kept.upper) == (800 * 32, 28_800.0)
    assert not overturned.solved and (overturned.lower, overturned.upper) == (48_000.0, math.inf)
    assert overturned.ln_first_last == pytest.approx(-18.0) and overturned.grad_norm_max == 12.0
    with_column = trials_from_csv(
        write(tmp_path / "t.csv", [{**base, "solved": "False", "solve_after": "850"}]), 100
    )
    assert not with_column[0].solved
    assert (
        trials_from_csv(write(tmp_path / "u.csv", [{**base, "solve_after": "850"}]), 100)[0].lower == 850 * 32
    )
    with pytest.raises(ValueError, match="s.csv: no column 'budget_sequences'"):
        trials_from_csv(
            write(tmp_path / "s.csv", [{k: v for k, v in base.items() if k != "budget_sequences"}]), 100
        )


def test_every_statistic_runs_on_the_committed_memory_study():
    trials = trials_from_csv(MEMORY, eval_every=100, eval_schedule="geometric")
    tasks = by_task(trials)
    assert len(tasks) >= 2 and all(t.lower < t.upper for t in trials)
    for task, mine in tasks.items():
        curves = cell_curves(mine, resamples=20)
        assert {c.cell for c in curves} == {t.cell for t in mine} and all(c.task == task for c in curves)
        for c in curves:
            assert c.low is None or c.high is None or c.low <= c.high
        contrasts = pairwise_contrasts(mine)
        assert all(0.0 <= c.p <= c.holm <= 1.0 for c in contrasts)
    recall = tasks["recall_keys"]
    model = time_model(recall)
    assert model.converged and {r.cell for r in model.ratios} == {t.cell for t in recall}
    assert all(r.ratio is None or (r.low <= r.ratio <= r.high) for r in model.ratios)
    counts = failure_counts(trials)
    assert sum(r["unsolved"] for r in counts) == sum(not t.solved for t in trials)
    assert all(sum(r[m] for m in MODES) == r["unsolved"] for r in counts)
    cells = {t.cell for t in recall}
    a, b = (c for c in ("lstm", "rnn") if c in cells)
    arms = ([t for t in recall if t.cell == c and t.length == 20] for c in (a, b))
    family = contest_family([contest_row(f"{a} vs {b}", *arms)])
    assert family[0].success_test == "fisher" and family[0].holm == family[0].p
