"""What a run leaves behind, in the forms other tools read: JSON files and HParams values."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import yaml

from rnn_scratch.training.commands import shell_command
from rnn_scratch.training.config import TrainConfig
from rnn_scratch.training.record import RunRecord, Status


def write_json(path: Path, data: dict[str, Any]) -> None:
    """Write atomically: a reader never sees half a file."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, default=str) + "\n")
    os.replace(tmp, path)


def hparam_values(cfg: TrainConfig) -> dict[str, float | int | str | bool]:
    """The keys a sweep compares, flat, for TensorBoard's HParams. ``clip`` and ``truncate`` are strings,
    ``none`` when off (a number 0 would read as "clip to zero"), so one column holds both kinds."""
    return {
        "seq_len": cfg.seq_len,
        "hidden_size": cfg.hidden_size,
        "clip": "none" if cfg.clip is None else str(cfg.clip),
        "clip_mode": cfg.clip_mode,
        "clip_relative": "none" if cfg.clip_relative is None else str(cfg.clip_relative),
        "model": cfg.model.name,
        "task": cfg.task.name,
        "init": cfg.model.init,
        "nonlinearity": cfg.model.nonlinearity,
        "gate_init": cfg.model.gate_init,
        "bptt": cfg.model.bptt,
        "truncate": "none" if cfg.model.truncate is None else str(cfg.model.truncate),
        "optim": cfg.optim.name,
        "lr": cfg.optim.lr,
        "batch_size": cfg.batch_size,
        "steps": cfg.steps,
        "seed": cfg.seed,
    }


def sweep_summary(sweep: Path) -> str:
    """A sweep's end: how its jobs ended (``sweep_lines``) and the commands that take it further."""
    hints = [f"summary and figures: {shell_command(['python', 'scripts/report.py', str(sweep)])}"]
    if (sweep / "optimization_results.yaml").is_file():  # a tuning sweep that ran to its end
        unsolved = not any(r.solved for r in tuning_runs(sweep))
        refused = " (no tuning seed solved: it refuses unless --force)" if unsolved else ""
        write = shell_command(["python", "scripts/write_tuned.py", str(sweep)])
        hints.append(f"tuned config: {write}{refused}")
    return "\n".join([*sweep_lines(sweep), *hints])


def sweep_lines(sweep: Path) -> list[str]:
    """How a sweep's jobs ended, from each job folder's ``metrics.json`` (a folder without one failed):
    ``sweep: 4 jobs: 4 finished (2 solved), 0 diverged, 0 failed or interrupted -> <sweep>``.

    A tuning sweep (its jobs train once per tuning seed: ``tune_seeds``) is told as tuning: its trials,
    seeds, objectives and best trial (with Optuna's ``optimization_results.yaml``, its settings), then
    the same count over its runs (``<trial>/seed=<s>/``). Solved is ``RunRecord.solved`` here as in
    ``metrics.json`` and the report: the task's rule held at some eval, whether or not the run stopped."""
    jobs, seeds = job_folders(sweep), tuning_seeds(sweep)
    if not seeds:
        return [f"sweep: {len(jobs)} jobs: {count_runs([RunRecord.read(job) for job in jobs])} -> {sweep}"]
    objectives = {job.name: trial_objective(job) for job in jobs}
    listed = ", ".join("failed" if v is None else f"{v:.4g}" for v in objectives.values())
    head = f"tuning: {len(jobs)} trials x {len(seeds)} seeds ({', '.join(map(str, seeds))}), "
    done = {name: v for name, v in objectives.items() if v is not None}
    if done:
        best = max(done, key=done.__getitem__)  # the first of the best, as Optuna's best trial
        chosen = " ".join(f"{k}={setting_text(v)}" for k, v in best_params(sweep).items())
        head += f"best objective {done[best]:.4g} (trial {best}{': ' + chosen if chosen else ''}); "
    head += f"objectives by trial: {listed}"
    return [head, f"runs: {count_runs(tuning_runs(sweep))} -> {sweep}"]


def tuning_runs(sweep: Path) -> list[RunRecord]:
    """The records of a tuning sweep's runs, trial by trial, seed by seed (``<trial>/seed=<s>/``)."""
    seeds = tuning_seeds(sweep)
    return [RunRecord.read(job / f"seed={s}") for job in job_folders(sweep) for s in seeds]


def best_params(sweep: Path) -> dict[str, Any]:
    """The best trial's settings in Optuna's ``optimization_results.yaml``; {} before it is written."""
    try:
        found = (yaml.safe_load((sweep / "optimization_results.yaml").read_text()) or {}).get("best_params")
    except (OSError, yaml.YAMLError, AttributeError):
        return {}
    return {str(k): v for k, v in found.items()} if isinstance(found, dict) else {}


def count_runs(records: list[RunRecord]) -> str:
    """``4 finished (2 solved), 0 diverged, 0 failed or interrupted``: finished = ran to its end or its
    solve; solved = of the finished and diverged runs, those whose rule held (``RunRecord.solved``)."""
    finished = sum(r.status.ended for r in records)
    diverged = sum(r.status == Status.DIVERGED for r in records)
    solved = sum(r.solved for r in records if r.status.finished)
    failed = len(records) - finished - diverged
    return f"{finished} finished ({solved} solved), {diverged} diverged, {failed} failed or interrupted"


def job_folders(sweep: Path) -> list[Path]:
    """The sweep's job folders (each holds Hydra's ``.hydra/``), by name; numbers (trials) in order."""
    jobs = {p.parent for p in sweep.rglob(".hydra")} - {sweep}
    return sorted(jobs, key=lambda p: (0, int(p.name), "") if p.name.isdigit() else (1, 0, str(p)))


def tuning_seeds(sweep: Path) -> list[int]:
    """The tuning seeds of a tuning sweep's trials (its first job's ``tune_seeds``); [] for any other."""
    jobs = job_folders(sweep)
    try:
        config = yaml.safe_load((jobs[0] / ".hydra" / "config.yaml").read_text()) if jobs else {}
    except (OSError, yaml.YAMLError):
        return []
    seeds = config.get("tune_seeds") if isinstance(config, dict) else None
    return [int(s) for s in seeds] if isinstance(seeds, list) else []


def trial_objective(trial: Path) -> float | None:
    """A tuning trial's objective (``objective.json``, ``rnn_scratch.training.tuning``); None: none."""
    try:
        return float(json.loads((trial / "objective.json").read_text())["objective"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def setting_text(value: Any) -> str:
    """A setting as an override would spell it, floats to 3 digits (``0.0244``, ``1.0``)."""
    text = f"{value:.3g}" if isinstance(value, float) else str(value)
    return text + ".0" if isinstance(value, float) and text.lstrip("-").isdigit() else text
