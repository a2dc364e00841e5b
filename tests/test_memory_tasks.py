"""The order-sensitive memory tasks and their order-free baselines (``rnn_scratch.tasks.order_free``).

A memory task is published beside what a read-out that keeps no order scores on it: a fixed integrator
(W_hh = I, random input weights, a trained softmax read-out) and the symbol counts. These tests pin what
the baselines say of each task: recall with separate distractors is solved by counting (the key is the only
capital), temporal order sits at its 3/4 ceiling, and recall among key distractors and copy stay far below
their solved rules.
"""

from __future__ import annotations

import hashlib
import math
from pathlib import Path

import pytest
import torch
from conftest import TINY, run_script

from rnn_scratch.errors import ConfigError
from rnn_scratch.tasks import Copy, CopyConfig, RecallConfig, make_task
from rnn_scratch.tasks.copy import SOLVED_ACC as COPY_SOLVED
from rnn_scratch.tasks.order_free import counts_at_supervised_steps, order_free_scores
from rnn_scratch.tasks.synthetic import SOLVED_ACC


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def test_default_recall_draws_the_same_sequences_as_before_the_distractors_option() -> None:
    """The default run's data (and so the README's numbers) did not move: a hash of main's batch."""
    batch = make_task("recall", 50).sample(256, gen())
    digest = hashlib.sha256(batch.x.numpy().tobytes() + batch.y.numpy().tobytes()).hexdigest()[:16]
    assert digest == "a0fe5b3feb890884"


def test_recall_among_keys_draws_every_step_from_the_keys() -> None:
    task = make_task("recall", 40, distractors="keys")
    batch = task.sample(500, gen())
    assert task.input_size == task.n_outputs == 8 and batch.x.max() < 8
    assert torch.equal(batch.x[:, 0], batch.y)  # the key is the first symbol
    # every key shows up among the distractors: the key is not told apart by its kind
    assert set(batch.x[:, 1:].unique().tolist()) == set(range(8))


def test_recall_distractors_option_is_checked() -> None:
    with pytest.raises(ConfigError, match="task.distractors"):
        RecallConfig(distractors="key").check(20)


@pytest.mark.parametrize("seq_len", [21, 30, 120])
def test_copy_layout_targets_and_mask(seq_len: int) -> None:
    """10 symbols from 8, T - 1 blanks, the marker, 10 recall steps; targets and mask at the last 10."""
    task = make_task("copy", seq_len)
    batch = task.sample(64, gen())
    assert batch.x.shape == batch.y.shape == batch.mask.shape == (64, seq_len)
    blank, marker = task.alphabet.index("_"), task.alphabet.index(":")
    assert (batch.x[:, :10] < 8).all()
    assert (batch.x[:, 10 : seq_len - 11] == blank).all() and (batch.x[:, -10:] == blank).all()
    assert (batch.x[:, seq_len - 11] == marker).all()
    assert batch.mask[:, -10:].all() and not batch.mask[:, :-10].any()
    assert torch.equal(batch.y[:, -10:], batch.x[:, :10])
    assert task.info["blanks_T"] == seq_len - 20


def test_copy_is_checked_for_its_minimum_length() -> None:
    CopyConfig().check(21)
    with pytest.raises(ConfigError, match="seq_len: copy needs seq_len >= 21"):
        CopyConfig().check(20)


def test_copy_memoryless_loss_is_ln8_per_supervised_step() -> None:
    """Uniform outputs at the supervised steps cost ln 8 each: the paper's 10 ln 8 / (T + 20) times
    (T + 20) / 10, since our loss averages over the 10 supervised steps, not all T + 20."""
    task = Copy(seq_len=70)
    batch = task.sample(128, gen())
    out = torch.zeros(128, 70, 8)
    metrics = task.metrics(out, batch.y, batch.mask)
    assert metrics["loss"] == pytest.approx(math.log(8))
    paper = 10 * math.log(8) / 70  # the paper's baseline at T = 50
    assert metrics["loss"] * 10 / 70 == pytest.approx(paper)
    assert task.solved({"acc": COPY_SOLVED}) and not task.solved({"acc": 0.89})


def test_counts_at_supervised_steps_are_prefix_counts() -> None:
    task = make_task("copy", 25)
    batch = task.sample(3, gen())
    counts, targets = counts_at_supervised_steps(task, batch)
    assert counts.shape == (30, 10) and targets.shape == (30,)
    # the first supervised step (t = 15) has seen 10 symbols, 4 blanks, the marker and itself (a blank)
    t = 15
    assert torch.equal(counts[0], torch.bincount(batch.x[0, : t + 1], minlength=10).double())


def test_recall_with_separate_distractors_is_solved_by_an_integrator() -> None:
    """The key is the only capital letter: its count names it, at any length."""
    for T in (50, 1000):
        scores = order_free_scores(make_task("recall", T), n_train=2048, n_eval=2048)
        assert scores["integrator_acc"] >= 0.99 and scores["counts_acc"] >= 0.99


def test_temporal_order_baselines_sit_at_the_three_quarter_ceiling() -> None:
    """Counts tell XX from YY, not XY from YX: the read-outs reach about 3/4, below the 0.9 rule."""
    scores = order_free_scores(make_task("temporal_order", 100))
    assert scores["ceiling_acc"] == 0.75
    for name in ("integrator_acc", "counts_acc"):
        assert 0.70 <= scores[name] <= 0.77 < SOLVED_ACC


@pytest.mark.parametrize(("name", "T", "options", "ceiling"), [
    ("recall", 20, {"distractors": "keys"}, 0.35),
    ("recall", 200, {"distractors": "keys"}, 0.2),
    ("copy", 40, {}, 0.35),
    ("copy", 520, {}, 0.35),
])  # fmt: skip
def test_order_sensitive_tasks_are_far_above_their_order_free_baselines(
    name: str, T: int, options: dict[str, str], ceiling: float
) -> None:
    task = make_task(name, T, **options)
    scores = order_free_scores(task, n_train=2048, n_eval=2048)
    for key in ("integrator_acc", "counts_acc"):
        assert task.chance - 0.03 < scores[key] < ceiling < SOLVED_ACC, (key, scores)


@pytest.mark.parametrize("overrides", [["task=copy", "seq_len=24"], ["task.distractors=keys", "seq_len=12"]])
def test_train_script_runs_the_new_tasks(tmp_path: Path, overrides: list[str]) -> None:
    proc = run_script([*TINY, *overrides, "steps=4"], cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "completed:" in proc.stdout + proc.stderr
