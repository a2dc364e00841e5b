"""The jobs a preset's profile will run that no published row holds, and a rough cost for them (``--plan``).

``rnn_scratch.study.ledger`` knows the jobs docs/ publishes; a job the preset only now defines (a new
cell, a new length, a new preset) has no row there. This module lists them from the preset itself: its
YAML's sweep (``hydra.sweeper.params``) under each of the profile's multiruns (``Preset.sweeps``), or, for an
adaptive preset, every (task, cell, length, seed) of its coarse grid (``rnn_scratch.study.adaptive``: an
upper bound, as the planner stops a cell after a length where every seed failed, and refines around
transitions, which adds a few lengths).

**The estimate is rough and pessimistic**: every job runs to its whole budget (a run that solves stops
early), at the cost per sequence step its cell's model took in the memory preset's published rows (one
core, H = 64)::

    core-s(job) = steps x batch x seq_len x num_layers x median_rows(wall_time_s / (steps x 32 x seq_len))

with ``steps``, ``batch_size`` and ``seq_len`` as the job resolves them (its override, else its task's budget
``configs/budget/<preset>_<task>.yaml``, its cell's YAML, the preset's YAML and the groups it merges, the
task's YAML, train.yaml),
the rows those of the job's (task, cell), else of its cell on any task, else of a cell with the same model,
else all rows (a task's read-out and evals change the cost: copy's per-step read-out costs the LSTM about
4x temporal order's per sequence step). H is not scaled, and the rows' costs include their evals.
"""

from __future__ import annotations

import csv
import itertools
import statistics
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from rnn_scratch.study.adaptive import adaptive_sweep, budget_override, offset, split_list, task_grid
from rnn_scratch.study.presets import Preset

RATE_SOURCE = "memory"  # the preset whose published rows give each cell's cost per sequence step
RATE_BATCH = 32  # its batch size


@dataclass(frozen=True)
class NewJobs:
    """The jobs of one preset that no published row holds, and their estimated cost (core-s)."""

    preset: str
    jobs: list[dict[str, str]]
    core_seconds: float

    def line(self) -> str:
        keys = [k for k in ("task", "model", "cell", "seq_len") if any(k in job for job in self.jobs)]
        values = {k: sorted({j[k] for j in self.jobs if k in j}, key=order) for k in keys}
        varied = "; ".join(f"{k}={','.join(v)}" for k, v in values.items())
        hours = self.core_seconds / 3600
        return (
            f"{self.preset}: {len(self.jobs)} jobs no published row holds ({varied}): about "
            f"{self.core_seconds:.0f} core-s ({hours:.1f} core-h) if each runs to its budget"
        )


def order(value: str) -> tuple[int, float | str]:
    """Numbers in numeric order, before names."""
    try:
        return (0, float(value))
    except ValueError:
        return (1, value)


def yaml_of(path: Path) -> dict[str, Any]:
    return yaml.safe_load(path.read_text()) or {} if path.is_file() else {}


def planned(preset: Preset, profile: str) -> list[dict[str, str]]:
    """Every job ``preset`` runs in ``profile``: key -> value (keys without ``+``), seeds included."""
    sweeps = preset.sweeps(profile)
    if sweeps is None:
        return []
    params = {str(k): str(v) for k, v in (yaml_of(preset.config).get("hydra", {}).get("sweeper", {})
                                         .get("params") or {}).items()}  # fmt: skip
    jobs: list[dict[str, str]] = []
    for overrides in sweeps.values():
        if preset.study.grid == "adaptive":
            sweep, fixed = adaptive_sweep(params, overrides)
            lists = dict(split_list(o) for o in fixed)
            for task, cell, seed in itertools.product(sweep["task"], sweep["cell"], sweep["seed"]):
                for T in task_grid(map(int, sweep["seq_len"]), task):
                    job = {k: v[-1] for k, v in lists.items()}
                    length = str(T + offset(task))
                    jobs.append({**job, "task": task, "cell": cell, "seq_len": length, "seed": seed})
            continue
        lists = dict(split_list(f"{k}={v}") for k, v in params.items())
        lists.update(split_list(o) for o in overrides)
        keys = list(lists)
        jobs += [dict(zip(keys, values, strict=True)) for values in itertools.product(*lists.values())]
    return jobs


def published_keys(docs: Path, preset: str) -> list[dict[str, str]]:
    """The published rows of ``preset`` (docs/study/<preset>/summary.csv), [] when there are none."""
    table = docs / "study" / preset / "summary.csv"
    if not table.is_file():
        return []
    with table.open(newline="") as f:
        return list(csv.DictReader(f))


