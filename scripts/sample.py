"""Generate text with a model trained on ``task=text``: ``python scripts/sample.py RUN_DIR --length 300``.

Reads the run folder's ``checkpoint.pt`` (weights and the run's config, which names the text file the
alphabet comes from), then feeds the model's own samples back one character at a time
(``rnn_scratch.training.cli.sample``).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from rnn_scratch.training.cli.sample import sample_text
from rnn_scratch.training.config import ConfigError


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", type=Path, help="a run folder of task=text (holds checkpoint.pt)")
    parser.add_argument("--length", type=int, default=300, help="characters to generate")
    parser.add_argument("--temperature", type=float, default=0.8, help="<1 safer, >1 wilder, 0 greedy")
    parser.add_argument("--prime", default=None, help="start text (default: the held-out tail's start)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    try:
        print(sample_text(args.run_dir, args.length, args.temperature, args.prime, args.seed))
    except (ConfigError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
