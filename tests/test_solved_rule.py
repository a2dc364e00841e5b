"""One meaning of solved (issue 33, point 1): a pass counts only when the fresh eval confirms it, an
unconfirmed pass never stops a run, a run that ends ``solved`` has a fresh eval that meets the rule, and
every table (per group, horizon, Kaplan-Meier) counts and censors a run the same way."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

import rnn_scratch.training.loop as loop
from rnn_scratch.study.aggregate import group_by_seed, time_to_solve
from rnn_scratch.study.horizon import outcomes
from rnn_scratch.study.runs import Job
from rnn_scratch.tasks import Batch
from rnn_scratch.training.config import TrainConfig
from rnn_scratch.training.record import RunRecord, Status
from rnn_scratch.training.tuning import score

torch.set_num_threads(1)


def recall_cfg(**changes: object) -> TrainConfig:
    """Recall at seq_len 4: an RNN meets eval acc >= 0.9 within ~40 steps."""
    base = dict(
        seq_len=4, hidden_size=32, batch_size=32, steps=60, eval_every=20, log_every=20, eval_size=64,
        device="cpu", stop_when_solved=True, eval_schedule="geometric", final_eval_size=256,
    )  # fmt: skip
    return TrainConfig(**{**base, **changes})  # type: ignore[arg-type]


def test_a_run_that_ends_solved_has_a_fresh_eval_that_meets_the_rule(tmp_path: Path) -> None:
    m = loop.train(recall_cfg(), tmp_path, progress=False)
    assert m["status"] == "solved" and m["solved"] is True
    assert m["fresh_eval_acc"] >= 0.9 and m["fresh_eval_size"] == 256
    assert m["fresh_eval_step"] == m["steps"] == m["steps_to_solve"]  # the confirming eval is the final one
    assert RunRecord.read(tmp_path).solved


def test_an_unconfirmed_pass_never_stops_a_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The fresh set's targets shifted by one class: every pass the eval sees is overturned, so the run
    trains on to its budget and ends completed, unsolved, with its passes counted."""
    real = loop.fresh_eval_set

    def wrong_targets(cfg: TrainConfig, task, device) -> Batch:  # noqa: ANN001
        data = real(cfg, task, device)
        return Batch(data.x, (data.y + 1) % task.n_outputs, lengths=data.lengths, mask=data.mask)

    monkeypatch.setattr(loop, "fresh_eval_set", wrong_targets)
    m = loop.train(recall_cfg(), tmp_path, progress=False)
    assert m["eval_acc"] >= 0.9  # the eval itself passed ...
    assert m["unconfirmed_passes"] >= 1  # ... and was overturned each time
    assert m["status"] == "completed" and m["steps"] == 60 and m["solved"] is False
    assert m["steps_to_solve"] is None and m["budget_sequences"] == 60 * 32
    assert m["fresh_eval_acc"] < 0.9 and m["fresh_eval_step"] == 60  # the final model, measured at the end
    assert score(m) < 0.01  # the tuning objective reads it as unsolved too


def test_a_pass_on_the_last_eval_ends_solved(tmp_path: Path) -> None:
    """Confirmed at the budget's last step (nothing left to stop early): status solved all the same."""
    probe = loop.train(recall_cfg(), tmp_path / "probe", progress=False)
    last = probe["steps_to_solve"]
    m = loop.train(recall_cfg(steps=last, eval_every=last), tmp_path / "run", progress=False)
    assert m["steps"] == last and m["status"] == "solved" and m["steps_to_solve"] == last


def job(folder: Path, seed: int, solved_at: int | None, fresh: float, status: str = "solved") -> Job:
    config = {"task": {"name": "temporal_order"}, "seq_len": 20, "batch_size": 32, "steps": 100,
              "seed": seed, "model": {"name": "rnn"}}  # fmt: skip
    metrics = {"status": status, "steps": solved_at or 100, "steps_to_solve": solved_at,
               "sequences_to_solve": None if solved_at is None else solved_at * 32, "budget_sequences": 3200,
               "solved_rule": "eval_acc >= 0.9", "fresh_eval_acc": fresh, "config": config}  # fmt: skip
    return Job(folder, {"cell": "rnn", "seed": str(seed)}, status, metrics)


def test_every_table_counts_and_censors_by_the_same_rule() -> None:
    """A record written before the loop confirmed on the fresh set: stopped at step 40 on a pass the
    final fresh eval missed (0.897). Unsolved everywhere, censored at its budget, not at its stop."""
    jobs = [
        job(Path("a"), 0, 40, 0.95),  # solved
        job(Path("b"), 1, 40, 0.897),  # overturned: unsolved
        job(Path("c"), 2, None, 0.5, "completed"),  # never passed
    ]
    assert [j.solved for j in jobs] == [True, False, False]
    assert [j.record.solved for j in jobs] == [True, False, False]  # the record decides, the job asks it
    assert [time_to_solve(j) for j in jobs] == [(1280.0, True), (3200.0, False), (3200.0, False)]
    (group,) = group_by_seed(jobs, ["cell"])
    assert group.solved == 1 and group.median_steps == 40  # first passes that did not count are not times
    found = outcomes(jobs)
    assert [(o.solved, o.sequences) for o in found] == [(True, 1280.0), (False, 3200.0), (False, 3200.0)]
    assert [o.overturned for o in found] == [False, True, False]
    km = group.km()
    assert km is not None and km.median is None  # 1 of 3 solved: less than half, no median
    assert Status(jobs[1].record.status) == Status.SOLVED  # the old file's word; the study reads past it
