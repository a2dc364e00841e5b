"""Is the published study what the code makes? Code versions on a page, and re-running published jobs.

* ``versions``: the code hashes a page's runs were made with (``rnn_scratch.training.version``), counted;
  runs from before versions were recorded count as ``unrecorded``. ``scripts/study.py`` refuses to publish
  a page whose runs carry more than one (``--allow-mixed`` publishes it with the mix stated on the page).
* ``verify``: pick N published jobs (rows of ``docs/study/<preset>/summary.csv``: round-robin over the
  presets so every page is sampled, or ``pick_random`` among the quick ones at this code version, as
  ``.ci/run`` does), re-run each with ``scripts/train.py`` in a fresh folder, with the overrides that made
  it (the preset, the profile's overrides, the job's own keys), and compare its published row with the
  re-run's as ``rnn_scratch.study.compare`` does: outcomes exactly (an outcome that flips is a failure of
  its own), metrics within a relative 1e-4 (float32 differs across processors in its last bits), the
  largest relative difference per metric printed at the end.
"""

from __future__ import annotations

import csv
import random
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from rnn_scratch.study.adaptive import budget_override
from rnn_scratch.study.compare import REL_TOL, Comparison
from rnn_scratch.study.lr_grid import lr_override
from rnn_scratch.study.presets import PUBLISHED, Preset
from rnn_scratch.study.resume import grid_jobs, row_key
from rnn_scratch.study.runs import Job, find_jobs, load_job
from rnn_scratch.study.status import UNRECORDED, certificate, row_version
from rnn_scratch.study.sweep import COLUMNS


def version_of(job: Job) -> str:
    """The code hash a finished run recorded, or ``unrecorded``."""
    code = job.metrics.get("code")
    return str(code.get("hash")) if isinstance(code, dict) and code.get("hash") else UNRECORDED


def versions(jobs: Iterable[Job]) -> Counter[str]:
    """How many finished runs each code version made."""
    return Counter(version_of(j) for j in jobs if j.finished)


def versions_text(found: Counter[str]) -> str:
    """``fe46199fc36e (40 runs)``, or the versions of a mixed page with their counts."""
    return ", ".join(f"{v} ({n} runs)" for v, n in found.most_common())


def mixed_pages(presets: list[Preset]) -> str:
    """``"memory (a1b2c3d4e5f6 (40 runs), unrecorded (9 runs))"`` for each preset whose runs mix code
    versions, joined by ``; ``; empty when none does."""
    found = []
    for preset in presets:
        counts = versions(load_job(f) for f in find_jobs(preset.runs)) if preset.runs.is_dir() else Counter()
        if len(counts) > 1:
            found.append(f"{preset.name} ({versions_text(counts)})")
    return "; ".join(found)


@dataclass
class Published:
    """One published job: its preset, its row of summary.csv and the overrides that made it."""

    preset: str
    row: dict[str, str]
    overrides: list[str]
    version: str = UNRECORDED  # the code the row was made with, or that certified its page

    @property
    def name(self) -> str:
        return f"{self.preset}/{self.row['job']}"


def job_overrides(row: dict[str, str], keys: list[str]) -> list[str]:
    """The job's own overrides: its folder name's ``key=value`` pairs (``+cell=irnn,seed=0``), then the
    swept keys the row holds in columns but the name lacks (a preset run as several multiruns)."""
    pairs = [p for p in row["job"].split(",") if "=" in p]
    named = {p.split("=", 1)[0].lstrip("+~") for p in pairs}
    extra = [f"{k}={row[k]}" for k in keys if k not in named and row.get(k) not in (None, "")]
    return pairs + extra


def planned(configs: Path, preset: str, task: str, cell: str) -> list[str]:
    """The overrides an adaptive preset's planner gives a job beside its name: the task's budget
    (``+budget=<preset>_<task>``) and the cell's lr (``+lr=<task>_<cell>``), where they exist."""
    found = [budget_override(configs, preset, task), lr_override(configs, task, cell)]
    return [o for o in found if o]


def multirun_jobs(preset: Preset, profile: str, columns: list[str]) -> dict[tuple[object, ...], list[str]]:
    """Each job of the profiles that run ``preset`` as several multiruns (``profile`` first, then the
    published ones) -> the whole overrides that make it, keyed as its row is (``resume.row_key``). A
    multirun's fixed overrides name no column of the page (adding's long ``indrnn_li``: ``+cell=indrnn_li``,
    ``steps=6000`` beside ``model=indrnn,seq_len=100,seed=0``), so its rows alone cannot give them."""
    found: dict[tuple[object, ...], list[str]] = {}
    root = preset.config.parents[2]  # configs/experiment/<name>.yaml -> the checkout
    for name in dict.fromkeys([profile, *PUBLISHED]):
        if preset.study.grid != "adaptive" and isinstance(preset.study.profiles.get(name), dict):
            for todo in grid_jobs(preset, name, [], root):
                found.setdefault(todo.key(columns), todo.overrides)
    return found


