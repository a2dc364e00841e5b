"""Which jobs of a preset are still to run at this code version, judged from what docs/ publishes.

A job is one run of a preset's sweep, named as Hydra names its folder: ``hydra.job.override_dirname``,
the job's task overrides sorted and joined by commas, less ``exclude_keys`` (``configs/train.yaml``), e.g.
``seed=0,seq_len=10``; that name is its row's ``job`` in ``docs/study/<preset>/summary.csv``. A job is
**done** when that row is a finished run (completed, solved, diverged) made by this code version, or by a
version the page is certified at (``ledger.certificate``); done on any machine, with no ``outputs/``.

* A grid preset's jobs are its Cartesian sweep for the profile, expanded as Hydra's basic sweeper expands
  it (``BasicSweeper.split_arguments``: the YAML's ``hydra.sweeper.params``, then the study's overrides,
  a key given twice at its last value), one sweep per subfolder (``Preset.sweeps``).
* An adaptive preset's (``rnn_scratch.study.adaptive``) are its planner's next round, planned from the
  published rows at this version: the tallies of (task, cell, T) are counted from those rows as
  ``adaptive.tallies`` counts them from job folders, so a fresh clone continues the rounds where the page
  left them. Only the next round is known; the rounds after it depend on its results.

``estimate`` says how long a job takes from published wall times: the same job's row (any version), else
its nearest neighbour's (fewest keys that differ, the seed aside, then the closest numbers on a log scale,
the slower of a tie), else None (nothing published for the preset).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
from hydra.core.override_parser.overrides_parser import OverridesParser

from rnn_scratch.study.adaptive import (
    NOT_IN_NAME,
    Tally,
    adaptive_sweep,
    budget_override,
    by_lr,
    offset,
    plan,
    split_list,
)
from rnn_scratch.study.presets import Preset, merge_overrides
from rnn_scratch.study.status import FINISHED, SUMMARY, UNRECORDED, coverage, read_table


@dataclass
class Todo:
    """One job to run: where its folder goes (``sweep_dir``/``name``) and the overrides that make it."""

    preset: str
    sweep_dir: Path  # hydra.sweep.dir: the preset's runs folder, or its subfolder for one sweep
    name: str  # its folder's name = its row's ``job``
    overrides: list[str]  # task overrides, every one single-valued
    hydra: list[str] = field(default_factory=list)  # hydra.* overrides (an adaptive preset's naming)
    estimate_s: float | None = None  # published wall time of it or its nearest neighbour
    why: str = "never run"  # or "stale (made by <version>)", "interrupted", ...

    @property
    def values(self) -> dict[str, str]:
        """Every key it sets -> its value (``+cell=lstm`` -> cell: lstm), the preset's name aside."""
        found = pairs(",".join(self.overrides))
        found.pop("experiment", None)
        return found

    def key(self, columns: list[str]) -> tuple[str, frozenset[tuple[str, str]]]:
        """Its identity on a page whose swept-key columns are ``columns`` (``row_key``)."""
        named = pairs(self.name)
        return self.name, frozenset((k, self.values.get(k, "")) for k in columns if k not in named)


def columns_of(rows: list[dict[str, str]]) -> list[str]:
    """A summary.csv's swept-key columns: those between ``job`` and ``status``."""
    fields = list(rows[0]) if rows else []
    return fields[1 : fields.index("status")] if "status" in fields else []


def row_key(row: dict[str, str], columns: list[str]) -> tuple[str, frozenset[tuple[str, str]]]:
    """A row's identity: its job name and the swept-key columns its name lacks (a preset run as several
    multiruns, e.g. one per task, names its jobs alike in each: ``+tuned=default_gru,seed=0``)."""
    named = pairs(row["job"])
    return row["job"], frozenset((k, row.get(k) or "") for k in columns if k not in named)


def row_values(row: dict[str, str], columns: list[str]) -> dict[str, str]:
    """Every key a row names (its job name's pairs and its swept-key columns) -> value."""
    return {**{k: row[k] for k in columns if row.get(k)}, **pairs(row["job"])}


def read_rows(docs: Path, preset: str) -> list[dict[str, str]]:
    """The rows of ``docs/study/<preset>/summary.csv`` ([] when there is none)."""
    return read_table(docs / "study" / preset / SUMMARY) or []


