"""Carry a page across a change of code that leaves its results alone, without rebuilding it.

``certify`` re-runs, for each preset, the cheapest published job of every (cell, task) pair its page
holds (``ledger.cheapest_per_pair``) with this checkout's code, and compares them as ``--verify`` does
(``rnn_scratch.study.compare``: outcomes exactly, metrics within 1e-4 relative). When every one is the
same, the page is **certified** at this code version: ``docs/study/<preset>/certified.json`` records the
version, the versions that made the page, the jobs re-run, their largest differences and the machine, and
the page's ``Code:`` line says "made by A; certified at B by re-running k jobs". Any difference leaves
the page stale: ``certified.json`` then records ``"certified": null``, ``stale_at`` and the differences,
and its ``Code:`` line says so ("made by A; stale at B"), so a reader of the page sees it: it must be
rebuilt (``scripts/study.py --only <preset> --publish``). The record is the data: nothing edits a page;
``rnn_scratch.study.status.code_status`` reads it and the page builder renders the ``Code:`` line from it
(``scripts/study.py --certify`` renders the pages again once every preset is done).
"""

from __future__ import annotations

from pathlib import Path

from rnn_scratch.study.compare import REL_TOL, Comparison
from rnn_scratch.study.ledger import PresetPlan, cheapest_per_pair, overturned, write_certificate
from rnn_scratch.study.verify import verify
from rnn_scratch.training.version import machine


def certify(plans: list[PresetPlan], docs: Path, train_script: Path, cwd: Path) -> int:
    """Certify each preset of ``plans`` not already current; the number of presets that stayed stale."""
    stale = 0
    for found in plans:
        if found.current:
            print(f"[certify] {found.preset}: already at {found.version}; nothing to do")
            continue
        if not found.stale:
            print(f"[certify] {found.preset}: no finished published job to re-run; rebuild it")
            stale += 1
            continue
        cheap = cheapest_per_pair(found.stale)  # + every row today's solved rule disagrees with
        picked = cheap + [j for j in overturned(found.stale, cwd / "configs") if j not in cheap]
        print(f"[certify] {found.preset}: re-running {len(picked)} of its {len(found.stale)} jobs "
              "(the cheapest of each cell and task; rows the rule overturns)", flush=True)  # fmt: skip
        seen = Comparison()
        if verify(picked, train_script, cwd, seen):
            differs = {
                "certified": None, "stale_at": found.version, "made": dict(found.made),
                "jobs": [j.row["job"] for j in picked], "differences": seen.flips + seen.beyond,
                "tolerance": REL_TOL, "machine": {**machine("cpu"), "threads": 1},
            }  # fmt: skip
            write_certificate(docs, found.preset, differs)  # data: status.code_status reads it as stale
            print(f"[certify] {found.preset}: differs: stale at {found.version}; rebuild it")
            stale += 1
            continue
        record = {
            "certified": found.version, "made": dict(found.made), "jobs": [j.row["job"] for j in picked],
            "largest_relative_difference": seen.largest, "tolerance": REL_TOL,
            "machine": {**machine("cpu"), "threads": 1},  # where the re-runs ran (verify gives them 1 thread)
        }  # fmt: skip
        path = write_certificate(docs, found.preset, record)
        print(f"[certify] {found.preset}: certified at {found.version} -> {path}")
    return stale
