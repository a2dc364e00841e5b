"""Checkpoints that make a resumed run identical to an uninterrupted one (bitwise, on the CPU).

A checkpoint holds everything the future of a run depends on: model and optimiser state, the step,
every random number generator (Python, NumPy, torch's CPU and CUDA generators and the task's data
stream), and the run's history (per-step losses, the gradient profile, the last metrics, wall time).
It is written atomically: to a temporary file first, then renamed over the old one, so a crash while
saving leaves the previous checkpoint intact.

Opening a checkpoint never runs code: it holds only tensors and plain Python values (the NumPy and Python
RNG states and NumPy arrays are written as tensors, lists and numbers), so it is read with
``torch.load(weights_only=True)``, which unpickles nothing else. A file that does not load that way (a
crafted pickle, a foreign or truncated file, a checkpoint from before this layout) or lacks the keys of
one is refused with a ``ConfigError`` naming it: the scripts print that one line and exit 2.
"""

from __future__ import annotations

import os
import random
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from rnn_scratch.errors import ConfigError
from rnn_scratch.models.classifier import build_model
from rnn_scratch.models.config import ModelConfig
from rnn_scratch.tasks import Task, make_task

CHECKPOINT = "checkpoint.pt"
KEYS = ("step", "model", "optimizer", "rng", "profile", "losses", "last", "wall_time", "config")


def rng_state(generator: torch.Generator) -> dict[str, Any]:
    """The state of every RNG a run draws from, as tensors and plain values (``weights_only`` reads it):
    Python's Mersenne Twister as (version, 625 ints, gauss), NumPy's as its named fields."""
    version, words, gauss = random.getstate()
    kind, keys, pos, has_gauss, cached = np.random.get_state()  # noqa: NPY002 - the legacy global RNG
    return {
        "python": {"version": version, "words": list(words), "gauss": gauss},
        "numpy": {
            "kind": str(kind),
            "keys": torch.from_numpy(np.asarray(keys, dtype=np.int64)),
            "pos": int(pos),
            "has_gauss": int(has_gauss),
            "cached": float(cached),
        },  # fmt: skip
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        "data": generator.get_state(),
    }


def set_rng_state(state: dict[str, Any], generator: torch.Generator) -> None:
    py, npy = state["python"], state["numpy"]
    random.setstate((py["version"], tuple(py["words"]), py["gauss"]))
    keys = npy["keys"].numpy().astype(np.uint32)
    np.random.set_state((npy["kind"], keys, npy["pos"], npy["has_gauss"], npy["cached"]))  # noqa: NPY002
    torch.set_rng_state(state["torch"])
    if state["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
    generator.set_state(state["data"])


def plain(value: Any, arrays: bool = False) -> Any:
    """``value`` with NumPy arrays as tensors and NumPy scalars as Python numbers (``arrays``: the other
    way, tensors back to arrays), through dicts, lists and tuples."""
    if isinstance(value, dict):
        return {k: plain(v, arrays) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(plain(v, arrays) for v in value)
    if arrays:
        return value.numpy() if isinstance(value, torch.Tensor) else value
    if isinstance(value, np.ndarray):
        return torch.from_numpy(value.copy())
    return value.item() if isinstance(value, np.generic) else value


def save_checkpoint(path: Path, state: dict[str, Any]) -> None:
    """``torch.save`` to ``path`` atomically, as tensors and plain values only."""
    tmp = path.with_name(path.name + ".tmp")
    torch.save(plain(state), tmp)
    os.replace(tmp, path)


def why(error: Exception) -> str:
    """The line of torch's (several-line) refusal that says what the file held."""
    boiler = ("Weights only load failed", "Please file", "Check the documentation", "Re-running")
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    said = [line for line in lines if not line.startswith(boiler)] or lines or [type(error).__name__]
    return said[0][:160]


def load_checkpoint(path: Path) -> dict[str, Any]:
    """A checkpoint read with ``weights_only=True`` (nothing in the file runs); the gradient profile's rows
    as NumPy arrays again. ``ConfigError`` naming the file when it is not one of ours."""
    try:
        with warnings.catch_warnings():  # torch warns of a foreign pickle protocol in several lines
            warnings.simplefilter("ignore")
            saved = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # noqa: BLE001 - whatever the file holds, the answer is one line
        raise ConfigError("checkpoint", f"{path}: refused, not a checkpoint of tensors and plain values "
                          f"(torch.load with weights_only=True: {why(error)})") from None  # fmt: skip
    missing = [k for k in KEYS if not isinstance(saved, dict) or k not in saved]
    if missing or not isinstance(saved["config"], dict) or not isinstance(saved["rng"], dict):
        raise ConfigError("checkpoint", f"{path}: refused, not a run's checkpoint (missing: "
                          f"{', '.join(missing) or 'its config or RNG state'})")  # fmt: skip
    saved["profile"] = plain(saved["profile"], arrays=True)
    return saved


def load_trained(run_dir: Path) -> tuple[nn.Module, Task, dict[str, Any]]:
    """(model in eval mode, task, config dict) of a run folder, as its last checkpoint left them.
    ConfigError when the folder holds no checkpoint."""
    if not (run_dir / CHECKPOINT).is_file():
        raise ConfigError("run_dir", f"no {CHECKPOINT} in {run_dir}")
    saved = load_checkpoint(run_dir / CHECKPOINT)
    cfg = saved["config"]
    options = {k: v for k, v in cfg["task"].items() if k != "name"}
    task = make_task(cfg["task"]["name"], cfg["seq_len"], **options)
    model = build_model(
        ModelConfig(**cfg["model"]), task.input_size, cfg["hidden_size"], task.n_outputs, cfg["seq_len"]
    )
    model.load_state_dict(saved["model"])
    return model.eval(), task, cfg