def exclude_keys(root: Path) -> list[str]:
    """``hydra.job.config.override_dirname.exclude_keys`` of ``configs/train.yaml``."""
    config = yaml.safe_load((root / "configs" / "train.yaml").read_text()) or {}
    found = config.get("hydra", {}).get("job", {}).get("config", {}).get("override_dirname", {})
    return list(found.get("exclude_keys", NOT_IN_NAME))


def dirname(overrides: list[str], exclude: list[str]) -> str:
    """Hydra's ``override_dirname`` of a job's task overrides: their text sorted, less ``exclude``."""
    parsed = OverridesParser.create().parse_overrides(overrides)
    return ",".join(sorted(str(o.input_line) for o in parsed if o.key_or_group not in exclude))


def is_hydra(override: str) -> bool:
    return override.lstrip("+~").startswith(("hydra.", "hydra/"))


def grid_jobs(preset: Preset, profile: str, overrides: list[str], root: Path) -> list[Todo]:
    """Every job of a grid preset's sweeps in ``profile`` (with the study's ``overrides``), in the
    sweeper's order, each named as ``scripts/train.py -m`` names it: by the keys its command line sweeps
    and the YAML's sweep params, a key given one value on the command line left out of the name
    (``rnn_scratch.training.cli.argv.name_jobs_by_swept_keys``)."""
    config = yaml.safe_load(preset.config.read_text()) or {}
    params = (config.get("hydra") or {}).get("sweeper", {}).get("params") or {}
    base, parser, out = exclude_keys(root), OverridesParser.create(), []
    for sub, own in (preset.sweeps(profile) or {}).items():
        task = [o for o in merge_overrides(own, overrides) if not is_hydra(o)]
        given = parser.parse_overrides([f"+experiment={preset.name}", "skip_completed=true", *task])
        last = {o.key_or_group: o for o in given}
        swept = {k for k, o in last.items() if o.is_sweep_override()}
        hidden = [k for k in dict.fromkeys([*base, *last]) if k not in swept]
        naming = f"hydra.job.config.override_dirname.exclude_keys=[{','.join(repr(k) for k in hidden)}]"
        lines = [f"{k}={v}" for k, v in params.items()] + [f"+experiment={preset.name}", *task]
        for batch in BasicSweeper.split_arguments(parser.parse_overrides(lines), None):
            for job in batch:
                mine = [o for o in job if not o.lstrip("+~").startswith("experiment=")]
                single = [f"+experiment={preset.name}", *mine]
                out.append(Todo(preset.name, preset.runs / sub if sub else preset.runs,
                                dirname(single, hidden), single, [naming]))  # fmt: skip
    return out


def row_tallies(rows: list[dict[str, str]], seeds: int) -> dict[tuple[str, str], dict[int, Tally]]:
    """``adaptive.tallies`` from published rows: (task, cell) -> T -> solved of n, a length counted once
    ``seeds`` of its rows are there. Solved is the row's ``solved`` column where the page has one (the
    study's count: a fresh eval can overturn a pass), else its status."""
    found: dict[tuple[str, str], dict[int, list[bool]]] = {}
    for row in rows:
        keys = dict(p.split("=", 1) for p in row["job"].split(",") if "=" in p)
        keys = {k.lstrip("+~"): v for k, v in keys.items()}
        task, cell, seq_len = keys.get("task"), keys.get("cell"), keys.get("seq_len")
        if task is None or cell is None or seq_len is None:
            continue
        solved = row["solved"] == "True" if row.get("solved") else row.get("status") == "solved"
        T = int(seq_len) - offset(task)  # the planner's axis (copy: Arjovsky's T = seq_len - 20)
        found.setdefault((task, cell), {}).setdefault(T, []).append(solved)
    return {
        key: {T: Tally(sum(runs), len(runs)) for T, runs in by_T.items() if len(runs) >= seeds}
        for key, by_T in found.items()
    }


