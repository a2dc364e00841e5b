"""Spend a time budget on the jobs still missing at this code version, one job per worker, and publish them.

``spend`` takes the presets in ``ledger.priority`` order (the headline's preset first, then the presets
whose claim rests on a contrast, then the rest, each in page order) and, inside a preset, its missing jobs
in sweep order (``resume.missing_jobs``). Before each job it re-plans from what docs/ publishes (an
adaptive preset's next round appears once its round is published), and starts the first job whose
estimate fits what is left of the budget: its published wall time (or its nearest neighbour's) plus the
start-up the jobs run so far took beyond their own wall time (Python, torch, Hydra: measured, not
assumed). A job without any estimate (nothing published for its preset) is started while time is left.
A job that does not fit is left missing, never started.

Each job runs as the study's sweeps run it (``scripts/train.py -m`` into the preset's folder under
``outputs/``, ``skip_completed=true``, the job's folder named by Hydra as the page names its row), on
Hydra's basic launcher (one torch thread, as joblib's jobs have), up to ``workers`` jobs at once (one a
core; each started job is published by this one process, so two never write a table at once). At the
deadline each running job's process group gets SIGTERM: the run checkpoints and ends ``interrupted``
(resumable from its folder), and its row is not published. A finished job's row (``sweep.rows``:
metrics, outcome, wall time, code version, machine; the swept keys from the page's own columns)
replaces or joins its row in ``docs/study/<preset>/summary.csv``, written to a temporary file and
renamed, so a reader never sees half a table; event files and checkpoints stay in ``outputs/``. Then
each preset's ``missing.csv`` (job, why, estimate_s) says what is still missing, for its page to list;
a preset with nothing missing moves its rows of other code to ``superseded.csv`` (``retire``), so its
page reads one code version and git keeps what it read before.

A job's folder that holds a finished run of other code (a run made before its lr or budget changed,
which ``scripts/train.py`` refuses as another config's) has that run's files moved to
``superseded/<its code>/`` inside it first (``set_aside``: nothing is deleted). Only a job that exits 0
with a finished run of this code version is published; anything else counts as failed.
"""

from __future__ import annotations

import contextlib
import csv
import fnmatch
import os
import shutil
import signal
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from rnn_scratch.study.ledger import priority
from rnn_scratch.study.presets import Preset
from rnn_scratch.study.resume import Todo, missing_jobs, row_key
from rnn_scratch.study.runs import Job, load_job
from rnn_scratch.study.status import MISSING, SUMMARY, SUPERSEDED, certificate, read_table, row_version
from rnn_scratch.study.sweep import rows
from rnn_scratch.study.verify import version_of

MISSING_COLUMNS = ("job", "why", "estimate_s")


@dataclass
class Spent:
    """What a budget bought: jobs published, the one stopped at the deadline, those left missing."""

    published: list[str] = field(default_factory=list)  # preset/job
    failed: list[str] = field(default_factory=list)  # ran, did not finish (a failed run, no metrics)
    stopped: str | None = None  # preset/job (comma-separated) stopped at the deadline
    missing: dict[str, list[Todo]] = field(default_factory=dict)  # preset -> jobs left