def published_jobs(docs: Path, presets: list[Preset], profile: str) -> list[Published]:
    """Every row of each preset's published summary.csv, with its overrides, preset by preset; a row's
    version is its own code hash, or the version its page is certified at where the certificate covers
    the code that made the row (``status.row_version``: a row added at a newer version keeps its own).
    A row of a multirun the preset's profiles name takes that job's overrides (``multirun_jobs``)."""
    out = []
    for preset in presets:
        table = docs / "study" / preset.name / "summary.csv"
        if not table.is_file():
            continue
        with table.open(newline="") as f:
            reader = csv.DictReader(f)
            rows = list(reader)
            fields = list(reader.fieldnames or [])
        keys = fields[1 : fields.index("status")] if "status" in fields else []  # the swept-key columns
        own = preset.overrides(profile) or []
        cert = certificate(docs / "study" / preset.name)
        configs = preset.config.parents[1]  # configs/experiment/<name>.yaml -> configs/
        multi = multirun_jobs(preset, profile, keys) if preset.config.is_file() else {}
        for row in rows:
            whole = multi.get(row_key(row, keys))
            if whole is not None:
                out.append(Published(preset.name, row, whole, row_version(row, cert)))
                continue
            mine = job_overrides(row, keys)
            named = {o.split("=", 1)[0].lstrip("+~") for o in mine}
            shared = [o for o in own if o.split("=", 1)[0].lstrip("+~") not in named and "," not in o]
            if preset.study.grid == "adaptive":  # its planner adds the budget and the lr, unnamed
                mine += planned(configs, preset.name, row.get("task", ""), row.get("cell", ""))
            overrides = [f"+experiment={preset.name}", *shared, *mine]
            out.append(Published(preset.name, row, overrides, row_version(row, cert)))
    return out


def round_robin(jobs: list[Published], n: int | None) -> list[Published]:
    """N jobs spread over the presets (one from each in turn); all of them when n is None."""
    if n is None or n >= len(jobs):
        return jobs
    by_preset: dict[str, list[Published]] = {}
    for job in jobs:
        by_preset.setdefault(job.preset, []).append(job)
    queues = [iter(v) for v in by_preset.values()]
    picked: list[Published] = []
    while len(picked) < n:
        for queue in queues:
            nxt = next(queue, None)
            if len(picked) < n and nxt is not None:
                picked.append(nxt)
    return picked


def as_row(rerun: Job) -> dict[str, str]:
    """A re-run as its row of summary.csv would write it."""
    now = {c: rerun.metrics.get(c) for c in COLUMNS}
    now["status"] = rerun.status.value
    return {c: "" if v is None else str(v) for c, v in now.items()}


def pick_random(
    jobs: list[Published], n: int, seed: int, current: set[str], max_wall_s: float
) -> list[Published]:
    """``n`` jobs drawn with ``seed`` among those published at a code version in ``current`` (the
    version, or a page certified at it: ``Published.version``) whose run took under ``max_wall_s``."""
    quick = [
        j for j in jobs if j.version in current and float(j.row.get("wall_time_s") or "inf") < max_wall_s
    ]
    return random.Random(seed).sample(quick, min(n, len(quick)))


def rerun(job: Published, train_script: Path, cwd: Path, folder: Path) -> tuple[Job | None, str]:
    """Run ``job`` again into ``folder``; (the run read back, or None and the error's last line)."""
    command = [sys.executable, str(train_script), *job.overrides, f"hydra.run.dir={folder}", "threads=1"]
    proc = subprocess.run(command, cwd=cwd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        return None, (proc.stderr.strip().splitlines() or ["failed"])[-1]
    return load_job(folder), ""


def verify(jobs: list[Published], train_script: Path, cwd: Path, seen: Comparison | None = None) -> int:
    """Re-run each job, print a line per job, then the largest relative difference per metric and a
    count; the number of jobs that did not match (an outcome flip, a metric beyond the tolerance, a
    failed re-run)."""
    from tqdm import tqdm

    started, bad = time.perf_counter(), 0
    seen = Comparison() if seen is None else seen  # the caller's, to read the largest differences after
    with tempfile.TemporaryDirectory() as tmp:
        for i, job in enumerate(tqdm(jobs, desc="verify", unit="job")):
            again, error = rerun(job, train_script, cwd, Path(tmp) / str(i))
            if again is None:
                bad += 1
                tqdm.write(f"[verify] {job.name}: the re-run failed: {error}")
                continue
            row = seen.add(job.row, as_row(again))
            bad += not row.same
            if row.flips:
                tqdm.write(f"[verify] {job.name}: OUTCOME FLIPPED: {'; '.join(row.flips + row.beyond)}")
            elif row.beyond:
                tqdm.write(
                    f"[verify] {job.name}: DIFFERS beyond {REL_TOL:g} relative: {'; '.join(row.beyond)}"
                )
            else:
                top = (row.largest_text() or ["none"])[0]
                tqdm.write(f"[verify] {job.name}: the same (largest relative difference: {top})")
    took = time.perf_counter() - started
    if seen.largest:
        print(f"[verify] largest relative difference per metric: {', '.join(seen.largest_text())}")
    print(
        f"[verify] {len(jobs) - bad} of {len(jobs)} published jobs re-run to the same outcomes and metrics "
        f"within {REL_TOL:g} relative ({took:.0f} s)"
    )
    return bad
