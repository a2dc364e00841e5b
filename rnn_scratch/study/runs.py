"""A finished job as read back from its folder: overrides, its run record and its gradient profile.

The bottom of the study package: every report, grouping and page starts from ``load_job``. A job folder
is one holding Hydra's ``.hydra/``; its ``metrics.json`` is read as a ``RunRecord``
(``rnn_scratch.training.record``): without the file the job is ``missing`` (not run, still running, or
killed), with one no run wrote ``unreadable``. Neither is fatal.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from rnn_scratch.training.record import RunRecord, Status

NOT_SWEPT = ("experiment", "name")  # override keys that never describe a job (hydra.* neither)
# Where a run ran, as its row of summary.csv records it (metrics.json's "machine", written by
# rnn_scratch.training.version.machine): so that a page names its hardware and a difference can be traced.
MACHINE_COLUMNS = ("torch", "processor", "cpu_capability", "threads", "gpu")


@dataclass
class Job:
    """A job folder read back. ``metrics`` is its ``metrics.json`` as written (every measured value by
    its key); ``record`` the same file as a ``RunRecord``, which says how the run ended."""

    folder: Path
    overrides: dict[str, str]  # key -> value as typed on the command line or in a preset's sweep
    status: Status  # Status.MISSING and .UNREADABLE too: a plain word is taken as its Status
    metrics: dict[str, Any] = field(default_factory=dict)
    profile: dict[str, np.ndarray] = field(default_factory=dict)  # grad_norms.npz: steps, h, c, loss

    def __post_init__(self) -> None:
        self.status = Status(self.status)

    @cached_property
    def record(self) -> RunRecord:
        """``metrics`` as a record (``load_job`` sets it from the file directly)."""
        if self.status in (Status.MISSING, Status.UNREADABLE):
            return RunRecord(self.status, 0)
        return RunRecord.from_json({**self.metrics, "status": self.status.value})

    @property
    def finished(self) -> bool:
        """A result (completed, solved or diverged): it counts in its group's n."""
        return self.status.finished

    @property
    def passed_eval(self) -> bool:
        """The task's rule held at some eval (``RunRecord.passed_eval``)."""
        return self.record.passed_eval

    @property
    def solved(self) -> bool:
        """Solved, the one meaning the study has: ``RunRecord.solved`` (the rule held at an eval and,
        where the run measured one, on the fresh eval too). Every table asks this."""
        return self.record.solved

    @property
    def time_to_solve(self) -> tuple[float, bool] | None:
        """(training sequences, solved), the one censoring every table and curve uses: to the first
        eval that counted the run solved, or, for a run not solved (never passed, a pass the fresh eval
        overturned, diverged), its budget (right-censored there, never where it stopped); None when
        unknown (no budget recorded)."""
        m, config = self.metrics, self.config
        batch = config.get("batch_size")
        if self.solved:
            seq = m.get("sequences_to_solve")
            seq = seq if seq is not None else (m["steps_to_solve"] * batch if batch else None)
            return None if seq is None else (float(seq), True)
        budget = m.get("budget_sequences")
        if budget is None and batch and config.get("steps"):
            budget = config["steps"] * batch
        return None if budget is None else (float(budget), False)

    @property
    def overturned(self) -> bool:
        """Passed an eval, but the fresh eval did not confirm it: counted unsolved."""
        return self.passed_eval and not self.solved

    @property
    def solve_bounds(self) -> tuple[int, int] | None:
        """(after, at) in steps: solved after the last eval that did not count it and by ``at``, the
        first that did (``steps_to_solve``); None unless solved. Runs recorded before ``solve_after``
        was written take the eval before ``at`` on their schedule."""
        at = self.record.steps_to_solve
        if not self.solved or at is None:
            return None
        after = self.metrics.get("solve_after")
        if after is None:
            after = previous_eval(self.config, int(at))
        return int(after), int(at)

    @cached_property
    def config(self) -> dict[str, Any]:
        """The run's config: the one its record holds, else (no record yet) Hydra's
        ``.hydra/config.yaml``; {} when neither can be read."""
        if self.record.config:
            return self.record.config
        try:
            found = yaml.safe_load((self.folder / ".hydra" / "config.yaml").read_text())
        except (OSError, yaml.YAMLError):
            return {}
        return found if isinstance(found, dict) else {}


def machine_row(metrics: dict[str, Any]) -> dict[str, Any]:
    """``MACHINE_COLUMNS`` of a run's ``metrics.json`` (None each where it recorded no machine)."""
    found = metrics.get("machine")
    found = found if isinstance(found, dict) else {}
    return {c: found.get(c) for c in MACHINE_COLUMNS}


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
    record, metrics = RunRecord.load(folder)
    job = Job(folder, parse_overrides(lines), record.status, metrics)
    job.record = record  # the cached_property's value: the file is parsed once
    if record.status in (Status.MISSING, Status.UNREADABLE):
        return job
    try:
        with np.load(folder / "grad_norms.npz") as npz:
            job.profile = {key: npz[key] for key in npz.files}
    except (OSError, ValueError):
        pass  # no curves for this job; its row stands
    return job


def previous_eval(config: dict[str, Any], step: int) -> int:
    """The eval step before ``step`` on a run's schedule (``rnn_scratch.training.probes.is_eval_step``:
    every ``eval_every``; ``geometric`` also 1, 2, 4, ... below it); 0 before the first."""
    every = int(config.get("eval_every") or 1)
    steps = [s for s in range(every, step, every)]
    if config.get("eval_schedule") == "geometric":
        steps += [1 << i for i in range(every.bit_length()) if (1 << i) < min(every, step)]
    return max(steps, default=0)
