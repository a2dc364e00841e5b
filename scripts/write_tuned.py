"""Write the tuned settings of finished tuning sweeps as committed configs of the ``tuned`` group.

    python scripts/write_tuned.py outputs/tune/recall_lstm_seq50 [more sweep folders...]

Each sweep folder is one ``python scripts/train.py -m +experiment=tune model=<cell> seq_len=<T>``; its
best trial (Optuna's ``optimization_results.yaml``) becomes ``configs/tuned/<task>_<cell>_seq<T>.yaml``,
used as ``+tuned=<task>_<cell>_seq<T>`` (the contest preset does). Prints the trials, the best one and
the tuning compute.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from rnn_scratch.study.tuning import read_tuning, tuned_yaml

ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("sweeps", nargs="+", type=Path, help="tuning sweep folders")
    parser.add_argument("--out", type=Path, default=ROOT / "configs" / "tuned", help="where the YAMLs go")
    args = parser.parse_args()
    for folder in args.sweeps:
        if not (folder / "optimization_results.yaml").is_file():
            print(f"error: sweeps: no optimization_results.yaml in {folder} (unfinished?)", file=sys.stderr)
            return 2
        tuning = read_tuning(folder)
        source = Path(os.path.relpath(folder.resolve(), ROOT)).as_posix()
        path = args.out / f"{tuning.name}.yaml"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(tuned_yaml(tuning, source))
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
