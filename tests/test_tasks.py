"""The embedded tasks: labels follow their definitions, seeded determinism, balanced classes."""

from __future__ import annotations

import dataclasses
import math

import pytest
import torch

from rnn_scratch.tasks import REGISTRY, TASKS, Recall, TemporalOrder, make_task
from rnn_scratch.tasks.synthetic import order_windows


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


@pytest.mark.parametrize(("seq_len", "lag"), [(5, None), (20, 0), (20, 7), (50, 49)])
def test_recall_key_sits_lag_steps_before_the_end(seq_len: int, lag: int | None) -> None:
    task = Recall(seq_len=seq_len, lag=lag)
    batch = task.sample(256, gen())
    pos = seq_len - 1 - (seq_len - 1 if lag is None else lag)
    assert batch.x.shape == (256, seq_len) and batch.x.dtype == torch.long
    assert torch.equal(batch.x[:, pos], batch.y)
    others = torch.cat([batch.x[:, :pos], batch.x[:, pos + 1 :]], dim=1)
    assert (others >= task.n_classes).all() and (others < task.input_size).all()  # distractors
    assert task.decode(batch.x[0])[pos] == "ABCDEFGH"[batch.y[0]]


def test_temporal_order_labels_follow_the_order_of_x_and_y() -> None:
    task = TemporalOrder(seq_len=40)
    batch = task.sample(512, gen(3))
    first, second = order_windows(40)
    for row, label in zip(batch.x, batch.y, strict=True):
        text = task.decode(row)
        assert text[0] == "B" and text[-1] == "E"
        marks = [(i, c) for i, c in enumerate(text) if c in "XY"]
        assert len(marks) == 2
        (i, a), (j, b) = marks
        assert i in first and j in second
        assert int(label) == {"XX": 0, "XY": 1, "YX": 2, "YY": 3}[a + b]
        assert set(text[1:-1]) - {"X", "Y"} <= set("abcd")


@pytest.mark.parametrize("name", ["recall", "temporal_order"])
def test_same_seed_same_data_other_seed_other_data(name: str) -> None:
    task = make_task(name, 30)
    a, b, c = task.sample(64, gen(1)), task.sample(64, gen(1)), task.sample(64, gen(2))
    assert torch.equal(a.x, b.x) and torch.equal(a.y, b.y)
    assert not torch.equal(a.x, c.x)


@pytest.mark.parametrize("name", ["recall", "temporal_order"])
def test_classes_are_balanced(name: str) -> None:
    task = make_task(name, 20)
    counts = torch.bincount(task.sample(4000, gen()).y, minlength=task.n_outputs)
    assert counts.min() == counts.max() == 4000 // task.n_outputs
    assert task.chance == pytest.approx(1 / task.n_outputs)


def test_chance_level_nll_is_log_n_classes() -> None:
    task = TemporalOrder(seq_len=10)
    batch = task.sample(400, gen())
    uniform = torch.zeros(400, 4)
    assert task.metrics(uniform, batch.y)["loss"] == pytest.approx(math.log(4))


def test_unknown_task_is_named() -> None:
    with pytest.raises(ValueError, match="task: unknown task 'nope'"):
        make_task("nope", 10)


@pytest.mark.parametrize("name", ["recall", "temporal_order", "names", "text", "adding", "series", "copy"])
def test_each_shipped_task_is_registered_with_its_config(name: str) -> None:
    """The config's name selects its task, and every option it holds is a field of that task's class."""
    registered = REGISTRY[name]
    assert TASKS[name] is registered.task and registered.config().name == name
    options = {f.name for f in dataclasses.fields(registered.config)} - {"name"}
    accepted = {f.name for f in dataclasses.fields(registered.task) if f.init}
    assert options <= accepted, options - accepted
    # the shipped tasks supervise the final step only, but for copy (its last 10 steps)
    assert registered.task.per_step is (name == "copy")
