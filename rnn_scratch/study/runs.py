"""A finished job as read back from its folder: overrides, metrics and gradient profile.

The bottom of the study package: every report, grouping and page starts from ``load_job``. A job folder
is one holding Hydra's ``.hydra/``; without ``metrics.json`` it is "missing" (not run, still running, or
killed), with an unreadable one "unreadable". Neither is fatal.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import yaml

NOT_SWEPT = ("experiment", "name")  # override keys that never describe a job (hydra.* neither)


@dataclass
class Job:
    folder: Path
    overrides: dict[str, str]  # key -> value as typed on the command line or in a preset's sweep
    status: str  # completed | diverged | interrupted | missing | unreadable
    metrics: dict[str, Any] = field(default_factory=dict)
    profile: dict[str, np.ndarray] = field(default_factory=dict)  # grad_norms.npz: steps, h, c, loss


def find_jobs(sweep_dir: Path) -> list[Path]:
    """Every folder under ``sweep_dir`` (itself included) that holds Hydra's ``.hydra/``."""
    found = [p.parent for p in sweep_dir.rglob(".hydra") if p.is_dir()]
    return sorted(p for p in found if ".submitit" not in p.parts)


def parse_overrides(lines: list[str]) -> dict[str, str]:
    """``["+experiment=x", "seq_len=10", "clip=null"]`` -> ``{"seq_len": "10", "clip": "null"}``."""
    out = {}
    for line in lines:
        key, _, value = str(line).partition("=")
        key = key.lstrip("+~")
        if key.startswith(("hydra.", "hydra/")) or key in NOT_SWEPT:
            continue
        out[key] = value
    return out


def load_job(folder: Path) -> Job:
    try:
        lines = yaml.safe_load((folder / ".hydra" / "overrides.yaml").read_text()) or []
    except (OSError, yaml.YAMLError):
        lines = []
    job = Job(folder, parse_overrides(lines), "missing")
    if not (folder / "metrics.json").exists():
        return job
    try:
        job.metrics = json.loads((folder / "metrics.json").read_text())
        job.status = str(job.metrics.get("status", "unreadable"))
    except (OSError, ValueError):
        job.status = "unreadable"
        return job
    try:
        with np.load(folder / "grad_norms.npz") as npz:
            job.profile = {key: npz[key] for key in npz.files}
    except (OSError, ValueError):
        pass  # no curves for this job; its row stands
    return job
