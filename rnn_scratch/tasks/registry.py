"""The task registry: a task's name, its ``Task`` class and its config dataclass, declared by its module.

A task module defines its config (a ``TaskConfig`` subclass whose ``name`` defaults to the task's name,
with the checks no type can express in ``check``) and registers its ``Task`` class with it::

    @dataclass
    class EchoConfig(TaskConfig):
        name: str = "echo"
        lag: int = 1

        def check(self, seq_len: int) -> None:
            if not 0 < self.lag < seq_len:
                raise ConfigError("task.lag", f"must be in (0, seq_len), got {self.lag}")

    @register_task(EchoConfig)
    @dataclass
    class Echo(Task): ...

Everything else reads the registry: ``make_task`` builds a task by name, the training config stores
every registered config as Hydra's schema ``schema/task/<name>`` and validates ``cfg.task`` with its
own ``check``. A task defined outside the package (a test, a notebook) registers the same way.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar, TypeVar

from rnn_scratch.errors import ConfigError
from rnn_scratch.tasks.base import Task

T = TypeVar("T", bound=type[Task])


@dataclass
class TaskConfig:
    """Base of the task group; ``name`` picks the task in ``TASKS``. Subclasses add the task's options
    (the keyword arguments of its ``Task`` class, but for ``seq_len``) and override ``check``."""

    name: str = "recall"
    # Fields of the config a named variant never reads (recall_keys: distractors, always the keys, and
    # n_distractors): a value given for one is refused (the task it varies takes the option).
    ignored: ClassVar[tuple[str, ...]] = ()

    def check(self, seq_len: int) -> None:
        """Ranges and combinations of the options; raise ``ConfigError("task.<key>", ...)`` on the first
        bad one. Whatever needs the data (files, their lengths) is checked when the task reads it."""

    @classmethod
    def claims(cls, saved: dict[str, Any]) -> bool:
        """Whether a run's saved task config (``metrics.json``, a checkpoint), written under another
        name, is this task: a variant named after runs of it were made (recall with keys distractors is
        ``recall_keys``). No task claims another's by default."""
        return False

    @classmethod
    def option_keys(cls) -> list[str]:
        """The options this task takes: its config's fields but ``name`` and those it ignores."""
        return [f.name for f in dataclasses.fields(cls) if f.name != "name" and f.name not in cls.ignored]


@dataclass(frozen=True)
class Registered:
    """A registered task: its class and its config dataclass."""

    task: type[Task]
    config: type[TaskConfig]


REGISTRY: dict[str, Registered] = {}
TASKS: dict[str, type[Task]] = {}  # name -> Task class, the registry's view that make_task reads


def register_task(config: type[TaskConfig]) -> Callable[[T], T]:
    """Class decorator: register the ``Task`` class under ``config``'s default ``name``.

    Registering the same pair again is a no-op (a module imported twice); another class under a taken
    name is a ``ValueError``."""
    name = config.name  # the dataclass default: the name a YAML of configs/task/ selects

    def decorate(cls: T) -> T:
        old = REGISTRY.get(name)
        if old is not None and (old.task.__qualname__, old.config.__qualname__) != (
            cls.__qualname__,
            config.__qualname__,
        ):
            raise ValueError(f"task {name!r} is already registered to {old.task.__qualname__}")
        REGISTRY[name] = Registered(cls, config)
        TASKS[name] = cls
        return cls

    return decorate


def as_named_now(saved: dict[str, Any]) -> dict[str, Any]:
    """A run's saved task config under the name its task has now (``TaskConfig.claims``), so a run made
    before a variant had its own name still reads as the same config; else ``saved`` as it is."""
    others = (n for n, r in REGISTRY.items() if n != saved.get("name") and r.config.claims(saved))
    claimed = next(others, None)
    return saved if claimed is None else {**saved, "name": claimed}


def idle_setting(task: str, key: str) -> str | None:
    """The one line refusing ``task.<key>`` given for ``task`` when the task does not take it: a key of
    no option of this task (named with its own keys, or the closest), or one its variant never reads
    (``task=recall_keys task.distractors=separate``); None when the task takes it."""
    config = REGISTRY[task].config
    if key == "name" or key in config.option_keys():
        return None
    takers = [n for n, r in REGISTRY.items() if key in r.config.option_keys()]
    verb = "takes" if len(takers) == 1 else "take"
    if key in config.ignored:
        other = f" (task={', '.join(takers)} {verb} it)" if takers else ""
        return f"task.{key}: does nothing for task={task}{other}"
    own = config.option_keys()
    close = difflib.get_close_matches(key, own, n=1)
    hint = f"did you mean {close[0]}?" if close else f"its keys: {', '.join(own)}" if own else "it takes none"
    other = f"; task={', '.join(takers)} {verb} it" if takers and not close else ""
    return f"task.{key}: not a key of task={task} ({hint}{other})"


def task_words(name: str) -> str:
    """What the pages call task ``name``: its class's ``words``, else the name itself."""
    found = TASKS.get(name)
    return (found.words if found is not None else "") or name


def min_length(name: str) -> int:
    """Task ``name``'s shortest sequence (its class's ``MIN_SEQ_LEN``; 1 for a task that sets none)."""
    found = TASKS.get(name)
    return int(found.MIN_SEQ_LEN) if found is not None else 1


def make_task(name: str, seq_len: int, **options: Any) -> Task:
    """The task called ``name`` at length ``seq_len``; ``options`` are its own fields (e.g. ``lag``)."""
    if name not in TASKS:
        raise ValueError(f"task: unknown task {name!r}; choose one of {', '.join(sorted(TASKS))}")
    return TASKS[name](seq_len=seq_len, **options)


def positive(key: str, value: float | None, allow_none: bool = False) -> None:
    """``ConfigError(key, ...)`` unless ``value`` is a finite number > 0 (or None, when allowed)."""
    if value is None and allow_none:
        return
    if value is None or not math.isfinite(value) or value <= 0:
        raise ConfigError(key, f"must be > 0, got {value}")


def fraction(key: str, value: float) -> None:
    """``ConfigError(key, ...)`` unless 0 < value < 1."""
    if not 0 < value < 1:
        raise ConfigError(key, f"must be in (0, 1), got {value}")
