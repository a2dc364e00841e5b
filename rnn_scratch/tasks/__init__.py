"""Tasks: where sequences and their targets come from. ``make_task`` builds one by name.

Synthetic (generated from the seed): recall, temporal_order, adding. Real data, read from files:
names (language of a name), text (next character of a text file), series (forecast a CSV column).

May import: ``errors`` only (and torch, numpy). A task knows nothing of the model or the loop.
"""

from __future__ import annotations

from typing import Any

from rnn_scratch.tasks.adding import Adding
from rnn_scratch.tasks.base import Batch, Task
from rnn_scratch.tasks.names import Names
from rnn_scratch.tasks.series import Series
from rnn_scratch.tasks.synthetic import Recall, TemporalOrder
from rnn_scratch.tasks.text import Text

TASKS: dict[str, type[Task]] = {
    "recall": Recall,
    "temporal_order": TemporalOrder,
    "names": Names,
    "text": Text,
    "adding": Adding,
    "series": Series,
}


def make_task(name: str, seq_len: int, **options: Any) -> Task:
    """The task called ``name`` at length ``seq_len``; ``options`` are its own fields (e.g. ``lag``)."""
    if name not in TASKS:
        raise ValueError(f"task: unknown task {name!r}; choose one of {', '.join(sorted(TASKS))}")
    return TASKS[name](seq_len=seq_len, **options)


__all__ = [
    "TASKS", "Adding", "Batch", "Names", "Recall", "Series", "Task", "TemporalOrder", "Text", "make_task",
]  # fmt: skip
