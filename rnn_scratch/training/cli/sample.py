"""Text from a finished ``task=text`` run, for ``scripts/sample.py``: its model rebuilt from the run
folder's ``checkpoint.pt`` (weights, and the config that names the text file its alphabet comes from),
then fed its own samples one character at a time (``rnn_scratch.tasks.text.generate``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn

from rnn_scratch.errors import ConfigError
from rnn_scratch.models.classifier import build_model
from rnn_scratch.models.config import ModelConfig
from rnn_scratch.tasks import Task, Text, make_task
from rnn_scratch.tasks.text import generate
from rnn_scratch.training.checkpoint import CHECKPOINT, load_checkpoint


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


def sample_text(
    run_dir: Path, length: int, temperature: float = 0.8, prime: str | None = None, seed: int = 0
) -> str:
    """``prime`` (default: the start of the held-out tail) and ``length`` characters sampled from the
    model of the ``task=text`` run in ``run_dir`` at ``temperature`` (0: greedy), drawn with ``seed``.
    ConfigError for a folder without a checkpoint or of another task; ValueError for a prime outside
    the text's alphabet."""
    model, task, cfg = load_trained(run_dir)
    if not isinstance(task, Text):
        raise ConfigError("run_dir", f"{run_dir} trained task={cfg['task']['name']}, not text")
    prime = prime or task.decode(task.eval_set(1, torch.Generator()).x[0])
    return generate(model, task, prime, length, temperature, torch.Generator().manual_seed(seed))
