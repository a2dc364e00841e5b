"""Rebuild the study: run each preset as a Hydra multirun, report it, write docs/study.md and docs/study/.

    python scripts/study.py                         # quick profile (3 seeds), every preset
    python scripts/study.py --only cells,stability  # some presets
    python scripts/study.py --profile full --launcher slurm   # 10 seeds, whole grids, on a cluster
    python scripts/study.py --report-only           # rebuild docs/ from outputs/study/, run nothing

Each preset's jobs go to outputs/study/<profile>/<preset>/<overrides>/. Running it again resumes: a job
whose folder holds a finished run of the same config is not re-run (skip_completed=true), an interrupted
one continues from its checkpoint, and jobs still missing or failed are listed in the page, never fatal.
Arguments after the options are Hydra overrides passed to every preset (e.g. hydra.launcher.n_jobs=4).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

from rnn_scratch.study import Preset, write_study

ROOT = Path(__file__).resolve().parents[1]

SMOKE = [
    "steps=4",
    "eval_every=2",
    "log_every=2",
    "eval_size=16",
    "batch_size=4",
    "hidden_size=4",
    "seed=0,1",
]

# The presets, in the page's order. quick: the preset's YAML as written (configs/experiment/<name>.yaml);
# each profile adds overrides; None: the preset does not run in that profile (its page section reports
# what runs it finds). A preset whose YAML does not exist yet is listed as not run.
PRESETS: dict[str, dict[str, list[str] | None]] = {
    "vanishing": {"full": ["seed=range(10)", "seq_len=5,10,25,50,100,200"], "smoke": [*SMOKE, "seq_len=4,8"]},
    "cells": {
        "full": ["seed=range(10)", "seq_len=10,25,50,100,200"],
        "smoke": [*SMOKE, "model=rnn,gru", "seq_len=4,8"],
    },
    # issue 20: each cell at its defaults and tuned (configs/tuned/), on fresh seeds; tuning used 100, 101
    "contest": {
        "full": ["seed=range(10)"],
        "smoke": [*SMOKE, "seq_len=12", "+tuned=default_rnn,recall_rnn_seq50"],
    },
    "stability": {"full": ["seed=range(10)"], "smoke": [*SMOKE, "optim.lr=0.05", "clip_relative=null,1.0"]},
    "adding": {"full": ["seed=range(10)", "seq_len=10,25,50,100,200"], "smoke": [*SMOKE, "model=rnn,gru"]},
    "hidden": {
        "full": ["seed=range(10)", "hidden_size=16,32,64,128,256"],
        "smoke": [*SMOKE, "hidden_size=4,8"],
    },
    "dynamics": {"full": ["seed=range(10)"], "smoke": SMOKE},  # issue 12
    "series": {"full": ["seed=range(10)"], "smoke": SMOKE},  # issue 13
    "horizon": {  # issue 21; full: a cluster (Slurm jobs checkpoint on SIGUSR2 and resume) or a GPU
        "full": ["seed=range(10)", "seq_len=10,20,50,100,200,500,1000", "steps=3000"],
        "smoke": [*SMOKE, "+cell=rnn,lstm", "seq_len=10,20"],
    },
    "literature": {"quick": None, "full": ["seed=range(10)"], "smoke": [*SMOKE, "+cell=lstm", "seq_len=10"]},
}
PROFILES = ("quick", "full", "smoke")


def run_preset(preset: Preset, profile: str, overrides: list[str]) -> tuple[int, float]:
    """One Hydra multirun into the preset's stable folder; (exit code, seconds)."""
    launcher = [] if any(o.startswith("hydra/launcher=") for o in overrides) else ["hydra/launcher=local"]
    command = [
        sys.executable, str(ROOT / "scripts" / "train.py"), "-m", f"+experiment={preset.name}",
        f"hydra.sweep.dir={preset.runs}", "skip_completed=true", *launcher,
        *(PRESETS.get(preset.name, {}).get(profile) or []), *overrides,
    ]  # fmt: skip
    print(f"[study] {preset.name}: {' '.join(command[1:])}", flush=True)
    started = time.perf_counter()
    proc = subprocess.run(command, cwd=ROOT, check=False)
    return proc.returncode, time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--profile", choices=PROFILES, default="quick")
    parser.add_argument("--only", default=None, help="comma-separated presets (default: all of PRESETS)")
    parser.add_argument("--launcher", default=None, help="a hydra/launcher option, e.g. slurm or joblib")
    parser.add_argument("--outputs", type=Path, default=ROOT / "outputs" / "study", help="runs go here")
    parser.add_argument("--docs", type=Path, default=ROOT / "docs", help="study.md and study/ go here")
    parser.add_argument("--report-only", action="store_true", help="do not run; report what is there")
    parser.add_argument("overrides", nargs="*", help="Hydra overrides for every preset")
    args = parser.parse_args()
    names = args.only.split(",") if args.only else list(PRESETS)
    overrides = [*([f"hydra/launcher={args.launcher}"] if args.launcher else []), *args.overrides]
    presets = []
    for name in names:
        preset = Preset(
            name, ROOT / "configs" / "experiment" / f"{name}.yaml", args.outputs / args.profile / name
        )
        if not preset.config.is_file():
            print(f"[study] {name}: no {preset.config.relative_to(ROOT)}; skipped", flush=True)
        elif PRESETS.get(name, {}).get(args.profile, []) is None:
            print(f"[study] {name}: not in the {args.profile} profile; skipped", flush=True)
        elif not args.report_only:
            preset.exit_code, preset.elapsed_s = run_preset(preset, args.profile, overrides)
        presets.append(preset)
    written = write_study(presets, args.docs, args.profile, overrides, root=ROOT)
    for path in written:
        print(f"[study] wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
