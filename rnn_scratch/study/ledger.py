"""What is published, at which code version, and what is missing: the study resumes from what docs/ holds.

The per-run records committed beside each page are its ``docs/study/<preset>/summary.csv``: a row per
job, with the job's own keys (its folder name and the swept-key columns, from which
``rnn_scratch.study.verify.published_jobs`` rebuilds the overrides that made it), its outcome and
metrics, its wall time and the code version that made it (no event files or checkpoints). Beside it a
page may hold ``certified.json`` (``scripts/study.py --certify``): the code version the page was
certified at by re-running k of its jobs and finding the same outcomes and metrics (within
``rnn_scratch.study.compare``'s tolerance); a rebuilt page drops it (its folder is rewritten).

A job counts as **published at version V** when its row is a finished run made by V, or its page is
certified at V; every other row is **missing**: stale (made by other code), or never finished (missing,
interrupted, unreadable). ``plan`` says this per preset, with the core-seconds the missing jobs took when
they were last run (their published wall time; the preset's median where a row has none), so a machine
with a fresh clone and no ``outputs/`` knows what it must run.
"""

from __future__ import annotations

import json
import statistics
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from rnn_scratch.study import status
from rnn_scratch.study.presets import Preset
from rnn_scratch.study.status import FINISHED
from rnn_scratch.study.trials import solved_in_row
from rnn_scratch.study.verify import UNRECORDED, Published


def certificate(docs: Path, preset: str) -> dict[str, Any]:
    """The page's ``certified.json`` as written, or ``{}`` (``status.certificate``)."""
    return status.certificate(docs / "study" / preset)


def certified_at(docs: Path, presets: list[str]) -> dict[str, str]:
    """Preset -> the code version its page is certified at (presets without a certificate left out)."""
    found = {p: certificate(docs, p).get("certified") for p in presets}
    return {p: str(v) for p, v in found.items() if v}


def write_certificate(docs: Path, preset: str, record: dict[str, Any]) -> Path:
    path = docs / "study" / preset / status.CERTIFICATE
    path.write_text(json.dumps(record, indent=1, sort_keys=True) + "\n")
    return path


@dataclass
class PresetPlan:
    """One preset's jobs at a code version: published, stale (other code), never finished."""

    preset: str
    version: str  # the version asked about (this checkout's)
    published: list[Published] = field(default_factory=list)
    stale: list[Published] = field(default_factory=list)
    unfinished: list[Published] = field(default_factory=list)
    made: Counter[str] = field(default_factory=Counter)  # versions of the page's finished rows
    certified: str | None = None

    @property
    def missing(self) -> list[Published]:
        return self.stale + self.unfinished

    @property
    def current(self) -> bool:
        """Made or certified at ``version``: nothing stale (a page with no rows is not current)."""
        return bool(self.published) and not self.stale

    def core_seconds(self) -> float:
        """The missing jobs' published wall times (one core each), the preset's median for a row
        without one."""
        times = [wall(j) for j in self.published + self.missing]
        median = statistics.median([t for t in times if t is not None] or [0.0])
        return sum(w if (w := wall(j)) is not None else median for j in self.missing)

    def line(self) -> str:
        """``vanishing: 9 published at c5accd5a5d69, 0 missing`` and, when any, what is missing."""
        made = ", ".join(f"{v} ({n})" for v, n in self.made.most_common()) or "nothing"
        said = f" (certified at {self.certified})" if self.certified else ""
        head = (
            f"{self.preset}: {len(self.published)} published at {self.version}, {len(self.missing)} missing"
        )
        if not self.missing:
            return head + said
        parts = [f"{len(self.stale)} stale" if self.stale else "", f"{len(self.unfinished)} never finished"
                 if self.unfinished else ""]  # fmt: skip
        why = ", ".join(p for p in parts if p)
        return f"{head} ({why}; made by {made}{said}); about {self.core_seconds():.0f} core-s to run them"


def wall(job: Published) -> float | None:
    try:
        return float(job.row.get("wall_time_s") or "")
    except ValueError:
        return None


def plan(jobs: list[Published], presets: list[str], version: str, docs: Path) -> list[PresetPlan]:
    """Each preset's published and missing jobs at ``version``, from the rows ``published_jobs`` read
    (with their versions: a row's own, or its page's certificate)."""
    out = []
    for name in presets:
        mine = PresetPlan(name, version, certified=certificate(docs, name).get("certified"))
        for job in (j for j in jobs if j.preset == name):
            if job.row.get("status") not in FINISHED:
                mine.unfinished.append(job)
                continue
            mine.made[job.row.get("code") or UNRECORDED] += 1
            (mine.published if job.version == version else mine.stale).append(job)
        out.append(mine)
    return out


def pair(job: Published) -> tuple[str, str]:
    """The (cell, task) a job ran: its own ``+cell``/``cell``/``model`` and ``task`` keys, ``-`` where
    the preset fixes them."""
    keys = {o.split("=", 1)[0].lstrip("+~"): o.split("=", 1)[1] for o in job.overrides if "=" in o}
    cell = next((keys[k] for k in ("cell", "model", "model.name") if k in keys), "-")
    return cell, keys.get("task", keys.get("task.name", "-"))


def cheapest_per_pair(jobs: list[Published]) -> list[Published]:
    """The finished job of least published wall time for every (cell, task) pair among ``jobs``."""
    best: dict[tuple[str, str], Published] = {}
    for job in jobs:
        if job.row.get("status") not in FINISHED:
            continue
        key, time = pair(job), wall(job)
        held = best.get(key)
        if held is None or (time is not None and time < (wall(held) or float("inf"))):
            best[key] = job
    return list(best.values())


def overturned(jobs: list[Published], configs: Path) -> list[Published]:
    """The rows that say ``solved`` where today's rule, a pass confirmed on the fresh set, says not: made
    before the rule, their outcome is the one a change of version can flip, so a certificate re-runs them.
    A row without a ``task`` column is its preset's task (``override /task`` in its YAML)."""

    def task_of(preset: str) -> str:
        config = yaml.safe_load((configs / "experiment" / f"{preset}.yaml").read_text()) or {}
        chosen = {k: v for d in config.get("defaults") or [] if isinstance(d, dict) for k, v in d.items()}
        return str(chosen.get("override /task") or "recall")  # configs/train.yaml's default task

    return [
        j for j in jobs
        if j.row.get("status") == "solved" and not solved_in_row({"task": task_of(j.preset), **j.row})
    ]  # fmt: skip


def priority(presets: list[Preset]) -> list[Preset]:
    """The order a time budget spends itself in: the headline's preset first, then the presets whose
    block names a contrast (a claim rests on a test), then the rest, each in page order."""

    def rank(p: Preset) -> int:
        return 0 if p.study.headline else 1 if p.study.contrast != "auto" else 2

    return sorted(presets, key=rank)  # stable: page order within a rank


def seconds(text: str) -> float:
    """``2h``, ``90m``, ``600s`` or ``600`` as seconds; ValueError naming the text otherwise."""
    units = {"h": 3600.0, "m": 60.0, "s": 1.0}
    number, unit = (text[:-1], text[-1]) if text and text[-1] in units else (text, "s")
    try:
        value = float(number) * units[unit]
    except ValueError:
        raise ValueError(f"--time-budget: {text!r} is not a duration (2h, 90m, 600s)") from None
    if value <= 0:
        raise ValueError(f"--time-budget: {text!r} is not a positive duration")
    return value
