"""Summarise a finished sweep: a table and figures from what its jobs wrote; nothing is re-run.

    python scripts/report.py outputs/multirun/2026-01-31/12-00-00_vanishing
    python scripts/report.py outputs/multirun/2026-01-31/12-00-00_vanishing --out docs/figures

Writes summary.csv, grouped.csv, summary.md, accuracy.png, gradients.png, solved.png,
decay_vs_lyapunov.png and losses.png into the sweep folder (or --out). Jobs without metrics.json are
listed as missing, diverged ones as diverged; neither stops it. A tuning sweep (+experiment=tune) is
reported as tuning: its trials, their settings and objectives, the best, and a group per trial.
Ends with the sweep's line, as the sweep printed it (jobs finished and solved, or the tuning's).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from rnn_scratch.study.report import write_report
from rnn_scratch.training.results import sweep_lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("sweep_dir", type=Path, help="a multirun folder: outputs/multirun/<date>/<time>")
    parser.add_argument("--out", type=Path, default=None, help="where to write (default: sweep_dir)")
    args = parser.parse_args()
    if not args.sweep_dir.is_dir():
        print(f"error: {args.sweep_dir}: not a folder", file=sys.stderr)
        return 2
    try:
        written = write_report(args.sweep_dir, args.out)
    except FileNotFoundError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    for name, path in written.items():
        print(f"{name:>10}: {path}")
    print("\n".join(sweep_lines(args.sweep_dir)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
