"""Is the published study what the code makes? Code versions on a page, and re-running published jobs.

* ``versions``: the code hashes a page's runs were made with (``rnn_scratch.training.version``), counted;
  runs from before versions were recorded count as ``unrecorded``. ``scripts/study.py`` refuses to publish
  a page whose runs carry more than one (``--allow-mixed`` publishes it with the mix stated on the page).
* ``verify``: pick N published jobs (rows of ``docs/study/<preset>/summary.csv``, round-robin over the
  presets so every page is sampled), re-run each with ``scripts/train.py`` in a fresh folder, with the
  overrides that made it (the preset, the profile's overrides, the job's own keys), and compare every
  metric of its published row with the re-run's, exactly as the CSV writes them (wall time, speed and the
  code version left out). A mismatch names the columns, published against now.
"""

from __future__ import annotations

import csv
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from rnn_scratch.study.presets import Preset
from rnn_scratch.study.report import COLUMNS
from rnn_scratch.study.runs import Job, find_jobs, load_job

UNRECORDED = "unrecorded"
NOT_COMPARED = frozenset({"job", "wall_time_s", "code"})  # timings differ run to run; the version is new


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


def job_overrides(row: dict[str, str], keys: list[str]) -> list[str]:
    """The job's own overrides: its folder name's ``key=value`` pairs (``+cell=irnn,seed=0``), then the
    swept keys the row holds in columns but the name lacks (a preset run as several multiruns)."""
    pairs = [p for p in row["job"].split(",") if "=" in p]
    named = {p.split("=", 1)[0].lstrip("+~") for p in pairs}
    extra = [f"{k}={row[k]}" for k in keys if k not in named and row.get(k) not in (None, "")]
    return pairs + extra


def published_jobs(docs: Path, presets: list[Preset], profile: str) -> list[Published]:
    """Every row of each preset's published summary.csv, with its overrides, preset by preset."""
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
        for row in rows:
            mine = job_overrides(row, keys)
            named = {o.split("=", 1)[0].lstrip("+~") for o in mine}
            shared = [o for o in own if o.split("=", 1)[0].lstrip("+~") not in named and "," not in o]
            out.append(Published(preset.name, row, [f"+experiment={preset.name}", *shared, *mine]))
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


def differences(published: dict[str, str], rerun: Job) -> dict[str, tuple[str, str]]:
    """Column -> (published, now) for every compared column that differs, as the CSV writes values."""
    now = {c: rerun.metrics.get(c) for c in COLUMNS}
    now["status"] = rerun.status.value
    out = {}
    for column, value in published.items():
        if column in NOT_COMPARED or column not in now:
            continue
        again = "" if now[column] is None else str(now[column])
        if again != value:
            out[column] = (value, again)
    return out


def rerun(job: Published, train_script: Path, cwd: Path, folder: Path) -> tuple[Job | None, str]:
    """Run ``job`` again into ``folder``; (the run read back, or None and the error's last line)."""
    command = [sys.executable, str(train_script), *job.overrides, f"hydra.run.dir={folder}", "threads=1"]
    proc = subprocess.run(command, cwd=cwd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        return None, (proc.stderr.strip().splitlines() or ["failed"])[-1]
    return load_job(folder), ""


def verify(jobs: list[Published], train_script: Path, cwd: Path) -> int:
    """Re-run each job and print a line per job and a count; the number of jobs that did not match."""
    from tqdm import tqdm

    started, bad = time.perf_counter(), 0
    with tempfile.TemporaryDirectory() as tmp:
        for i, job in enumerate(tqdm(jobs, desc="verify", unit="job")):
            again, error = rerun(job, train_script, cwd, Path(tmp) / str(i))
            name = f"{job.preset}/{job.row['job']}"
            if again is None:
                bad += 1
                tqdm.write(f"[verify] {name}: the re-run failed: {error}")
                continue
            if differ := differences(job.row, again):
                bad += 1
                said = "; ".join(f"{c} {a or '-'} published, {b or '-'} now" for c, (a, b) in differ.items())
                tqdm.write(f"[verify] {name}: DIFFERS: {said}")
            else:
                tqdm.write(f"[verify] {name}: the same")
    took = time.perf_counter() - started
    print(
        f"[verify] {len(jobs) - bad} of {len(jobs)} published jobs re-run to the same metrics ({took:.0f} s)"
    )
    return bad