def is_published(job: dict[str, str], rows: list[dict[str, str]]) -> bool:
    """A row holds ``job`` when it has a column for each of the job's varied keys, at its value."""
    keys = [k for k in ("task", "cell", "model", "seq_len", "seed") if k in job]
    return any(all(k in row and row[k] == job[k] for k in keys) for row in rows)


def resolve(key: str, job: dict[str, str], preset: Preset, configs: Path) -> Any:
    """``key`` (steps, batch_size, seq_len) as the job's config would hold it, from its sources in
    Hydra's order of precedence (the override, the task's budget, the cell, the preset, the groups the
    preset merges at the top, the task, train)."""
    if key in job:
        return job[key]
    sources = []
    if "task" in job and (budget := budget_override(configs, preset.name, job["task"])):
        sources.append(configs / "budget" / f"{budget.split('=', 1)[1]}.yaml")
    if "cell" in job:
        sources.append(configs / "cell" / f"{job['cell']}.yaml")
    sources += [preset.config, *global_defaults(preset.config, configs)]
    task = job.get("task") or task_of(preset.config)
    if task:
        sources.append(configs / "task" / f"{task}.yaml")
    sources.append(configs / "train.yaml")
    for source in sources:
        data = yaml_of(source)
        if key in data:
            return data[key]
    return None


def task_of(config: Path) -> str | None:
    """The task a preset selects in its defaults (``override /task: adding``), if any."""
    for entry in yaml_of(config).get("defaults") or []:
        if isinstance(entry, dict):
            for k, v in entry.items():
                if str(k).replace("override ", "").strip() == "/task":
                    return str(v)
    return None


def global_defaults(config: Path, configs: Path) -> list[Path]:
    """The YAMLs a preset merges at the top from its defaults (``/budget@_global_: memory_copy``)."""
    out = []
    for entry in yaml_of(config).get("defaults") or []:
        if isinstance(entry, dict):
            for k, v in entry.items():
                group, _, package = str(k).lstrip("/").partition("@")
                if package == "_global_":
                    out.append(configs / group / f"{v}.yaml")
    return out


def model_of(cell: str, configs: Path) -> tuple[str, int]:
    """A cell's model name and layer count, from configs/cell/<cell>.yaml (its name and 1 when unread)."""
    data = yaml_of(configs / "cell" / f"{cell}.yaml")
    model = cell
    for entry in data.get("defaults") or []:
        if isinstance(entry, dict):
            model = next((str(v) for k, v in entry.items() if str(k).endswith("/model")), model)
    return model, int((data.get("model") or {}).get("num_layers") or 1)


def rates(docs: Path) -> dict[tuple[str, str], float]:
    """Seconds per sequence step by (task, cell) of the memory preset (median over its published rows)."""
    found: dict[tuple[str, str], list[float]] = {}
    for row in published_keys(docs, RATE_SOURCE):
        try:
            steps, T, wall = int(row["steps"]), int(row["seq_len"]), float(row["wall_time_s"])
        except (KeyError, ValueError):
            continue
        if steps > 0 and wall > 0:
            found.setdefault((row["task"], row["cell"]), []).append(wall / (steps * RATE_BATCH * T))
    return {cell: statistics.median(v) for cell, v in found.items()}


def cost(job: dict[str, str], preset: Preset, configs: Path, known: dict[tuple[str, str], float]) -> float:
    """The job's core-seconds if it runs to its budget (the module docstring)."""
    cell = job.get("cell") or job.get("model") or "rnn"
    model, layers = model_of(cell, configs)
    model = job.get("model", model)
    task = job.get("task") or task_of(preset.config) or ""
    tiers = [
        [r for (t, c), r in known.items() if (t, c) == (task, cell)],
        [r for (_, c), r in known.items() if c == cell],
        [r for (_, c), r in known.items() if model_of(c, configs)[0] == model],
        list(known.values()) or [0.0],
    ]
    rate = statistics.median(next(tier for tier in tiers if tier))
    steps, batch, T = (resolve(k, job, preset, configs) for k in ("steps", "batch_size", "seq_len"))
    return float(steps or 0) * float(batch or 0) * float(T or 0) * layers * rate


def new_jobs(preset: Preset, profile: str, docs: Path, configs: Path) -> NewJobs:
    """The jobs of ``preset`` in ``profile`` that no published row holds, with their estimated cost."""
    rows = published_keys(docs, preset.name)
    jobs = [job for job in planned(preset, profile) if not is_published(job, rows)]
    known = rates(docs)
    return NewJobs(preset.name, jobs, sum(cost(job, preset, configs, known) for job in jobs))
