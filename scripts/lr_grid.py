"""Choose each memory cell's learning rate per task on a log grid (issue 33; rnn_scratch/study/lr_grid.py).

    python scripts/lr_grid.py                                  # every (task, cell), most informative first
    python scripts/lr_grid.py --only recall_keys:gru copy:lstm

Each grid point trains the memory preset's run on the tuning seeds (100, 101) with one thread, one at a
time, into outputs/lr_grid/<task>_<cell>_seq<T>/lr_<lr>/ (a finished point is read back, not re-run), and
each finished (task, cell) writes configs/lr/<task>_<cell>.yaml and its .grid.csv.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from rnn_scratch.study.lr_grid import GRID, MAX_T, ORDER, choose_length, search, write_choice

ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    parser = argparse.ArgumentParser(description="Per-cell, per-task lr on a log grid (memory preset).")
    parser.add_argument("--only", nargs="+", default=None, help="task:cell pairs, run in this order")
    parser.add_argument("--summary", type=Path, default=ROOT / "docs" / "study" / "memory" / "summary.csv")
    parser.add_argument("--outputs", type=Path, default=ROOT / "outputs" / "lr_grid")
    parser.add_argument("--max-t", type=int, default=MAX_T)
    parser.add_argument(
        "--length",
        type=int,
        default=None,
        help="tune at this seq_len instead of the one chosen from the published runs",
    )
    parser.add_argument("--grid", default=None, help="comma list of lrs instead of the default grid")
    args = parser.parse_args()
    pairs = list(ORDER)
    try:
        grid = tuple(float(x) for x in args.grid.split(",")) if args.grid else GRID
    except ValueError:
        print(f"error: --grid: not a comma list of numbers: {args.grid}", file=sys.stderr)
        return 2
    if args.only:
        wanted = [tuple(p.split(":", 1)) for p in args.only]
        if bad := [":".join(p) for p in wanted if p not in ORDER]:
            print(f"error: --only: not a memory (task:cell) pair: {', '.join(bad)}", file=sys.stderr)
            return 2
        pairs = list(dict.fromkeys(wanted))  # in the order given
    for task, cell in pairs:
        try:
            T = args.length or choose_length(args.summary, task, cell, args.max_t)
        except ValueError as why:
            print(f"[lr] skipped: {why}", flush=True)
            continue
        points = search(ROOT, args.outputs, task, cell, T, grid)
        print(f"[lr] wrote {write_choice(ROOT / 'configs', task, cell, T, points)}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
