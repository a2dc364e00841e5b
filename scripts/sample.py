"""Generate text with a model trained on ``task=text``: ``python scripts/sample.py RUN_DIR --length 300``.

Reads the run folder's ``checkpoint.pt`` (weights and the run's config, which names the text file the
alphabet comes from), then feeds the model's own samples back one character at a time.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

from rnn_scratch.models.classifier import build_model
from rnn_scratch.tasks import Text, make_task
from rnn_scratch.tasks.text import generate
from rnn_scratch.training.checkpoint import CHECKPOINT, load_checkpoint
from rnn_scratch.training.config import ConfigError, ModelConfig


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", type=Path, help="a run folder of task=text (holds checkpoint.pt)")
    parser.add_argument("--length", type=int, default=300, help="characters to generate")
    parser.add_argument("--temperature", type=float, default=0.8, help="<1 safer, >1 wilder, 0 greedy")
    parser.add_argument("--prime", default=None, help="start text (default: the held-out tail's start)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    try:
        if not (args.run_dir / CHECKPOINT).is_file():
            raise ConfigError("run_dir", f"no {CHECKPOINT} in {args.run_dir}")
        saved = load_checkpoint(args.run_dir / CHECKPOINT)
        cfg = saved["config"]
        options = {k: v for k, v in cfg["task"].items() if k != "name"}
        task = make_task(cfg["task"]["name"], cfg["seq_len"], **options)
        if not isinstance(task, Text):
            raise ConfigError("run_dir", f"{args.run_dir} trained task={cfg['task']['name']}, not text")
        model = build_model(
            ModelConfig(**cfg["model"]), task.input_size, cfg["hidden_size"], task.n_outputs, cfg["seq_len"]
        )
        model.load_state_dict(saved["model"])
        model.eval()
        prime = args.prime or task.decode(task.eval_set(1, torch.Generator()).x[0])
        generator = torch.Generator().manual_seed(args.seed)
        print(generate(model, task, prime, args.length, args.temperature, generator))
    except (ConfigError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
