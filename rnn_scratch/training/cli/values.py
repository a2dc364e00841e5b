"""Every value of a command line checked before its first job starts: the jobs whose configs to check.

Hydra's basic sweeper runs every combination of a sweep's values (``-m seq_len=10,50 clip=null,1.0`` is
4 jobs, each given ``key=value`` overrides). A bad value used to be found when its job started: after
the jobs before it had trained (or, side by side, killing them mid-run), with a folder and no summary
left. ``scripts/train.py`` composes and validates (``rnn_scratch.training.config.validate``) the configs
of the jobs ``jobs_to_check`` lists, with the same type conversion the job applies, and stops at the
first refused one with one line naming the key (exit 2) before Hydra writes anything.

Which jobs, for ``n`` combinations and ``c`` distinct compositions (a swept group, ``model=rnn,lstm``,
changes what Hydra composes; ``c`` is the product of the swept groups' sizes):

* every job when ``n <= EVERY_JOB`` and ``c <= COMPOSITIONS``: each job's config is the one it will
  run, so a value wrong only beside another (``task=temporal_order`` with ``seq_len=5``) is found too;
* else each value of each swept key with the other keys at their first value (``1 + sum (k_i - 1)``
  jobs for keys of ``k_i`` values): a value wrong on its own is found, which is what a typo is, while
  checking a product that may hold thousands of jobs would delay the first by minutes (a composition
  costs about 0.1 to 0.3 s; a plain key's value, set on a composed config, a few ms). A value wrong
  only in combination is then refused when its job starts, as before.

A setting given for a cell or task that does nothing for it (``model=rnn model.forget_bias=3``,
``task=recall_keys task.distractors=separate``) is refused too, in one line naming the key and the
model or task (the registries say what each reads: ``idle_settings``); in a sweep whose other jobs do
read it (``model=rnn,lstm model.forget_bias=3``) it is noted once instead (``idle_verdict``).
"""

from __future__ import annotations

import dataclasses
import itertools
import math
from collections.abc import Callable
from pathlib import Path

from rnn_scratch.errors import ConfigError
from rnn_scratch.models.registry import idle_setting as idle_model_setting
from rnn_scratch.tasks.registry import REGISTRY
from rnn_scratch.tasks.registry import idle_setting as idle_task_setting
from rnn_scratch.training.cli.argv import Override
from rnn_scratch.training.config import TrainConfig
from rnn_scratch.training.overrides import wrong_type

EVERY_JOB = 256  # about 1 s of checks at a few ms per job
COMPOSITIONS = 8  # distinct compositions checked when every job is (each a Hydra compose)

Setting = tuple[Override, str]  # an override and the one value a job gives its key
Job = tuple[Setting, ...]


def as_given(setting: Setting) -> str:
    """The override a job receives for ``setting`` (``+experiment=vanishing``, ``seq_len=10``), as
    Hydra's basic sweeper writes it: the key as given, with its ``+`` or ``@package``."""
    override, value = setting
    return f"{override.key_element or override.key}={value}"


def composes(override: Override, configs: Path) -> bool:
    """Whether ``override`` changes what Hydra composes (a group of ``configs/``, ``+key``, ``~key``,
    ``key@package``), so that a job of another value needs a composition of its own; a plain key's
    value is set on a composed config instead."""
    given = override.key_element or override.key
    return given.startswith(("+", "~")) or bool(override.package) or (configs / override.key).is_dir()


def swept_settings(overrides: list[Override]) -> list[Override]:
    """The overrides a job's config is made of, one per key, the last given winning at the place of the
    first (as the basic sweeper merges a preset's ``hydra.sweeper.params`` and the command line);
    Hydra's own keys (they shape no ``TrainConfig``) and sweeps Hydra alone can list (an interval,
    for Optuna) are left out."""
    by_key: dict[str, Override] = {}
    for o in overrides:
        if not o.hydra and o.values:
            by_key[o.key_element or o.key] = o
    return list(by_key.values())


