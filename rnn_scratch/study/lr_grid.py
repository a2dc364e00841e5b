"""Each cell at its own learning rate: the memory preset's lr per cell and task, chosen on a log grid.

One Adam step size for every cell measures the step size as much as the cell (issue 33). So per cell and
task the lr is chosen on ``GRID`` (1e-3 to 1e-1, half-decade steps), widened by half a decade at a time
(up to ``WIDEN`` times a side) while the best sits at an edge, by the tuning objective
(``rnn_scratch.training.tuning.score``: the budget left when solved, a pass counted only once the fresh
set confirms it, censored at the budget, + 0.01 x the fresh eval accuracy), mean over the tuning seeds
``TUNE_SEEDS`` (100, 101: the study reports seeds 0-9, never these). Every grid point is the memory
preset's run as it is (its budget, hidden size, clipping, eval schedule; the cell's init) with only
``optim.lr`` changed.

The length: one where the cell is neither trivially solved nor hopeless, read from the published runs
(``docs/study/memory/summary.csv``): of the lengths up to ``MAX_T`` (cost) where the cell ran, the one
whose success rate is closest to one half (ties: the more often solved, then the longer). A cell solved
in every run up to ``MAX_T`` but published longer is refused (trivially solved there: the objective would
rank speed alone; ``--max-t`` takes it longer); solved at every length it ran, it is tuned at the
longest; one that never solved, at the shortest.

The choice is written as config, ``configs/lr/<task>_<cell>.yaml`` (``optim.lr``, and the grid in its
comment), with the whole grid beside it, ``configs/lr/<task>_<cell>.grid.csv``. The study's planner
(``rnn_scratch.study.adaptive.run_rounds``) gives each memory job its file (``+lr=<task>_<cell>``).

    python scripts/lr_grid.py                      # every cell and task, most informative first
    python scripts/lr_grid.py --only recall_keys:gru copy:lstm
"""

from __future__ import annotations

import csv
import json
import math
import subprocess
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

GRID = (1e-3, 3e-3, 1e-2, 3e-2, 1e-1)
WIDEN = 2  # at most this many half-decades past each edge of GRID
TUNE_SEEDS = (100, 101)
MAX_T = 100  # the longest length tuned at (a grid point is 2 runs of up to 1500 steps, on one core)
# Most informative first: where the issue found the fixed lr hurting (the GRU on recall, the gated cells
# on copy), then the cells whose horizons sit in the grid, then the rest.
ORDER = (
    ("recall_keys", "gru"), ("copy", "lstm"), ("copy", "gru"), ("recall_keys", "indrnn"),
    ("recall_keys", "lstm"), ("temporal_order", "indrnn"), ("recall_keys", "irnn"),
    ("recall_keys", "rnn_orthogonal"), ("copy", "rnn_orthogonal"), ("recall_keys", "rnn"),
    ("temporal_order", "rnn"), ("temporal_order", "irnn"), ("temporal_order", "rnn_orthogonal"),
    ("copy", "rnn"), ("copy", "irnn"), ("copy", "indrnn"), ("temporal_order", "rnn_tuned"),
    ("copy", "rnn_tuned"), ("temporal_order", "lstm"), ("temporal_order", "gru"),
)  # fmt: skip
# Not ("recall_keys", "rnn_tuned"): on recall that cell is the tanh RNN at the settings tuned for it on
# this task (configs/tuned/recall_rnn_seq50.yaml, lr 4.4e-4), so its lr is its own. A grid there, at the
# seq_len 100 its earlier runs pointed to, solved no tuning seed at any lr and chose 0.3 by the tie-break.
COLUMNS = ("lr", "objective", "seeds_solved", "steps_to_solve", "fresh_eval_acc", "wall_time_s")


def lr_name(task: str, cell: str) -> str:
    """The config's name in the ``lr`` group: ``<task>_<cell>``."""
    return f"{task}_{cell}"


def lr_override(configs: Path, task: str, cell: str) -> str | None:
    """``+lr=<task>_<cell>`` where that choice was made (``configs/lr/<task>_<cell>.yaml``), else None."""
    return f"+lr={lr_name(task, cell)}" if (configs / "lr" / f"{lr_name(task, cell)}.yaml").exists() else None


def choose_length(summary: Path, task: str, cell: str, max_t: int = MAX_T) -> int:
    """The length to tune at (see the module docstring), from a published ``summary.csv``."""
    found: dict[int, list[bool]] = defaultdict(list)
    beyond: set[int] = set()  # published lengths past max_t
    with summary.open() as f:
        for row in csv.DictReader(f):
            if row.get("task") == task and row.get("cell") == cell and int(row["seq_len"]) > max_t:
                beyond.add(int(row["seq_len"]))
            elif row.get("task") == task and row.get("cell") == cell:
                fresh = row.get("fresh_eval_acc") or ""
                found[int(row["seq_len"])].append(
                    row["status"] == "solved" and bool(fresh) and float(fresh) >= 0.9
                )
    if not found:
        raise ValueError(f"{summary}: no published runs of cell {cell} on task {task} up to T = {max_t}")
    rate = {T: sum(v) / len(v) for T, v in found.items()}
    if min(rate.values()) == 1 and beyond:
        raise ValueError(
            f"cell {cell} on task {task} solved every published run up to T = {max_t} (trivially solved "
            f"there); tune it longer: --max-t {min(beyond)}"
        )
    # closest to one half; then the more often solved; then the longer where some seed solved, the
    # shorter where none did (a length every seed failed at is hopeless, the shortest the least so)
    return min(rate, key=lambda T: (abs(rate[T] - 0.5), -rate[T], -T if rate[T] > 0 else T))