def write_atomic(path: Path, fields: list[str], table: list[dict[str, str]]) -> None:
    """Write a CSV beside ``path`` and rename it over ``path``: never half a table."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    with tmp.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=fields, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(table)
    os.replace(tmp, path)


def publish_row(docs: Path, preset: str, job: Job, every_key: list[str]) -> None:
    """Put ``job``'s row into ``docs/study/<preset>/summary.csv``, replacing the row of the same name.
    The swept-key columns are the table's own (``every_key`` where it has none yet); columns the table
    lacks (the machine's, on a page made before they were recorded) join it at its end."""
    table = docs / "study" / preset / "summary.csv"
    old: list[dict[str, str]] = []
    fields: list[str] = []
    if table.is_file():
        with table.open(newline="") as f:
            reader = csv.DictReader(f)
            old, fields = list(reader), list(reader.fieldnames or [])
    keys = fields[1 : fields.index("status")] if "status" in fields else every_key
    new = {k: "" if v is None else str(v) for k, v in rows([job], keys)[0].items()}
    fields = fields or list(new)
    fields += [k for k in new if k not in fields]
    mine = row_key(new, keys)  # the same job: its name and the swept keys its name lacks
    at = [i for i, r in enumerate(old) if row_key(r, keys) == mine]  # its place, when it had one
    merged = [r for r in old if row_key(r, keys) != mine]
    merged.insert(at[0] if at else len(merged), new)
    write_atomic(table, fields, merged)


def write_missing(docs: Path, preset: str, left: list[Todo]) -> Path:
    """``docs/study/<preset>/missing.csv``: a row per job still missing at this version (none: the
    header alone)."""
    path = docs / "study" / preset / MISSING
    table = [
        {"job": t.name, "why": t.why, "estimate_s": "" if t.estimate_s is None else f"{t.estimate_s:.1f}"}
        for t in left
    ]
    write_atomic(path, list(MISSING_COLUMNS), table)
    return path


def retire(docs: Path, preset: str, version: str) -> int:
    """Once a preset has nothing missing at ``version``, move its rows of other code (rows no plan of this
    code holds: an adaptive preset's earlier rounds at lengths it no longer visits, a grid's dropped
    points) from ``summary.csv`` to ``superseded.csv`` beside it, so the page reads one code version and
    nothing is lost; the number of rows moved."""
    folder = docs / "study" / preset
    table = read_table(folder / SUMMARY)
    if not table:
        return 0
    cert = certificate(folder)
    keep = [r for r in table if row_version(r, cert) == version]
    gone = [r for r in table if row_version(r, cert) != version]
    if not gone or not keep:  # nothing of other code, or nothing of this code to read instead
        return 0
    fields = list(table[0])
    old = read_table(folder / SUPERSEDED) or []
    write_atomic(folder / SUPERSEDED, list(dict.fromkeys([*fields, *(old[0] if old else [])])), [*old, *gone])
    write_atomic(folder / SUMMARY, fields, keep)
    return len(gone)


def set_aside(folder: Path, version: str) -> Path | None:
    """Move a finished run of other code out of the job's ``folder``, into ``superseded/<its code>/``
    beside the runs set aside before; where it went, or None when the folder holds none."""
    if not (folder / "metrics.json").is_file():
        return None
    job = load_job(folder)
    if not job.finished or version_of(job) == version:
        return None
    target = folder / "superseded" / version_of(job)
    target.mkdir(parents=True, exist_ok=True)
    for path in folder.iterdir():
        if path.name != "superseded":
            shutil.move(str(path), str(target / path.name))
    return target


def start_job(todo: Todo, script: Path, cwd: Path) -> subprocess.Popen[bytes]:
    """Start one job in its own process group (so SIGTERM at the deadline reaches all of it)."""
    command = [
        sys.executable, str(script), "-m", *todo.overrides, f"hydra.sweep.dir={todo.sweep_dir}",
        "skip_completed=true", "hydra/launcher=basic", *todo.hydra,
    ]  # fmt: skip
    print(f"[budget] {todo.preset}/{todo.name}: running ({todo.why})", flush=True)
    return subprocess.Popen(command, cwd=cwd, start_new_session=True)


@dataclass
class Running:
    """A job started and not yet reaped: its plan, its page's swept keys, its process, its start."""

    todo: Todo
    keys: list[str]
    proc: subprocess.Popen[bytes]
    started: float = field(default_factory=time.perf_counter)


def wait_any(running: list[Running], deadline: float) -> Running | None:
    """The first of ``running`` to end, or None at the deadline."""
    while time.perf_counter() < deadline:
        for job in running:
            if job.proc.poll() is not None:
                return job
        time.sleep(0.2)
    return None


def stop(running: list[Running]) -> None:
    """SIGTERM to every running job's process group (each run checkpoints between steps and ends
    interrupted), then wait for them: no job outlives the budget, whatever ended it."""
    for job in running:
        with contextlib.suppress(ProcessLookupError):  # it ended on its own meanwhile
            os.killpg(job.proc.pid, signal.SIGTERM)
    for job in running:
        job.proc.wait()


def fits(todo: Todo, deadline: float, startup: list[float]) -> bool:
    """Whether ``todo``'s estimate, plus the start-up measured so far, fits what is left (one without an
    estimate fits while time is left); says so when it does not."""
    remaining = deadline - time.perf_counter()
    extra = statistics.mean(startup) if startup else 0.0
    need = None if todo.estimate_s is None else todo.estimate_s + extra
    if remaining > 0 and (need is None or need <= remaining):
        return True
    print(f"[budget] {todo.preset}/{todo.name}: about {need or 0:.0f} s does not fit the "
          f"{max(remaining, 0):.0f} s left; not started", flush=True)  # fmt: skip
    return False


def reap(done: Running, docs: Path, out: Spent, startup: list[float], version: str) -> None:
    """A job that ended: publish its row when it exited 0 with a finished run of ``version``, else count
    it failed (a run that refused its folder leaves the folder's other run there: never its row)."""
    todo, took, code = done.todo, time.perf_counter() - done.started, done.proc.returncode
    job = load_job(todo.sweep_dir / todo.name)
    if code != 0 or not job.finished or version_of(job) != version:
        out.failed.append(f"{todo.preset}/{todo.name}")
        print(f"[budget] {todo.preset}/{todo.name}: {job.status.value} of code {version_of(job)} "
              f"(exit {code}); not published", flush=True)  # fmt: skip
        return
    startup.append(max(took - float(job.metrics.get("wall_time_s") or 0.0), 0.0))
    publish_row(docs, todo.preset, job, done.keys)
    out.published.append(f"{todo.preset}/{todo.name}")
    print(f"[budget] {todo.preset}/{todo.name}: {job.status.value}; published ({took:.0f} s)", flush=True)


def job_keys(todos: list[Todo]) -> list[str]:
    """The keys whose values differ between a preset's jobs (its page's swept-key columns)."""
    found = [t.values for t in todos]
    keys = list(dict.fromkeys(k for p in found for k in p))
    return [k for k in keys if len({p.get(k) for p in found}) > 1] if len(found) > 1 else keys


def next_job(
    ordered: list[Preset],
    profile: str,
    overrides: list[str],
    docs: Path,
    version: str,
    root: Path,
    passed: set[Path],
    pattern: str | None = None,
) -> tuple[Todo, list[str]] | None:
    """The first missing job not yet tried in this budget (re-planned from docs/) whose folder name matches
    ``pattern`` (a glob; None: any), with its page's keys."""
    for preset in ordered:
        left = missing_jobs(preset, profile, overrides, docs, version, root)
        wanted = (t for t in left if pattern is None or fnmatch.fnmatchcase(t.name, pattern))
        todo = next((t for t in wanted if t.sweep_dir / t.name not in passed), None)
        if todo is not None:
            return todo, job_keys(left)
    return None


def spend(
    presets: list[Preset], profile: str, overrides: list[str], docs: Path, budget_s: float, root: Path,
    workers: int = 1, pattern: str | None = None,
) -> Spent:  # fmt: skip
    """Run the missing jobs of ``presets`` in priority order within ``budget_s`` seconds, up to
    ``workers`` at once (one torch thread each: one per core), publishing each finished one into
    ``docs``; then write every preset's missing.csv. ``pattern``: only the jobs whose folder name matches
    this glob (the others stay missing). A job is re-planned only when a worker is free, so
    an adaptive preset's next round waits for its round's rows."""
    from rnn_scratch.training.version import code_version

    version, script = code_version()["hash"], root / "scripts" / "train.py"
    deadline = time.perf_counter() + budget_s
    startup: list[float] = []  # per job run: its seconds beyond its own recorded wall time
    # the folders of jobs started or not fitting: not tried again in this budget (a job is its folder: two
    # sweeps of one preset, as contest's per task, name jobs alike)
    passed: set[Path] = set()
    running: list[Running] = []
    out = Spent()
    ordered = priority(presets)
    try:
        while True:
            while len(running) < workers:  # fill the free workers
                found = next_job(ordered, profile, overrides, docs, version, root, passed, pattern)
                if found is None:
                    break
                todo, keys = found
                passed.add(todo.sweep_dir / todo.name)
                if fits(todo, deadline, startup):
                    if gone := set_aside(todo.sweep_dir / todo.name, version):
                        print(f"[budget] {todo.preset}/{todo.name}: its run of other code moved to {gone}")
                    running.append(Running(todo, keys, start_job(todo, script, root)))
            if not running:
                break
            done = wait_any(running, deadline)
            if done is None:
                stop(running)
                out.stopped = ", ".join(f"{r.todo.preset}/{r.todo.name}" for r in running)
                for r in running:
                    where = r.todo.sweep_dir / r.todo.name
                    print(f"[budget] {r.todo.preset}/{r.todo.name}: the time budget ran out; stopped "
                          f"(checkpointed in {where}, not published)", flush=True)  # fmt: skip
                running.clear()
                break
            running.remove(done)
            reap(done, docs, out, startup, version)
    finally:
        stop(running)  # none left but when this process is interrupted: no job outlives it
    for preset in ordered:
        out.missing[preset.name] = missing_jobs(preset, profile, overrides, docs, version, root)
        write_missing(docs, preset.name, out.missing[preset.name])
        if not out.missing[preset.name] and (moved := retire(docs, preset.name, version)):
            print(f"[budget] {preset.name}: nothing missing at {version}; rows of other code ({moved}) "
                  f"moved to {docs / 'study' / preset.name / SUPERSEDED}", flush=True)  # fmt: skip
    return out
