"""What a page's committed records say about it, as data for the page builder to render (no prose here).

Every function reads a preset's page folder, ``docs/study/<preset>/``, alone (no ``outputs/``):

* ``code_status``: the code versions that made its rows, its certificate (``certified.json``, written by
  ``scripts/study.py --certify``), and its state at a code version: ``current`` (every finished row made
  by it), ``certified`` (made by other code, certified at it by re-running some jobs), ``partial`` (some
  rows at it, some stale: a time budget that ran out), ``stale`` (none at it), ``empty`` (no finished
  row).
* ``hardware``: where its runs ran, from the machine columns of its rows (``runs.MACHINE_COLUMNS``: torch's
  version, the processor and the instruction set torch chose, threads, the GPU): each distinct machine
  with its count of runs; rows made before machines were recorded count under a machine of None values.
* ``coverage``: (rows published at the version, rows of ``missing.csv``): what the page holds and what
  ``scripts/study.py --time-budget`` left to run (``missing`` is None where no budget has written one).
"""

from __future__ import annotations

import csv
import json
from collections import Counter
from pathlib import Path
from typing import Any

from rnn_scratch.study.runs import MACHINE_COLUMNS

SUMMARY, MISSING, CERTIFICATE = "summary.csv", "missing.csv", "certified.json"
SUPERSEDED = "superseded.csv"  # rows of other code a finished rebuild no longer holds (budget.retire)
FINISHED = ("completed", "solved", "diverged")
UNRECORDED = "unrecorded"


def read_table(path: Path) -> list[dict[str, str]] | None:
    """A CSV's rows, or None when the file is not there."""
    if not path.is_file():
        return None
    with path.open(newline="") as f:
        return list(csv.DictReader(f))


def certificate(preset_dir: Path) -> dict[str, Any]:
    """The page's ``certified.json`` as written, or ``{}`` (none, unreadable, or not a mapping)."""
    path = preset_dir / CERTIFICATE
    try:
        found = json.loads(path.read_text()) if path.is_file() else {}
    except ValueError:
        return {}
    return found if isinstance(found, dict) else {}


def row_version(row: dict[str, str], cert: dict[str, Any]) -> str:
    """The version a row counts at: the version its page is certified at when the certificate covers the
    code that made the row (its ``made``), else the row's own ``code``."""
    made = row.get("code") or UNRECORDED
    covered = cert.get("made")
    if cert.get("certified") and isinstance(covered, dict) and made in covered:
        return str(cert["certified"])
    return made


def current_version() -> str:
    from rnn_scratch.training.version import code_version  # computed once per process

    return str(code_version()["hash"])


def code_status(preset_dir: Path, version: str | None = None) -> dict[str, Any]:
    """The page's code versions at ``version`` (default: this checkout's):

    ``{"version", "state", "made": {hash: runs}, "published": n at version, "stale": n, "unfinished": n,
    "certified": hash or None, "certified_jobs": [job, ...], "tolerance", "stale_at": hash or None}``
    (``stale_at``: a ``--certify`` whose re-runs differed at that version)."""
    version = version or current_version()
    rows = read_table(preset_dir / SUMMARY) or []
    cert = certificate(preset_dir)
    finished = [r for r in rows if r.get("status") in FINISHED]
    made = Counter(r.get("code") or UNRECORDED for r in finished)
    at = [r for r in finished if row_version(r, cert) == version]
    own = [r for r in at if (r.get("code") or UNRECORDED) == version]
    if not finished:
        state = "empty"
    elif len(at) == len(finished):
        state = "current" if len(own) == len(finished) else "certified"
    else:
        state = "partial" if at else "stale"
    return {
        "version": version, "state": state, "made": dict(made.most_common()), "published": len(at),
        "stale": len(finished) - len(at), "unfinished": len(rows) - len(finished),
        "certified": cert.get("certified"), "certified_jobs": list(cert.get("jobs") or []),
        "tolerance": cert.get("tolerance"), "stale_at": cert.get("stale_at"),
    }  # fmt: skip


def hardware(preset_dir: Path) -> list[dict[str, Any]]:
    """Each machine the page's finished runs ran on, the most runs first: ``{"torch", "processor",
    "cpu_capability", "threads", "gpu", "runs"}`` (a field None where the rows do not record it)."""
    rows = read_table(preset_dir / SUMMARY) or []
    found: Counter[tuple[str | None, ...]] = Counter(
        tuple(r.get(c) or None for c in MACHINE_COLUMNS) for r in rows if r.get("status") in FINISHED
    )
    return [{**dict(zip(MACHINE_COLUMNS, key, strict=True)), "runs": n} for key, n in found.most_common()]


def coverage(
    preset_dir: Path, version: str | None = None
) -> tuple[list[dict[str, str]], list[dict[str, str]] | None]:
    """(the rows published at ``version``, the rows of ``missing.csv``: job, why, estimate_s; None when
    no time budget has written one)."""
    version = version or current_version()
    cert = certificate(preset_dir)
    rows = read_table(preset_dir / SUMMARY) or []
    published = [r for r in rows if r.get("status") in FINISHED and row_version(r, cert) == version]
    return published, read_table(preset_dir / MISSING)
