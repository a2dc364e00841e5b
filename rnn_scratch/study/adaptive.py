"""An adaptive grid of lengths: spend runs where a cell's answer is still open.

A horizon study asks, per task and cell, at which length T the cell stops solving. A fixed Cartesian grid
wastes most of its runs: a cell that failed in every seed at T = 50 will fail at 1000 too, and between a
length every seed solved and one no seed solved the grid says nothing. So the lengths are chosen in rounds
(``plan``), from the outcomes so far:

1. **Coarse, upwards.** Each (task, cell) runs the profile's grid (e.g. 10, 20, 50, 100, ...) one length a
   round, every seed at once. After a length where *every* seed failed it stops: longer lengths are
   recorded as *not run*, never as failures.
2. **Refined around the transition.** The transition is the stretch from the last length every seed solved
   (or the shortest run) to the first length no seed solved (or the longest run, when some seed failed
   there). Between neighbouring lengths in it whose ratio exceeds ``MAX_RATIO`` = 1.5, geometric lengths
   are inserted until no ratio does: T_i = a (b / a)^(i / m), m = ceil(ln(b / a) / ln 1.5).

A length below a task's minimum (copy needs 21) is replaced by the minimum. ``run_rounds`` drives it: each
round is one Hydra multirun per (task, length) over the cells and seeds planned there (split by learning
rate: a cell whose lr was chosen for the task, ``configs/lr/<task>_<cell>.yaml``, runs with ``+lr=...``;
``rnn_scratch.study.lr_grid``), into the preset's folder with ``skip_completed=true``, so an interrupted
study resumes where it stopped. The lr is config, not a swept key: it stays out of the folder's name.
"""

from __future__ import annotations

import math
import shutil
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from rnn_scratch.study.lr_grid import lr_override
from rnn_scratch.study.runs import find_jobs, load_job
from rnn_scratch.tasks.registry import min_length

MAX_RATIO = 1.5


@dataclass(frozen=True)
class Tally:
    """The finished runs of one (task, cell, T): ``solved`` of ``n``."""

    solved: int
    n: int

    @property
    def all_solved(self) -> bool:
        return self.n > 0 and self.solved == self.n

    @property
    def none_solved(self) -> bool:
        return self.n > 0 and self.solved == 0


def task_grid(grid: Iterable[int], task: str) -> list[int]:
    """The profile's lengths for ``task``: ascending, any below the task's minimum replaced by it."""
    low = min_length(task)  # the task's own MIN_SEQ_LEN (copy: 21)
    return sorted({max(int(t), low) for t in grid})


def refine(a: int, b: int, max_ratio: float = MAX_RATIO) -> list[int]:
    """Integer lengths strictly between a < b, geometrically spaced, so that no neighbouring ratio in
    [a, ..., b] exceeds ``max_ratio`` (after rounding, a length is nudged inwards when it must be)."""
    if b <= a * max_ratio:
        return []
    m = math.ceil(math.log(b / a) / math.log(max_ratio) - 1e-12)
    out: list[int] = []
    while True:
        out = sorted({round(a * (b / a) ** (i / m)) for i in range(1, m)} - {a, b})
        points = [a, *out, b]
        if all(q <= p * max_ratio for p, q in zip(points, points[1:], strict=False)):
            return out
        m += 1  # rounding pushed a ratio over the limit: one more point


def next_lengths(grid: list[int], done: dict[int, Tally]) -> list[int]:
    """The lengths one (task, cell) runs next, given its finished tallies by length (``done``).

    Coarse first: the shortest grid length not yet run, unless a length run so far failed in every
    seed. Then the refinement of the transition. ``[]``: nothing left to run."""
    for T in grid:
        if T in done and done[T].none_solved:
            break  # every seed failed here: no longer length is run
        if T not in done:
            return [T]
    lengths = sorted(done)
    if not lengths:
        return []
    first_fail = next((T for T in lengths if done[T].none_solved), None)
    top = first_fail if first_fail is not None else lengths[-1]
    if first_fail is None and done[top].all_solved:
        return []  # solved everywhere it ran: no transition inside the grid
    solved_below = [T for T in lengths if top > T and all(done[s].all_solved for s in lengths if s <= T)]
    bottom = solved_below[-1] if solved_below else lengths[0]
    inside = [T for T in lengths if bottom <= T <= top]
    wanted = [t for a, b in zip(inside, inside[1:], strict=False) for t in refine(a, b)]
    return sorted(t for t in wanted if t not in done)


def tallies(runs: Path, seeds: int) -> dict[tuple[str, str], dict[int, Tally]]:
    """(task, cell) -> length -> Tally, from the finished jobs under ``runs`` (the preset's folder).
    A length counts as run once ``seeds`` of its jobs exist (finished or not), so a crashed job does not
    make the planner ask for it forever."""
    found: dict[tuple[str, str], dict[int, list[bool]]] = defaultdict(lambda: defaultdict(list))
    for folder in find_jobs(runs) if runs.is_dir() else []:
        job = load_job(folder)
        task, cell, T = job.overrides.get("task"), job.overrides.get("cell"), job.overrides.get("seq_len")
        if task is None or cell is None or T is None:
            continue
        found[(task, cell)][int(T)].append(job.solved if job.finished else False)
    return {
        key: {T: Tally(sum(runs_at), len(runs_at)) for T, runs_at in by_T.items() if len(runs_at) >= seeds}
        for key, by_T in found.items()
    }


