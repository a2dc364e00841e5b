"""Hidden-state dynamics of finished runs: ``python scripts/analyze.py RUN_DIR [RUN_DIR ...]``.

For each run folder (it holds ``checkpoint.pt``): rebuild the model and its eval set, then measure the
memory (linear probes), the Lyapunov spectrum and Jacobian products, the state trajectories (PCA) and
the fixed points of the autonomous cell. Writes ``dynamics.json``, ``memory.png``, ``lyapunov.png`` and
``trajectories.png`` into ``RUN_DIR/dynamics/`` (or ``--out/<i>_<run name>/``), and with several runs
``compare.png``: one row per run, side by side. ``--depth`` adds ``gradient_depth.png``: the gradient
probe over time and layer, a panel per run (``rnn_scratch.study.depth``). See docs/dynamics.md for how to
read them.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

from rnn_scratch.study.analyze import analyze, compare_figure, plt, to_json, write_run
from rnn_scratch.study.depth import depth_figure
from rnn_scratch.training.config import ConfigError


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dirs", type=Path, nargs="+", help="run folders (each holds checkpoint.pt)")
    parser.add_argument("--out", type=Path, default=None, help="write here instead of RUN_DIR/dynamics/")
    parser.add_argument(
        "--fixed-input", choices=("mean", "zero"), default="mean",
        help="the constant input of the autonomous cell whose fixed points are searched",
    )  # fmt: skip
    parser.add_argument("--seed", type=int, default=0, help="fixed-point starts, Lyapunov directions")
    parser.add_argument("--depth", action="store_true", help="also gradient_depth.png: time x layer")
    args = parser.parse_args()
    torch.set_num_threads(1)
    try:
        results = []
        for i, run_dir in enumerate(args.run_dirs):
            result = analyze(run_dir, args.fixed_input, args.seed)
            out = run_dir / "dynamics" if args.out is None else args.out / f"{i}_{run_dir.name}"
            write_run(result, out)
            summary = to_json(result)
            fixed = summary["fixed_points"]
            print(
                f"{run_dir}: {result['model']} seq_len={result['seq_len']} eval_acc={result['eval_acc']} "
                f"target_{result['target_metric']}(first, last)=({summary['target_score'][0]:.2f}, "
                f"{summary['target_score'][-1]:.2f}) MC={summary['memory_capacity']:.2f} "
                f"lyapunov_max={summary['lyapunov_max']:.3f} fixed_points={fixed['count']} "
                f"(stable {fixed['stable']}, saddle {fixed['saddle']}; min q {fixed['min_speed']:.1e}) "
                f"-> {out}"
            )
            results.append(result)
        if len(results) > 1:
            out = args.out or args.run_dirs[0] / "dynamics"
            fig = compare_figure(results)
            fig.savefig(out / "compare.png")
            plt.close(fig)
            print(f"side by side: {out / 'compare.png'}")
        if args.depth:
            out = args.out or args.run_dirs[0] / "dynamics"
            fig = depth_figure(args.run_dirs)
            fig.savefig(out / "gradient_depth.png")
            plt.close(fig)
            print(f"gradient over time and layer: {out / 'gradient_depth.png'}")
    except (ConfigError, ValueError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