def adaptive_jobs(
    preset: Preset, profile: str, overrides: list[str], root: Path, done: list[dict[str, str]]
) -> list[Todo]:
    """The next round of an adaptive preset, planned from its rows ``done`` at this version: one Todo
    per (task, T, cell, seed), named and run as ``adaptive.run_rounds`` names and runs them."""
    config = yaml.safe_load(preset.config.read_text()) or {}
    params = (config.get("hydra") or {}).get("sweeper", {}).get("params") or {}
    extra = merge_overrides(*(preset.sweeps(profile) or {}).values(), overrides)
    sweep, fixed = adaptive_sweep(params, extra)
    seeds, grid = sweep["seed"], [int(t) for t in sweep["seq_len"]]
    todo = plan(sweep["task"], sweep["cell"], grid, row_tallies(done, len(seeds)))
    task_fixed = [o for o in fixed if not is_hydra(o)]
    hidden = [*NOT_IN_NAME, "lr", "budget", *(split_list(o)[0] for o in task_fixed)]
    naming = f"hydra.job.config.override_dirname.exclude_keys=[{','.join(dict.fromkeys(hidden))}]"
    out = []
    for (task, T), cells in sorted(todo.items()):
        budget = budget_override(root / "configs", preset.name, task)
        for lr, lr_cells in by_lr(root / "configs", task, cells).items():
            for cell in lr_cells:
                for seed in seeds:
                    named = [f"+cell={cell}", f"seed={seed}", f"seq_len={T + offset(task)}", f"task={task}"]
                    task_own = [*([lr] if lr else []), *([budget] if budget else [])]
                    single = [f"+experiment={preset.name}", *named, *task_own, *task_fixed]
                    out.append(Todo(preset.name, preset.runs, ",".join(sorted(named)), single, [naming]))
    return out


def distance(a: dict[str, str], b: dict[str, str]) -> tuple[int, float]:
    """(keys that differ, the summed |log ratio| of the numeric ones): how far apart two jobs are. The
    seed is left out: it repeats a setting, it does not change what a run costs."""
    keys = (set(a) | set(b)) - {"seed"}
    differ = [k for k in keys if a.get(k) != b.get(k)]
    spread = 0.0
    for k in differ:
        try:
            x, y = float(a[k]), float(b[k])
            spread += abs(math.log(x / y)) if x > 0 and y > 0 else 1.0
        except (KeyError, ValueError):
            spread += 1.0
    return len(differ), spread


def pairs(name: str) -> dict[str, str]:
    return {p.split("=", 1)[0].lstrip("+~"): p.split("=", 1)[1] for p in name.split(",") if "=" in p}


def estimate(job: Todo, rows: list[dict[str, str]], columns: list[str]) -> float | None:
    """Seconds ``job`` takes: its own published wall time, else its nearest neighbour's (the slower of
    those equally near), else None."""
    timed = []
    for row in rows:
        try:
            timed.append((row, float(row.get("wall_time_s") or "")))
        except ValueError:
            continue
    mine = job.key(columns)
    own = [t for row, t in timed if row_key(row, columns) == mine]
    if own:
        return max(own)
    if not timed:
        return None
    values = job.values
    ranked = sorted(timed, key=lambda rt: (distance(values, row_values(rt[0], columns)), -rt[1]))
    return ranked[0][1]


def missing_jobs(
    preset: Preset, profile: str, overrides: list[str], docs: Path, version: str, root: Path
) -> list[Todo]:
    """The preset's jobs not done at ``version`` (published rows counted on any machine), each with its
    estimate and why it is missing."""
    rows = read_rows(docs, preset.name)
    columns = columns_of(rows)
    done = coverage(docs / "study" / preset.name, version)[0]
    if preset.study.grid == "adaptive":
        jobs = adaptive_jobs(preset, profile, overrides, root, done)
    else:
        jobs = grid_jobs(preset, profile, overrides, root)
    finished = {row_key(r, columns) for r in done}
    by_key = {row_key(r, columns): r for r in rows}
    out = []
    for job in jobs:
        if job.key(columns) in finished:
            continue
        row = by_key.get(job.key(columns))
        if row is not None:
            ended = row.get("status") in FINISHED
            job.why = f"stale (made by {row.get('code') or UNRECORDED})" if ended else row["status"]
        job.estimate_s = estimate(job, rows, columns)
        out.append(job)
    return out
