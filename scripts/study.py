"""Rebuild the study: run each preset as a Hydra multirun, report it, write docs/study.md and docs/study/.

    python scripts/study.py                         # quick profile (3-5 seeds), every preset
    python scripts/study.py --only cells,stability  # some presets; pages: outputs/study/quick/pages/
    python scripts/study.py --profile full --launcher slurm   # 10 seeds, whole grids, on a cluster
    python scripts/study.py --report-only           # rebuild docs/ from outputs/study/, run nothing
    python scripts/study.py --profile smoke         # a pipeline check (12 min beside 3 jobs); pages: outputs/
    python scripts/study.py --profile long          # the memory horizons to T = 1000: its sections of docs/
    python scripts/study.py --verify 20             # re-run 20 published jobs: outcomes exact, floats to 1e-4
    python scripts/study.py --verify 2 --random     # 2 drawn among quick jobs at this code version (CI)
    python scripts/study.py --only horizon --publish  # one preset again: its page and folder in docs/
    python scripts/study.py --plan                  # run nothing: what is published at this version, missing
    python scripts/study.py --certify --only cells  # re-run the cheapest job per cell and task: certified
    python scripts/study.py --time-budget 2h        # the missing jobs, headline first, until 2 h; publish
    python scripts/study.py --time-budget 2h --workers 2   # two jobs at once (a core each)
    python scripts/study.py --time-budget 1h --jobs '*seq_len=1020*'   # only the missing jobs named so

--time-budget resumes from what is published rather than from outputs/: see rnn_scratch/study/budget.py.

Only the published profiles (quick, full) run over every preset with no result-changing override write
the published study into docs/ (and the README's headline figure, docs/study/headline.png). The opt-in
profile long runs only the presets that name it (memory), starting from their quick runs, and writes
only their pages, docs/study/<preset>.md (and their folders, and the headline they draw); the front page
docs/study.md is rendered again from every preset's findings.json. Each run records
its code version; a page whose runs mix versions is not published (--allow-mixed publishes it, saying so),
and a finished job of other code is re-run, not skipped (its old files kept under superseded/). Any other
run (the smoke profile, --only, a key=value override) writes its pages under
outputs/study/<profile>/pages/ unless --docs names a folder.

The presets, their page order and what each profile adds to them are the `# @study` blocks of their YAMLs
(configs/experiment/<name>.yaml; rnn_scratch/study/presets.py). Each preset's jobs go to
outputs/study/<profile>/<preset>/<overrides>/. Running it again resumes: a job
whose folder holds a finished run of the same config is not re-run (skip_completed=true), an interrupted
one continues from its checkpoint, and jobs still missing or failed are listed in the page, never fatal.
Arguments after the options are Hydra overrides passed to every preset (e.g. hydra.launcher.n_jobs=4).
"""

from __future__ import annotations

import argparse
import random
import subprocess
import sys
import time
from pathlib import Path

import yaml

from rnn_scratch.study import Preset, update_study, write_study
from rnn_scratch.study.adaptive import adaptive_sweep, run_rounds, seed_from
from rnn_scratch.study.budget import spend
from rnn_scratch.study.certify import certify
from rnn_scratch.study.forecast import new_jobs
from rnn_scratch.study.ledger import plan, priority, seconds
from rnn_scratch.study.presets import OPT_IN, PROFILES, PUBLISHED, merge_overrides, study_presets
from rnn_scratch.study.resume import Todo, missing_jobs
from rnn_scratch.study.verify import mixed_pages, pick_random, published_jobs, round_robin, verify
from rnn_scratch.training.version import code_version

ROOT = Path(__file__).resolve().parents[1]
EXPERIMENTS = ROOT / "configs" / "experiment"  # a preset with a ``# @study`` block is in the study


def pages_folder(args: argparse.Namespace) -> Path:
    """Where the pages go: --docs if given; docs/ for a whole published profile (quick, full: every
    preset, no override but hydra.*); else <outputs>/<profile>/pages, so no ad-hoc run touches docs/."""
    if args.docs is not None:
        return Path(args.docs)
    published = args.profile in PUBLISHED and (not args.only or args.publish)
    if published and all(o.startswith(("hydra.", "hydra/")) for o in args.overrides):
        return ROOT / "docs"
    return Path(args.outputs) / args.profile / "pages"


