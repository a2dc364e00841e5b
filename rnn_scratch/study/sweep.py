"""A sweep read back: its jobs, the keys it swept, its groups by seed, and its per-job table.

The results library's entry (beside ``runs``, ``aggregate``, ``stats`` and ``published``): ``analyse``
reads every job folder under a sweep (a tuning sweep by its trials' runs, ``rnn_scratch.study.tuning``)
into a ``Sweep``; ``rows`` and ``write_csv`` are its ``summary.csv`` (a row per job: the swept keys, then
what the run measured, ``COLUMNS``), the table ``rnn_scratch.study.published`` reads back and the job
planner (``verify``) compares re-runs against. No figure and no page here (``report`` and ``pages``).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from rnn_scratch.study.aggregate import Group, group_by_seed, number, primary_metric, sort_key
from rnn_scratch.study.runs import Job, find_jobs, load_job, machine_row
from rnn_scratch.study.tuning import Tuning, read_tuning, tuning_jobs
from rnn_scratch.training.record import NOT_A_RESULT
from rnn_scratch.training.results import tuning_seeds

COLUMNS = (
    "status", "eval_acc", "eval_mse", "eval_loss", "fresh_eval_acc", "fresh_eval_mse", "fresh_eval_loss",
    "train_loss", "chance_acc", "steps", "steps_to_solve", "sequences_to_solve", "budget_sequences",
    "grad_norm_max", "grad_norm_final", "clipped_fraction", "grad_decay_init", "grad_decay_final",
    "lyapunov_max_init", "lyapunov_max_final", "log_spectral_radius_init", "log_spectral_radius_final",
    "saturation_init", "saturation_final", "wall_time_s",
)  # fmt: skip


def swept_keys(jobs: list[Job]) -> list[str]:
    """Override keys whose value differs between jobs, in order of appearance (all keys for one job)."""
    keys = list(dict.fromkeys(k for job in jobs for k in job.overrides))
    if len(jobs) < 2:
        return keys
    return [k for k in keys if len({job.overrides.get(k) for job in jobs}) > 1]


def x_key(keys: list[str], jobs: list[Job]) -> str | None:
    """The figures' x axis: seq_len if swept, else the first all-numeric swept key, else the last swept
    key (categories, e.g. clip); never seed."""
    candidates = [k for k in keys if k != "seed"]
    numeric = [k for k in candidates if all(number(j.overrides.get(k)) is not None for j in jobs)]
    if "seq_len" in numeric:
        return "seq_len"
    return numeric[0] if numeric else (candidates[-1] if candidates else None)


def _fmt(value: Any, digits: int) -> str:
    return "" if value is None else f"{value:.{digits}f}" if isinstance(value, float) else str(value)


def rows(jobs: list[Job], keys: list[str]) -> list[dict[str, Any]]:
    out = []
    for job in jobs:
        row: dict[str, Any] = {"job": job.folder.name}
        row.update({k: job.overrides.get(k, "") for k in keys})
        row.update({c: job.metrics.get(c) for c in COLUMNS})
        row["status"] = job.status
        rule = job.finished and job.metrics.get("solved_rule")
        row["solved"] = job.solved if rule else None  # the study's count (RunRecord.solved)
        row["lr"] = ((job.config.get("optim") or {}).get("lr")) if job.config else None  # the run's own lr
        row["tuned_on"] = (job.metrics.get("identity") or {}).get("tuned_on")  # the record's identity
        code = job.metrics.get("code")
        row["code"] = code.get("hash") if isinstance(code, dict) else None  # the sources the run came from
        row.update(machine_row(job.metrics))  # where it ran: torch, processor, threads (pages name it)
        out.append(row)
    return out


def write_csv(table: list[dict[str, Any]], path: Path) -> None:
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(table[0]) if table else ["job", *COLUMNS])
        writer.writeheader()
        writer.writerows({k: "" if v is None else v for k, v in row.items()} for row in table)


def brief(config: dict[str, Any]) -> dict[str, Any]:
    """The keys that say what a run was, from metrics.json's config."""
    section = {k: config.get(k) or {} for k in ("model", "task", "optim")}
    return {
        "model": section["model"].get("name"), "task": section["task"].get("name"),
        **{k: config.get(k) for k in ("seq_len", "hidden_size", "clip", "steps", "batch_size", "seed")},
        "optim": section["optim"].get("name"), "lr": section["optim"].get("lr"),
        "momentum": section["optim"].get("momentum"),
        "init": section["model"].get("init"), "eval_size": config.get("eval_size"),
        "eval_every": config.get("eval_every"), "eval_schedule": config.get("eval_schedule"),
        "final_eval_size": config.get("final_eval_size"), "stop_when_solved": config.get("stop_when_solved"),
    }  # fmt: skip


