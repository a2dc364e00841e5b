"""Write the tuned settings of finished tuning sweeps as committed configs of the ``tuned`` group.

    python scripts/write_tuned.py outputs/tune/recall_lstm_seq50 [more sweep folders...]

Each sweep folder is one ``python scripts/train.py -m +experiment=tune model=<cell> task=<task>``; its
best trial (Optuna's ``optimization_results.yaml``) becomes ``configs/tuned/<task>_<cell>_seq<T>.yaml``,
used as ``+tuned=<task>_<cell>_seq<T>`` (the contest preset does), and every trial (its settings,
objective, seeds solved, steps to solve) the table beside it, ``<task>_<cell>_seq<T>.trials.csv``. The
file's header gives the command that made the sweep, every override included. Prints the trials, the
best one and the tuning compute.

It refuses (one line, exit 2, nothing written) to overwrite a file that exists (a committed config:
the contest and ``+cell=rnn_tuned`` read it), and to write settings from a tuning in which no seed
solved (the best trial then only ranks final accuracies); --force does both.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from rnn_scratch.study.tuning import Tuning, read_tuning, trials_csv, tuned_yaml

ROOT = Path(__file__).resolve().parents[1]


def refusal(folder: Path, tuning: Tuning, path: Path, force: bool) -> str | None:
    """Why ``tuning`` may not be written to ``path``; None when it may."""
    if not tuning.finished or tuning.best is None:
        return f"error: sweeps: no optimization_results.yaml in {folder} (unfinished?)"
    if force:
        return None
    if tuning.best.solved == 0:
        return (
            f"error: sweeps: no tuning seed solved in {folder} ({len(tuning.trials)} trials): its best "
            "settings are a guess; tune longer (steps, hydra.sweeper.n_trials) or pass --force"
        )
    if path.exists():
        return f"error: --out: {path} exists (a committed config?); pass --force to overwrite it"
    return None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("sweeps", nargs="+", type=Path, help="tuning sweep folders")
    parser.add_argument("--out", type=Path, default=ROOT / "configs" / "tuned", help="where the YAMLs go")
    parser.add_argument(
        "--force", action="store_true", help="overwrite an existing file; write a tuning no seed solved"
    )
    args = parser.parse_args()
    tunings = []
    for folder in args.sweeps:  # every sweep checked before anything is written
        try:
            tuning = read_tuning(folder)
        except FileNotFoundError as error:
            print(f"error: sweeps: {error}", file=sys.stderr)
            return 2
        if problem := refusal(folder, tuning, args.out / f"{tuning.name}.yaml", args.force):
            print(problem, file=sys.stderr)
            return 2
        tunings.append(tuning)
    for folder, tuning in zip(args.sweeps, tunings, strict=True):
        source = Path(os.path.relpath(folder.resolve(), ROOT)).as_posix()
        path = args.out / f"{tuning.name}.yaml"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(tuned_yaml(tuning, source))
        path.with_suffix(".trials.csv").write_text(trials_csv(tuning))  # every trial, beside it
        for t in tuning.trials:
            mark = " <- best" if t is tuning.best else ""
            objective = "failed" if t.objective is None else f"{t.objective:.3f}"
            print(
                f"  trial {t.number:2d}: {objective} solved {t.solved}/{len(tuning.seeds)} {t.params}{mark}"
            )
        print(f"{tuning.name}: {len(tuning.trials)} trials, {tuning.compute_s:.0f} core-s -> {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