def run_preset(preset: Preset, profile: str, overrides: list[str]) -> tuple[int, float]:
    """The preset's Hydra multiruns into its stable folder, one per sweep of the profile (``Preset.
    sweeps``: a subfolder each; an adaptive preset: its rounds of multiruns,
    ``rnn_scratch.study.adaptive``); (the first non-zero exit code or 0, seconds)."""
    launcher = [] if any(o.startswith("hydra/launcher=") for o in overrides) else ["hydra/launcher=local"]
    codes, seconds = [], 0.0
    for name, own in (preset.sweeps(profile) or {}).items():
        extra = merge_overrides(["skip_completed=true"], launcher, own, overrides)
        code, took = run_sweep(preset, preset.runs / name if name else preset.runs, extra)
        codes.append(code)
        seconds += took
    return next((c for c in codes if c), 0), seconds


def run_sweep(preset: Preset, runs: Path, extra: list[str]) -> tuple[int, float]:
    """One multirun of ``preset`` into ``runs``; (exit code, seconds)."""
    if preset.study.grid == "adaptive":
        started = time.perf_counter()
        params = (yaml.safe_load(preset.config.read_text()) or {}).get("hydra", {}).get("sweeper", {})
        sweep, fixed = adaptive_sweep(params.get("params", {}), extra)
        code = run_rounds(preset.name, runs, sweep, fixed, ROOT / "scripts" / "train.py", ROOT)
        return code, time.perf_counter() - started
    command = [
        sys.executable, str(ROOT / "scripts" / "train.py"), "-m", f"+experiment={preset.name}",
        f"hydra.sweep.dir={runs}", *extra,
    ]  # fmt: skip
    print(f"[study] {preset.name}: {' '.join(command[1:])}", flush=True)
    started = time.perf_counter()
    code = subprocess.run(command, cwd=ROOT, check=False).returncode
    return code, time.perf_counter() - started


def plan_or_certify(args: argparse.Namespace, names: list[str], overrides: list[str]) -> int:
    """--plan: what docs/ publishes at this code version and what is missing, per preset of the profile;
    --certify: re-run a few jobs of each stale page and certify it where they are the same."""
    docs, now = args.docs or ROOT / "docs", code_version()["hash"]
    every = [Preset(n, EXPERIMENTS / f"{n}.yaml", args.outputs / args.profile / n) for n in names]
    mine = [p for p in every if p.config.is_file() and p.overrides(args.profile) is not None]
    jobs = published_jobs(docs, mine, args.profile)
    plans = plan(jobs, [p.name for p in mine], now, docs)
    if args.certify:
        stale = certify(plans, docs, ROOT / "scripts" / "train.py", ROOT)
        # each page says what its certified.json does, rendered from what docs/ publishes (not outputs/)
        update_study(mine, docs, args.profile, [], root=ROOT, table_only=True)
        return 1 if stale else 0
    print(f"[plan] profile {args.profile}, code version {now}: nothing is run")
    never, todo_s, todo_n = 0, 0.0, 0
    for found, preset in zip(plans, mine, strict=True):
        todo = missing_jobs(preset, args.profile, overrides, docs, now, ROOT)
        new = [t for t in todo if t.why == "never run"]
        cost = sum(t.estimate_s or 0.0 for t in todo)
        never, todo_s, todo_n = never + len(new), todo_s + cost, todo_n + len(todo)
        what = "its next round" if preset.study.grid == "adaptive" else "its grid"
        nxt = (
            f"; --time-budget runs {len(todo)} jobs of {what} ({len(new)} never run), about {cost:.0f} s"
            if todo
            else ""
        )
        print(f"[plan] {found.line()}{nxt}")
    missing = sum(len(p.missing) for p in plans)
    seconds = sum(p.core_seconds() for p in plans)
    published = sum(len(p.published) for p in plans)
    print(f"[plan] {published} jobs published at {now}, {missing} missing: about {seconds:.0f} core-s "
          f"({seconds / 3600:.1f} core-h) from their published wall times")  # fmt: skip
    order = ", ".join(p.name for p in priority(mine))
    print(f"[plan] --time-budget would run {todo_n} jobs now ({never} never run; an adaptive preset's later "
          f"rounds follow from their results), about {todo_s:.0f} s, in this order: {order}")  # fmt: skip
    unheld = [n for p in mine if (n := new_jobs(p, args.profile, docs, ROOT / "configs")).jobs]
    for unpublished in unheld:
        print(f"[plan] new: {unpublished.line()}")
    if unheld:
        extra = sum(f.core_seconds for f in unheld)
        print(f"[plan] {sum(len(f.jobs) for f in unheld)} new jobs (no published row): about {extra:.0f} "
              f"core-s ({extra / 3600:.1f} core-h), each run to its budget at its cell's published cost per "
              "sequence step (rnn_scratch/study/forecast.py)")  # fmt: skip
    return 0


