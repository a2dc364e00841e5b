"""Command-line keys checked against the schema: an unknown key or group option is named with the closest
known one (``seq_lenn`` -> ``seq_len``), so a typo stops before any run starts.

``scripts/train.py`` parses the overrides (Hydra's parser) and ``rnn_scratch.training.cli.argv`` asks these
for each key; this module only reads the dataclasses of ``rnn_scratch.training.config`` (the library never
imports Hydra).
"""

from __future__ import annotations

import dataclasses
import difflib

from rnn_scratch.models.config import ModelConfig
from rnn_scratch.training.config import OptimConfig, TaskConfig, TrainConfig


def _fields(*classes: type) -> list[str]:
    return list(dict.fromkeys(f.name for c in classes for f in dataclasses.fields(c)))


TOP = _fields(TrainConfig)
NESTED = {
    "model": _fields(ModelConfig),
    "optim": _fields(OptimConfig),
    "task": _fields(TaskConfig, *TaskConfig.__subclasses__()),  # any task's keys (the task checks its own)
}


def _hint(name: str, known: list[str]) -> str:
    close = difflib.get_close_matches(name, known, n=1)
    return f"did you mean {close[0]}?" if close else f"known: {', '.join(known)}"


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