@dataclass
class Sweep:
    """A sweep read back: its jobs (sorted), swept keys, x axis, seed groups and primary metric, and
    the values of each swept key in the order the sweep listed them (``sweep_order``)."""

    folder: Path
    jobs: list[Job]
    keys: list[str]
    x: str | None
    groups: list[Group]
    metric: str
    listed: dict[str, list[str]] = field(default_factory=dict)
    tuning: Tuning | None = None  # a tuning sweep: its jobs are the trials' runs, keyed by trial and seed

    @property
    def config(self) -> dict[str, Any] | None:
        """The first finished job's config (what every job shared but the swept keys)."""
        return next(
            (j.metrics["config"] for j in self.jobs if isinstance(j.metrics.get("config"), dict)), None
        )

    @property
    def seeds(self) -> list[str]:
        return sorted({s for g in self.groups for s in g.seeds}, key=sort_key)

    @property
    def compute_s(self) -> float:
        """Sum of the runs' wall_time_s: core-seconds, each run being one thread."""
        return float(sum(j.metrics.get("wall_time_s") or 0.0 for j in self.jobs))

    def bad(self) -> dict[str, list[Job]]:
        """Jobs that are not a finished result, by status (missing, unreadable, interrupted), and the
        diverged ones."""
        out: dict[str, list[Job]] = {}
        for status in NOT_A_RESULT:
            if found := [j for j in self.jobs if j.status == status]:
                out[status.value] = found
        return out


def sweep_order(sweep_dir: Path) -> dict[str, list[str]]:
    """The values of each swept key in the order the sweep listed them (Hydra's multirun.yaml: the
    preset's sweeper params, replaced by command-line sweeps); {} when unreadable."""
    try:
        hydra = (yaml.safe_load((sweep_dir / "multirun.yaml").read_text()) or {}).get("hydra", {})
    except (OSError, yaml.YAMLError):
        return {}
    listed = {str(k): str(v) for k, v in ((hydra.get("sweeper") or {}).get("params") or {}).items()}
    listed |= dict(
        str(o).lstrip("+").split("=", 1)
        for o in (hydra.get("overrides") or {}).get("task", [])
        if "=" in str(o)
    )
    return {k: v.split(",") for k, v in listed.items()}


def analyse(sweep_dir: Path | str) -> Sweep:
    """Read every job under ``sweep_dir``; raise ``FileNotFoundError`` when there is none."""
    sweep_dir = Path(sweep_dir)
    if tuning_seeds(sweep_dir):  # a group per trial, its tuning seeds pooled; no x axis
        tuning = read_tuning(sweep_dir)
        runs = tuning_jobs(tuning)
        groups = group_by_seed(runs, ["trial", "seed"])
        return Sweep(sweep_dir, runs, ["trial", "seed"], None, groups, primary_metric(runs), {}, tuning)
    folders = find_jobs(sweep_dir)
    if not folders:
        raise FileNotFoundError(f"no job folders (with .hydra/) under {sweep_dir}")
    jobs = [load_job(f) for f in folders]
    keys = swept_keys(jobs)
    x = x_key(keys, jobs)
    order = [*(k for k in keys if k not in (x, "seed")), *([x] if x else []), "seed"]
    listed = sweep_order(sweep_dir)

    def position(key: str, value: str | None) -> tuple[int, float, str]:
        """Words in the order the sweep listed them (model: rnn, lstm, gru), else ``sort_key``."""
        found = sort_key(value)
        if found[0] == 2 and value in listed.get(key, []):
            return (2, float(listed[key].index(value)), "")
        return found

    jobs.sort(key=lambda j: [position(k, j.overrides.get(k)) for k in order])
    groups = group_by_seed(jobs, [k for k in order if k in keys])
    return Sweep(sweep_dir, jobs, keys, x, groups, primary_metric(jobs), listed)


def shared_settings(sweep: Sweep) -> str:
    """The settings every finished job shared (each job's own config), but the swept keys."""
    configs = [brief(j.metrics["config"]) for j in sweep.jobs if isinstance(j.metrics.get("config"), dict)]
    if not configs:
        return "-"
    fixed = {
        k: v for k, v in configs[0].items()
        if k not in sweep.keys and k != "seed" and all(c.get(k) == v for c in configs)
    }  # fmt: skip
    return ", ".join(f"{k}={'null' if v is None else v}" for k, v in fixed.items())