def estimated(jobs: list[Todo]) -> str:
    """``~120 s`` from the jobs' estimates; ``no estimate`` when none has one (nothing published)."""
    known = [j.estimate_s for j in jobs if j.estimate_s is not None]
    if not known:
        return "no estimate"
    unknown = len(jobs) - len(known)
    return f"~{sum(known):.0f} s" + (f", {unknown} without an estimate" if unknown else "")


def budgeted(args: argparse.Namespace, names: list[str], overrides: list[str]) -> int:
    """--time-budget: run the jobs missing at this code version, --workers at a time, in priority order,
    while their estimates fit, stop the running ones at the deadline, publish each finished job's row into
    its page's summary.csv and write each page's missing.csv (``rnn_scratch.study.budget``); 0, or 2 on a
    bad duration or worker count."""
    try:
        budget = seconds(args.time_budget)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if args.workers < 1:
        print(f"error: --workers: {args.workers} is not 1 or more jobs at once", file=sys.stderr)
        return 2
    every = [Preset(n, EXPERIMENTS / f"{n}.yaml", args.outputs / args.profile / n) for n in names]
    mine = [p for p in every if p.config.is_file() and p.overrides(args.profile) is not None]
    published = args.profile in PUBLISHED and all(o.startswith(("hydra.", "hydra/")) for o in overrides)
    docs = args.docs or (ROOT / "docs" if published else args.outputs / args.profile / "pages")
    now = code_version()["hash"]
    order = ", ".join(p.name for p in priority(mine))
    print(f"[study] --time-budget {args.time_budget} ({budget:.0f} s) at code version {now}, into {docs}; "
          f"presets in priority order: {order}", flush=True)  # fmt: skip
    spent = spend(mine, args.profile, overrides, docs, budget, ROOT, args.workers, args.jobs)
    left = {p: t for p, t in spent.missing.items() if t}
    words = "; ".join(f"{p} ({len(t)} jobs, {estimated(t)})" for p, t in left.items())
    stopped = f" (stopped at the deadline: {spent.stopped})" if spent.stopped else ""
    print(f"[study] --time-budget: {len(spent.published)} jobs published at {now}{stopped}; "
          f"still missing: {words or 'nothing'}", flush=True)  # fmt: skip
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--profile", choices=PROFILES, default="quick")
    parser.add_argument(
        "--only", default=None, help="comma-separated presets (default: every preset with a # @study block)"
    )
    parser.add_argument("--launcher", default=None, help="a hydra/launcher option, e.g. slurm or joblib")
    parser.add_argument("--outputs", type=Path, default=ROOT / "outputs" / "study", help="runs go here")
    parser.add_argument(
        "--docs", type=Path, default=None,
        help="study.md and study/ go here (default: docs/ for a whole quick or full study, "
        "else <outputs>/<profile>/pages)",
    )  # fmt: skip
    parser.add_argument("--report-only", action="store_true", help="do not run; report what is there")
    parser.add_argument(
        "--verify", default=None, metavar="N",
        help="run nothing else: re-run N published jobs of docs/ (all: every one), spread over the presets, "
        "and compare them: outcomes exactly, metrics within 1e-4 relative; exit 1 if any differs",
    )  # fmt: skip
    parser.add_argument(
        "--random", action="store_true",
        help="with --verify: draw the jobs at random among those published (or certified) at this code "
        "version that took under --max-wall seconds; none there: say so and exit 0",
    )  # fmt: skip
    parser.add_argument("--seed", type=int, default=None, help="--random's seed (default: drawn, printed)")
    parser.add_argument("--max-wall", type=float, default=60.0, help="--random: jobs faster than this (s)")
    parser.add_argument(
        "--publish", action="store_true",
        help="with --only on a published profile: write those presets' pages (docs/study/<preset>.md) again",
    )  # fmt: skip
    parser.add_argument(
        "--allow-mixed", action="store_true",
        help="publish pages whose runs come from more than one code version (the page says which)",
    )  # fmt: skip
    parser.add_argument(
        "--plan", action="store_true",
        help="run nothing: per preset, the jobs docs/ publishes at this code version, the jobs missing "
        "(stale or never finished) and the core-seconds they took",
    )  # fmt: skip
    parser.add_argument(
        "--certify", action="store_true",
        help="per preset not at this code version, re-run the cheapest published job of each cell and task; "
        "all the same (as --verify): the page is certified at this version; exit 1 if any stays stale",
    )  # fmt: skip
    parser.add_argument(
        "--time-budget", default=None, metavar="T",
        help="e.g. 2h: run the jobs missing at this code version (published rows count as done on any "
        "machine), --workers at a time, in priority order: the headline's preset (memory) first, then the "
        "presets whose claim rests on a contrast, then the rest, each in page order; a job starts only when "
        "its estimate (its published wall time or its nearest neighbour's) fits what is left; at T the "
        "running jobs are stopped (SIGTERM: checkpointed, not published). Each finished job's row joins its "
        "page's summary.csv; each page's missing.csv lists what is left. Pages are not rebuilt",
    )  # fmt: skip
    parser.add_argument(
        "--workers", type=int, default=1, metavar="N",
        help="with --time-budget: run up to N jobs at once, each on one torch thread (one per core); "
        "an adaptive preset's next round still waits for its round's rows",
    )  # fmt: skip
    parser.add_argument(
        "--jobs", default=None, metavar="GLOB",
        help="with --time-budget: only the missing jobs whose folder name matches GLOB (fnmatch), e.g. "
        "'+cell=lstm,*seq_len=1020,task=copy': the others stay missing, in missing.csv",
    )  # fmt: skip
    parser.add_argument("overrides", nargs="*", help="Hydra overrides for every preset")
    args = parser.parse_args()
    started = time.perf_counter()
    names = args.only.split(",") if args.only else study_presets(EXPERIMENTS)
    overrides = [*([f"hydra/launcher={args.launcher}"] if args.launcher else []), *args.overrides]
    if args.plan or args.certify:
        return plan_or_certify(args, names, overrides)
    if args.time_budget:
        return budgeted(args, names, overrides)
    if args.verify is not None:
        every = [Preset(n, EXPERIMENTS / f"{n}.yaml", args.outputs / args.profile / n) for n in names]
        docs = args.docs or ROOT / "docs"
        jobs = published_jobs(docs, every, args.profile)
        n = None if args.verify == "all" else int(args.verify)
        if args.random:
            seed = random.randrange(10**6) if args.seed is None else args.seed
            now = code_version()["hash"]
            picked = pick_random(jobs, len(jobs) if n is None else n, seed, {now}, args.max_wall)
            print(f"[verify] --random --seed {seed}: {len(picked)} of the published jobs at code version "
                  f"{now} that took under {args.max_wall:g} s", flush=True)  # fmt: skip
            if not picked:
                print(f"[verify] no published job is at code version {now}: nothing to verify until pages "
                      "are rebuilt or certified (scripts/study.py --certify)")  # fmt: skip
                return 0
        else:
            picked = round_robin(jobs, n)
            print(f"[verify] {len(picked)} of the {len(jobs)} published jobs", flush=True)
        return 1 if verify(picked, ROOT / "scripts" / "train.py", ROOT) else 0
    presets = []
    for name in names:
        preset = Preset(name, EXPERIMENTS / f"{name}.yaml", args.outputs / args.profile / name)
        if not preset.config.is_file():
            print(f"[study] {name}: no {preset.config.relative_to(ROOT)}; skipped", flush=True)
        elif preset.overrides(args.profile) is None:
            print(f"[study] {name}: not in the {args.profile} profile; skipped", flush=True)
            if args.profile in OPT_IN:
                continue  # an opt-in profile pages only its own presets (the others' sections stay)
        elif not args.report_only:
            if args.profile == "long":  # long extends quick: start from its finished runs
                seed_from(args.outputs / "quick" / name, preset.runs)
            preset.exit_code, preset.elapsed_s = run_preset(preset, args.profile, overrides)
        presets.append(preset)
    pages = pages_folder(args)
    if pages == ROOT / "docs" and not args.allow_mixed and (mixed := mixed_pages(presets)):
        print(f"error: {mixed}: runs of more than one code version; re-run them with this code, or "
              "publish with --allow-mixed (the page says which)", file=sys.stderr)  # fmt: skip
        return 2
    in_place = args.profile in OPT_IN or (args.only and args.publish)  # some sections, the rest kept
    write = update_study if in_place else write_study
    written = write(presets, pages, args.profile, overrides, root=ROOT)
    for path in written:
        print(f"[study] wrote {path}")
    if pages != ROOT / "docs":
        print(f"[study] pages: {pages / 'study.md'} (the published study in docs/ is left as it was)")
    print(f"[study] took {time.perf_counter() - started:.0f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
