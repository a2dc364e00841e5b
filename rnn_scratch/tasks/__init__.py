"""Tasks: where sequences and their targets come from. ``make_task`` builds one by name."""

from __future__ import annotations

from typing import Any

from rnn_scratch.tasks.base import Batch, Task
from rnn_scratch.tasks.synthetic import Recall, TemporalOrder

TASKS: dict[str, type[Task]] = {"recall": Recall, "temporal_order": TemporalOrder}


def make_task(name: str, seq_len: int, **options: Any) -> Task:
    """The task called ``name`` at length ``seq_len``; ``options`` are its own fields (e.g. ``lag``)."""
    if name not in TASKS:
        raise ValueError(f"task: unknown task {name!r}; choose one of {', '.join(sorted(TASKS))}")
    return TASKS[name](seq_len=seq_len, **options)


__all__ = ["TASKS", "Batch", "Recall", "Task", "TemporalOrder", "make_task"]
