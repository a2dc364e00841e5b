"""Text from a finished ``task=text`` run, for ``scripts/sample.py``: its model rebuilt from the run
folder's ``checkpoint.pt`` (weights, and the config that names the text file its alphabet comes from),
then fed its own samples one character at a time (``rnn_scratch.tasks.text.generate``)."""

from __future__ import annotations

from pathlib import Path

import torch

from rnn_scratch.errors import ConfigError
from rnn_scratch.tasks import Text
from rnn_scratch.tasks.text import generate
from rnn_scratch.training.checkpoint import load_trained


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
