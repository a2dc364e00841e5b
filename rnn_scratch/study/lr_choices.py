"""What each memory cell's learning rate rests on, read back from the choice ``scripts/lr_grid.py`` wrote.

``rnn_scratch.study.lr_grid`` writes, per task and cell, ``configs/lr/<task>_<cell>.yaml`` (the chosen
``optim.lr``, the length it was tuned at in its comment) and ``<task>_<cell>.grid.csv`` (every grid point:
lr, objective, seeds solved). This module reads them for a page to say, per cell: the lr, the grid it
came from, the length, how many tuning seeds it solved there, and whether it sits at the grid's edge or
rests on the tie-break alone (no grid point solved a tuning seed: the length was hopeless for every lr,
so the grid says nothing about the step size). Pure reading; it runs nothing.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from pathlib import Path

import yaml

TUNED_AT = re.compile(r"at\s*#?\s*seq_len (\d+)")  # "... (rnn_scratch/study/lr_grid.py) at\n# seq_len 20,"


@dataclass(frozen=True)
class LrChoice:
    """One cell's lr on one task and the grid it was chosen on."""

    lr: float
    grid: tuple[float, ...]  # every lr tried, ascending
    tuned_at: int | None  # seq_len of the tuning runs
    solved: int  # tuning seeds the chosen lr solved
    seeds: int  # tuning seeds per point
    informative: bool  # some grid point solved a tuning seed (else the choice is the tie-break's alone)

    @property
    def at_edge(self) -> bool:
        return self.lr in (self.grid[0], self.grid[-1])

    def words(self) -> str:
        """``0.01 of 0.001..0.1 (5 points) at seq_len 20: 2/2 tuning seeds solved; not at the edge``."""
        where = f" at seq_len {self.tuned_at}" if self.tuned_at else ""
        said = f"{self.lr:g} of {self.grid[0]:g}..{self.grid[-1]:g} ({len(self.grid)} points){where}: "
        said += f"{self.solved}/{self.seeds} tuning seeds solved"
        if not self.informative:
            return said + "; no grid point solved one, so the grid does not inform the lr (tie-break only)"
        return said + ("; at the grid's edge" if self.at_edge else "; not at the edge")


def lr_choice(configs: Path, task: str, cell: str) -> LrChoice | None:
    """The choice for ``cell`` on ``task`` (None where no grid was run: the cell's own or default lr)."""
    name = f"{task}_{cell}"
    chosen, table = configs / "lr" / f"{name}.yaml", configs / "lr" / f"{name}.grid.csv"
    if not (chosen.is_file() and table.is_file()):
        return None
    text = chosen.read_text()
    lr = float(((yaml.safe_load(text) or {}).get("optim") or {})["lr"])
    with table.open(newline="") as f:
        rows = list(csv.DictReader(f))
    points = {float(r["lr"]): r for r in rows}
    mine = points.get(lr) or min(points.items(), key=lambda kv: abs(kv[0] - lr))[1]
    found = TUNED_AT.search(text)
    return LrChoice(
        lr=lr,
        grid=tuple(sorted(points)),
        tuned_at=int(found.group(1)) if found else None,
        solved=int(mine["seeds_solved"]),
        seeds=len(mine["fresh_eval_acc"].split(";")),
        informative=any(int(r["seeds_solved"]) > 0 for r in rows),
    )
