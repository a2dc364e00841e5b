"""A run says what it is: the record's ``identity`` (cell variant, task, the task its settings were tuned
on, lr), and tasks declare their page words and shortest sequence in the registry, so the study parses
no folder, override or file name."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from rnn_scratch.tasks.registry import TASKS, min_length, task_words
from rnn_scratch.training.config import TrainConfig


def test_a_run_through_hydra_records_its_cell_variant_tuned_task_and_lr(
    train_run: Callable[..., tuple[object, Path]],
) -> None:
    proc, run_dir = train_run("+cell=rnn_tuned", "task=temporal_order", "seq_len=12", "analysis=false")
    assert getattr(proc, "returncode", None) == 0, getattr(proc, "stderr", "")
    found = json.loads((run_dir / "metrics.json").read_text())["identity"]
    # rnn_tuned is the tanh RNN at the settings tuned on recall (configs/tuned/recall_rnn_seq50.yaml),
    # run here on temporal order: the record tells the two tasks apart
    assert found["cell"] == "rnn_tuned" and found["model"] == "rnn"
    assert found["task"] == "temporal_order" and found["tuned_on"] == "recall"
    assert found["lr"] == pytest.approx(0.00044215441477418754)


def test_an_untuned_run_names_its_model_and_no_tuning_task(
    compose_cfg: Callable[..., TrainConfig], tmp_path: Path
) -> None:
    from rnn_scratch.training.loop import train

    cfg = compose_cfg("model=lstm", "task=recall", "seq_len=6", "steps=2", "eval_every=2", "analysis=false")
    found = train(cfg, tmp_path / "run", progress=False)["identity"]
    assert found == {"cell": "lstm", "model": "lstm", "task": "recall", "tuned_on": None, "lr": cfg.optim.lr}


def test_a_model_group_of_its_own_names_the_cell() -> None:
    """``model=irnn`` is the tanh-family model (``model.name: rnn``) with ReLU and W_hh = I: the record
    names the group Hydra chose, so the IRNN is not counted as the tanh RNN."""
    from rnn_scratch.training.record import identity

    config = {"model": {"name": "rnn"}, "task": {"name": "recall"}, "optim": {"lr": 0.003}}
    assert identity(config, {"model": "irnn"})["cell"] == "irnn"
    assert identity(config, {"model": "irnn", "cell": "irnn_tuned"})["cell"] == "irnn_tuned"
    assert identity(config, None)["cell"] == "rnn"


def test_tasks_declare_their_words_and_shortest_sequence() -> None:
    assert min_length("copy") == 21  # 10 symbols, the marker, 10 recall steps: T = seq_len - 20 >= 1
    assert min_length("temporal_order") == 10 and min_length("recall") == 1
    assert task_words("recall_keys") == "recall among key distractors"
    assert task_words("no_such_task") == "no_such_task"
    for name, cls in TASKS.items():  # every registered task has a shortest length the config accepts
        assert min_length(name) == cls.MIN_SEQ_LEN >= 1
