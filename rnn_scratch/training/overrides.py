"""Command-line keys checked against the schema: an unknown key or group option is named with the closest
known one (``seq_lenn`` -> ``seq_len``, ``model=LSTM`` -> ``lstm``), and a value of the wrong type is
named with the type its key takes (``seq_len: must be an integer, got 'abc'``), so a typo stops before
any run starts.

``scripts/train.py`` parses the overrides (Hydra's parser) and ``rnn_scratch.training.cli.argv`` asks these
for each key; this module only reads the dataclasses of ``rnn_scratch.training.config`` (the library never
imports Hydra).
"""

from __future__ import annotations

import dataclasses
import difflib
import typing

from rnn_scratch.models.config import ModelConfig
from rnn_scratch.tasks import REGISTRY
from rnn_scratch.training.config import OptimConfig, TrainConfig


def _fields(*classes: type) -> list[str]:
    return list(dict.fromkeys(f.name for c in classes for f in dataclasses.fields(c)))


TOP = _fields(TrainConfig)
# task.<key> is checked once the task is known, against that task's keys (``tasks.registry.idle_setting``,
# asked by ``scripts/train.py`` for each job's composed config): a task named by a preset is only known then.
NESTED = {"model": _fields(ModelConfig), "optim": _fields(OptimConfig)}


def _hint(name: str, known: list[str]) -> str:
    """The closest known name, case aside (``LSTM`` -> ``lstm``: difflib alone finds no likeness)."""
    lower = {k.lower(): k for k in known}
    close = difflib.get_close_matches(name.lower(), list(lower), n=1)
    return f"did you mean {lower[close[0]]}?" if close else f"known: {', '.join(known)}"


def unknown_key(key: str) -> str | None:
    """``seq_lenn: unknown key (did you mean seq_len?)`` for a key the schema lacks, else None;
    ``key`` is dotted (``model.forget_bias``)."""
    head, _, rest = key.partition(".")
    if head not in TOP:
        return f"{key}: unknown key ({_hint(head, TOP)})"
    sub = rest.split(".")[0]
    if rest and head in NESTED and sub not in NESTED[head]:
        return f"{key}: unknown key of {head} ({_hint(sub, NESTED[head])})"
    return None


def unknown_option(group: str, value: str, options: list[str]) -> str:
    """``model=lstmm: no such option (did you mean lstm?)``."""
    return f"{group}={value}: no such option ({_hint(value, options)})"


# What a value of each schema type must look like on the command line.
KINDS = {int: "an integer", float: "a number", bool: "true or false", str: "a string"}


def field_type(key: str, task: str | None = None) -> object | None:
    """The schema's type of the dotted ``key`` (``task.<key>`` read from the config of ``task``, or of
    any task that has it); None for a key the schema lacks."""
    head, _, rest = key.partition(".")
    if not rest:
        return typing.get_type_hints(TrainConfig).get(head)
    groups: dict[str, list[type]] = {"model": [ModelConfig], "optim": [OptimConfig]}
    classes = groups.get(head, [])
    if head == "task":
        every = [r.config for r in REGISTRY.values()]
        classes = [c for c in every if c.name == task] + every
    for cls in classes:
        if (found := typing.get_type_hints(cls).get(rest)) is not None:
            return found
    return None


def describe(kind: object) -> str:
    """``int`` -> "an integer"; ``float | None`` -> "a number or null"; ``list[float]`` -> "a list of
    numbers"."""
    args = [a for a in typing.get_args(kind) if a is not type(None)]
    if typing.get_origin(kind) is list:
        plural = {"an integer": "integers", "a number": "numbers"}
        return "a list of " + plural.get(describe(args[0]), "values")
    if len(args) < len(typing.get_args(kind)):  # Optional
        return " or ".join(describe(a) for a in args) + " or null"
    return KINDS.get(kind, "a value of another type")  # type: ignore[call-overload]


def wrong_type(key: str, value: str, task: str | None = None) -> str:
    """``seq_len: must be an integer, got 'abc'``: what the schema asks of ``key``, beside the value as
    given on the command line."""
    kind = field_type(key, task)
    want = "of another type" if kind is None else describe(kind)
    return f"{key}: must be {want}, got {value!r}"