def plan(
    tasks: list[str], cells: list[str], grid: list[int], seen: dict[tuple[str, str], dict[int, Tally]]
) -> dict[tuple[str, int], list[str]]:
    """The next round: (task, T) -> the cells to run there (every seed), from the tallies ``seen``."""
    out: dict[tuple[str, int], list[str]] = defaultdict(list)
    for task in tasks:
        for cell in cells:
            for T in next_lengths(task_grid(grid, task), seen.get((task, cell), {})):
                out[(task, T)].append(cell)
    return dict(out)


def split_list(override: str) -> tuple[str, list[str]]:
    """``"+cell=a,b"`` -> ("cell", ["a", "b"]); ``"seed=range(5)"`` -> ("seed", ["0", ..., "4"])."""
    key, _, value = override.partition("=")
    value = value.strip()
    if value.startswith("range(") and value.endswith(")"):
        bounds = [int(v) for v in value[len("range(") : -1].split(",")]
        return key.lstrip("+~"), [str(v) for v in range(*bounds)]
    return key.lstrip("+~"), [v.strip() for v in value.split(",") if v.strip()]


SWEPT = ("task", "cell", "seq_len", "seed")  # what the planner chooses; every other override is fixed
NOT_IN_NAME = (
    "experiment",
    "name",
    "device",
    "hydra.launcher.n_jobs",
    "skip_completed",
)  # configs/train.yaml


def adaptive_sweep(params: dict[str, str], overrides: list[str]) -> tuple[dict[str, list[str]], list[str]]:
    """Split a preset's sweep ``params`` (its YAML's ``hydra.sweeper.params``) and the study's
    ``overrides`` into the planner's lists (``SWEPT``, overrides winning) and the fixed overrides."""
    sweep = {key.lstrip("+~"): split_list(f"{key}={value}")[1] for key, value in params.items()}
    fixed = []
    for override in overrides:
        key, values = split_list(override)
        if key in SWEPT:
            sweep[key] = values
        else:
            fixed.append(override)
    if missing := [key for key in SWEPT if key not in sweep]:
        raise ValueError(f"an adaptive preset sweeps {', '.join(SWEPT)}; missing: {', '.join(missing)}")
    return sweep, fixed


def seed_from(source: Path, runs: Path) -> int:
    """Copy the finished job folders of ``source`` (e.g. the quick profile's) into ``runs`` where ``runs``
    lacks them, so a longer profile resumes from a shorter one's runs; returns how many were copied."""
    copied = 0
    for folder in find_jobs(source) if source.is_dir() else []:
        target = runs / folder.relative_to(source)
        if folder != source and not target.exists() and load_job(folder).finished:
            shutil.copytree(folder, target)
            copied += 1
    if copied:
        print(f"[study] {runs.name}: {copied} finished runs copied from {source}", flush=True)
    return copied


def by_lr(configs: Path, task: str, cells: list[str]) -> dict[str | None, list[str]]:
    """The cells of one multirun split by their learning rate's override: ``+lr=<task>_<cell>`` where
    ``configs/lr/<task>_<cell>.yaml`` holds the lr chosen for them (``rnn_scratch.study.lr_grid``), None
    (the preset's lr, or a tuned cell's own) where none was chosen yet."""
    out: dict[str | None, list[str]] = defaultdict(list)
    for cell in cells:
        out[lr_override(configs, task, cell)].append(cell)
    return dict(out)


def run_rounds(
    preset: str, runs: Path, sweep: dict[str, list[str]], fixed: list[str], script: Path, cwd: Path,
    max_rounds: int = 50,
) -> int:  # fmt: skip
    """Run ``preset`` adaptively into ``runs``: ``sweep`` holds the lists of ``task``, ``cell``,
    ``seq_len`` (the coarse grid) and ``seed``; ``fixed`` the other overrides (launcher, budget). Returns
    the worst exit code of the multiruns (0: all fine; failed jobs are the page's to list)."""
    tasks, cells, seeds = sweep["task"], sweep["cell"], sweep["seed"]
    grid = [int(t) for t in sweep["seq_len"]]
    worst, started = 0, time.perf_counter()
    # Every job folder is named by the four planned keys (a round fixes some of them, and scripts/train.py
    # would leave a single-valued key out of the name): task, cell, seq_len and seed; nothing else.
    hidden = [
        *NOT_IN_NAME,
        "lr",
        *(split_list(o)[0] for o in fixed if not o.startswith(("hydra.", "hydra/"))),
    ]
    naming = f"hydra.job.config.override_dirname.exclude_keys=[{','.join(dict.fromkeys(hidden))}]"
    for round_no in range(1, max_rounds + 1):
        todo = plan(tasks, cells, grid, tallies(runs, len(seeds)))
        if not todo:
            print(f"[study] {preset}: adaptive grid done after {round_no - 1} rounds", flush=True)
            return worst
        said = "; ".join(f"{task} T={T}: {','.join(c)}" for (task, T), c in sorted(todo.items()))
        print(
            f"[study] {preset} round {round_no} ({time.perf_counter() - started:.0f} s): {said}", flush=True
        )
        for (task, T), todo_cells in sorted(todo.items()):
            for lr, lr_cells in by_lr(cwd / "configs", task, todo_cells).items():
                command = [
                    sys.executable, str(script), "-m", f"+experiment={preset}", f"hydra.sweep.dir={runs}",
                    f"task={task}", f"seq_len={T}", f"+cell={','.join(lr_cells)}", f"seed={','.join(seeds)}",
                    *([lr] if lr else []), *fixed, naming,
                ]  # fmt: skip
                code = subprocess.run(command, cwd=cwd, check=False).returncode
                worst = max(worst, code)
        if todo == plan(tasks, cells, grid, tallies(runs, len(seeds))):
            print(f"[study] {preset}: the same round again (jobs failing?); stopping", flush=True)
            return max(worst, 1)
    return worst