def jobs_to_check(overrides: list[Override], composes: Callable[[Override], bool]) -> tuple[list[Job], bool]:
    """The jobs whose configs are checked (see the module's docstring) and whether they are every job of
    the sweep. ``composes(o)``: ``o`` changes what Hydra composes (a group, ``+key``, ``~key``), so a
    job of another value needs a composition of its own. The first job has every key at its first
    value (a single run: its only job)."""
    settings = swept_settings(overrides)
    choices = [[(o, v) for v in o.values or ()] for o in settings]
    n_jobs = math.prod(len(c) for c in choices)
    n_compositions = math.prod(len(c) for c in choices if composes(c[0][0]))
    if n_jobs <= EVERY_JOB and n_compositions <= COMPOSITIONS:
        return [tuple(job) for job in itertools.product(*choices)], True
    first = tuple(c[0] for c in choices)
    jobs = [first]
    for i, values in enumerate(choices):
        jobs += [(*first[:i], setting, *first[i + 1 :]) for setting in values[1:]]
    return jobs, False


def varied(job: Job) -> str:
    """The settings of ``job`` whose keys a sweep varies, ``task=temporal_order seq_len=5``: the job a
    one-line error names when more than one key is swept."""
    return " ".join(as_given(s) for s in job if s[0].sweep)


def refusal(error: Exception, job: Job, task: str | None) -> str | None:
    """The one line (without ``error: ``) that says why ``job``'s config was refused: a ``ConfigError``
    as it reads; a value Hydra or OmegaConf could not convert to its key's type (an exception in the
    chain carries the key as ``full_key``) as what that key takes (``overrides.wrong_type``: ``seq_len:
    must be an integer, got 'abc'``); None for anything else (Hydra reports that itself). ``task``:
    the job's task, whose config gives a ``task.<key>`` its type."""
    if isinstance(error, ConfigError):
        return str(error)
    cause: BaseException | None = error
    while cause is not None and getattr(cause, "full_key", None) is None:
        cause = cause.__cause__ or cause.__context__
    if cause is None:
        return None
    key = str(getattr(cause, "full_key", "")).split("[")[0]  # heatmap_range[0]: the list's key
    given = {o.key: value for o, value in job}
    return wrong_type(key, given.get(key, str(getattr(cause, "value", "?"))), given.get("task", task))


def unknown_task_key(key: str, task: str) -> ConfigError | None:
    """The error for ``task.<key>`` given for ``task`` whose config has no such field (``task=copy
    task.n_classes=8``: a key of the task chosen, not a wrong type), naming that task's keys; else None.
    ``key`` is dotted as given (``task.n_classes``)."""
    head, _, sub = key.partition(".")
    if head != "task" or not sub or task not in REGISTRY:
        return None
    if "." in sub or sub in {f.name for f in dataclasses.fields(REGISTRY[task].config)}:
        return None
    line = idle_task_setting(task, sub) or f"{key}: not a key of task={task}"
    return ConfigError(key, line.split(": ", 1)[1])


def idle_settings(job: Job, cfg: TrainConfig) -> dict[str, str | None]:
    """For each ``model.<key>`` and ``task.<key>`` ``job`` gives: the one line saying it does nothing for
    ``cfg``'s model or task (``model.forget_bias: does nothing for model=rnn (...)``), or None when it
    is read. The registries decide (``models.registry.idle_setting``, ``tasks.registry.idle_setting``)."""
    out: dict[str, str | None] = {}
    for override, _ in job:
        head, _, sub = override.key.partition(".")
        if override.hydra or not sub or "." in sub:
            continue
        if head == "model":
            out[override.key] = idle_model_setting(cfg.model.name, sub, cfg.model)
        elif head == "task" and cfg.task.name in REGISTRY:
            out[override.key] = idle_task_setting(cfg.task.name, sub)
    return out


def idle_verdict(found: dict[str, list[str | None]]) -> tuple[str | None, list[str]]:
    """From each checked job's ``idle_settings`` (key -> one line or None per job): the refusal (a key
    that does nothing in every job that gives it) and the notes (a key that does nothing in some jobs
    of a sweep whose other jobs read it), once each."""
    refused = next((lines[0] for lines in found.values() if lines and all(lines)), None)
    notes = [
        f"note: {next(line for line in lines if line)}; those jobs run as without it"
        for lines in found.values()
        if any(lines) and not all(lines)
    ]
    return refused, notes