def run_point(
    root: Path, out: Path, task: str, cell: str, T: int, lr: float, extra: tuple[str, ...] = ()
) -> dict[str, Any]:
    """One grid point: the memory preset's run at ``optim.lr=lr`` on every tuning seed (one thread),
    into ``out``; its ``objective.json`` (read back without running when it is there). ``extra``: more
    overrides (a test's small budget)."""
    done = out / "objective.json"
    if not done.exists():
        seeds = ",".join(str(s) for s in TUNE_SEEDS)
        budget = f"memory_{task}"  # the task's own budget, as the study runs it (configs/budget/)
        if (root / "configs" / "budget" / f"{budget}.yaml").exists():
            extra = (f"+budget={budget}", *extra)
        command = [
            sys.executable, str(root / "scripts" / "train.py"), "+experiment=memory", f"task={task}",
            f"+cell={cell}", f"seq_len={T}", f"optim.lr={lr:g}", f"tune_seeds=[{seeds}]", "threads=1",
            f"hydra.run.dir={out}", *extra,
        ]  # fmt: skip
        subprocess.run(command, cwd=root, check=True, stdout=subprocess.DEVNULL)
    found: dict[str, Any] = json.loads(done.read_text())
    return found


def grid_row(lr: float, objective: dict[str, Any]) -> dict[str, Any]:
    seeds = objective["seeds"].values()
    steps = ";".join("-" if s["steps_to_solve"] is None else str(s["steps_to_solve"]) for s in seeds)
    accs = ";".join("-" if s["fresh_eval_acc"] is None else f"{s['fresh_eval_acc']:.4f}" for s in seeds)
    return {
        "lr": f"{lr:.3g}", "objective": f"{objective['objective']:.4f}",
        "seeds_solved": sum(bool(s["solved"]) for s in seeds), "steps_to_solve": steps,
        "fresh_eval_acc": accs, "wall_time_s": f"{objective['wall_time_s']:.1f}",
    }  # fmt: skip


def half_decade(lr: float, direction: int) -> float:
    """The grid's next point past ``lr`` on the 1, 3, 10, 30, ... ladder (``direction`` +1 up, -1 down)."""
    exponent = math.floor(math.log10(lr) + 1e-9)
    one = lr / 10**exponent < 2  # lr = 1e^k (else 3e^k)
    if direction > 0:
        return (3.0 if one else 10.0) * 10**exponent
    return (0.3 if one else 1.0) * 10**exponent


def search(
    root: Path, outputs: Path, task: str, cell: str, T: int, grid: tuple[float, ...] = GRID
) -> dict[float, dict[str, Any]]:
    """Run ``grid`` for (task, cell) at length T, widening past an edge while the best sits there."""
    points: dict[float, dict[str, Any]] = {}

    def run(lr: float) -> None:
        out = outputs / f"{lr_name(task, cell)}_seq{T}" / f"lr_{lr:.3g}"  # no "=": Hydra's grammar
        points[lr] = run_point(root, out, task, cell, T, lr)
        print(f"[lr] {task} {cell} T={T} lr={lr:.3g}: objective {points[lr]['objective']:.4f}", flush=True)

    for lr in grid:
        run(lr)
    for _ in range(WIDEN):
        best = max(points, key=lambda lr: points[lr]["objective"])
        if best == min(points):
            run(half_decade(best, -1))
        elif best == max(points):
            run(half_decade(best, +1))
        else:
            break
    return dict(sorted(points.items()))


def write_choice(configs: Path, task: str, cell: str, T: int, points: dict[float, dict[str, Any]]) -> Path:
    """``configs/lr/<task>_<cell>.yaml`` (the chosen lr) and its ``.grid.csv`` (every grid point)."""
    best = max(points, key=lambda lr: points[lr]["objective"])
    edge = best in (min(points), max(points))
    folder = configs / "lr"
    folder.mkdir(parents=True, exist_ok=True)
    name = lr_name(task, cell)
    with (folder / f"{name}.grid.csv").open("w", newline="") as f:
        writer = csv.DictWriter(f, COLUMNS)
        writer.writeheader()
        writer.writerows(grid_row(lr, points[lr]) for lr in points)
    grid = [f"{lr:.3g}: {points[lr]['objective']:.3f}" for lr in points]
    seeds = ", ".join(str(s) for s in TUNE_SEEDS)
    solved_any = any(s["solved"] for p in points.values() for s in p["seeds"].values())
    lines = [
        "# @package _global_",
        f"# cell={cell} on task={task}: Adam's lr chosen on a log grid (rnn_scratch/study/lr_grid.py) at",
        f"# seq_len {T}, the memory preset's run otherwise, tuning seeds {seeds}, by the tuning objective",
        f"# (mean over seeds; every point in {name}.grid.csv). lr: objective:",
        *(f"#   {', '.join(grid[i : i + 5])}" for i in range(0, len(grid), 5)),
        "# At the grid's edge even after widening: the best lies beyond it."
        if edge
        else "# Not at the grid's edge.",
        *(
            []
            if solved_any
            else ["# No grid point solved a tuning seed: the choice rests on the tie-break (fresh eval acc)."]
        ),
        "optim:",
        f"  lr: {float(f'{best:.3g}')!r}",  # a float in YAML (1.0, not 1)
    ]
    path = folder / f"{name}.yaml"
    path.write_text("\n".join(lines) + "\n")
    return path
