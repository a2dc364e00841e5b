"""Tasks: where sequences and their targets come from. ``make_task`` builds one by name.

Synthetic (generated from the seed): recall (and recall_keys), temporal_order, adding, copy. Real data,
read from files: names (language of a name), text (next character of a text file), series (forecast a
CSV column).

Each task is one module that defines its ``Task`` class, its config dataclass (with its own checks)
and its solved rule, and registers them (``rnn_scratch.tasks.registry``); the imports below fill the
registry, and ``TASKS`` / ``REGISTRY`` are what the rest of the code reads. A new task is its module,
one import line here, and its YAML in ``configs/task/``.

May import: ``errors`` only (and torch, numpy). A task knows nothing of the model or the loop.
"""

from __future__ import annotations

from rnn_scratch.tasks.adding import Adding, AddingConfig
from rnn_scratch.tasks.base import Batch, Task, supervised_positions
from rnn_scratch.tasks.copy import Copy, CopyConfig
from rnn_scratch.tasks.names import Names, NamesConfig
from rnn_scratch.tasks.registry import REGISTRY, TASKS, TaskConfig, make_task, register_task
from rnn_scratch.tasks.series import Series, SeriesConfig
from rnn_scratch.tasks.synthetic import (
    Recall,
    RecallConfig,
    RecallKeys,
    RecallKeysConfig,
    TemporalOrder,
    TemporalOrderConfig,
)
from rnn_scratch.tasks.text import Text, TextConfig

__all__ = [
    "REGISTRY", "TASKS", "Adding", "AddingConfig", "Batch", "Copy", "CopyConfig", "Names", "NamesConfig",
    "Recall", "RecallConfig", "RecallKeys", "RecallKeysConfig", "Series", "SeriesConfig", "Task",
    "TaskConfig", "TemporalOrder", "TemporalOrderConfig", "Text", "TextConfig", "make_task", "register_task",
    "supervised_positions",
]  # fmt: skip
