"""What a run leaves behind, in the forms other tools read: JSON files and HParams values."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

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
    """Two lines for a sweep's end: how its jobs ended (each job folder's ``metrics.json``; a folder
    without one failed) and the command that reports the sweep."""
    jobs = sorted({p.parent for p in sweep.rglob(".hydra")} - {sweep})
    statuses = [RunRecord.read(job).status for job in jobs]  # missing or unreadable: the job failed
    finished = sum(s.ended for s in statuses)
    diverged = statuses.count(Status.DIVERGED)
    return (
        f"sweep: {len(jobs)} jobs: {finished} finished ({statuses.count(Status.SOLVED)} solved), "
        f"{diverged} diverged, {len(jobs) - finished - diverged} failed or interrupted -> {sweep}\n"
        f"summary and figures: python scripts/report.py {sweep}"
    )
