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
