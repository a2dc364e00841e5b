"""Checkpoints that make a resumed run identical to an uninterrupted one (bitwise, on the CPU).

A checkpoint holds everything the future of a run depends on: model and optimiser state, the step,
every random number generator (Python, NumPy, torch's CPU and CUDA generators and the task's data
stream), and the run's history (per-step losses, the gradient profile, the last metrics, wall time).
It is written atomically: to a temporary file first, then renamed over the old one, so a crash while
saving leaves the previous checkpoint intact.
"""

from __future__ import annotations

import os
import random
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


def rng_state(generator: torch.Generator) -> dict[str, Any]:
    """The state of every RNG a run draws from."""
    return {
        "python": random.getstate(),
        "numpy": np.random.get_state(),  # noqa: NPY002 - the legacy global RNG, as seeded
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        "data": generator.get_state(),
    }


def set_rng_state(state: dict[str, Any], generator: torch.Generator) -> None:
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])  # noqa: NPY002
    torch.set_rng_state(state["torch"])
    if state["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
    generator.set_state(state["data"])


def save_checkpoint(path: Path, state: dict[str, Any]) -> None:
    """``torch.save`` to ``path`` atomically."""
    tmp = path.with_name(path.name + ".tmp")
    torch.save(state, tmp)
    os.replace(tmp, path)


def load_checkpoint(path: Path) -> dict[str, Any]:
    # Our own files: they hold NumPy and Python RNG states, which weights_only=True would refuse.
    return torch.load(path, map_location="cpu", weights_only=False)


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
