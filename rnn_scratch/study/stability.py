"""The stability preset's section: where clipping relative to a run's own gradient norms rescues training.

``stability``: per learning rate and relative clipping threshold, solved k/n, diverged runs and
gradient spikes, and the test against no clipping at the same learning rate: each seed ran both ways (a
paired design), so McNemar's exact test on the seeds that differ, Holm-adjusted over the table's
contrasts (both p shown); then, seed by seed, the seeds clipping rescued (solved with it, not without)
and those it hurt. ``section`` is what
configs/experiment/stability.yaml names in its ``# @study`` block (``rnn_scratch.study.presets``).
"""

from __future__ import annotations

from collections import defaultdict
from statistics import median
from typing import Any

from rnn_scratch.study.aggregate import k_n
from rnn_scratch.study.evidence import paired_or_fisher
from rnn_scratch.study.presets import Page
from rnn_scratch.study.render import Table
from rnn_scratch.study.runs import Job
from rnn_scratch.study.stats import holm, p_text, success_text
from rnn_scratch.study.sweep import Sweep
from rnn_scratch.training.record import Status


def section(page: Page) -> dict[str, Any]:
    """The stability claim, after the group tables, as data for ``templates/sections/stability.md.j2``."""
    return stability(page.sweep)


def _lr_clip(job: Job) -> tuple[str, str]:
    config = job.config
    lr = job.overrides.get("optim.lr") or str((config.get("optim") or {}).get("lr"))
    clip = job.overrides.get("clip_relative") or str(config.get("clip_relative"))
    return lr, "null" if clip in ("None", "none") else clip


def stability(sweep: Sweep) -> dict[str, Any]:
    """Per lr and relative clip: solved k/n, diverged, spikes, the test against no clipping at the same lr
    (Holm over the table); then, seed by seed, the seeds clipping rescued or hurt."""
    cells: dict[tuple[str, str], list[Job]] = defaultdict(list)
    for job in (j for j in sweep.jobs if j.finished):
        cells[_lr_clip(job)].append(job)
    order = sorted(cells, key=lambda lc: (float(lc[0]), lc[1] != "null", lc[1]))
    tests = {
        lc: paired_or_fisher(cells[lc], cells[(lc[0], "null")])
        for lc in order
        if lc[1] != "null" and (lc[0], "null") in cells
    }
    adjusted = dict(zip(tests, holm(p for p, _ in tests.values()), strict=True))
    rows = []
    for lr, clip in order:
        jobs = cells[(lr, clip)]
        k, n = k_n(jobs)
        spikes = [int(j.metrics.get("grad_spikes") or 0) for j in jobs]
        clipped = sum(float(j.metrics.get("clipped_fraction") or 0.0) for j in jobs) / len(jobs)
        diverged = sum(j.status == Status.DIVERGED for j in jobs)
        test = ["-", "-", "-"]
        if (lr, clip) in tests:
            p, paired = tests[(lr, clip)]
            test = ["McNemar" if paired else "Fisher", p_text(p), p_text(adjusted[(lr, clip)])]
        rows.append(
            [
                lr,
                clip,
                success_text(k, n),
                f"{diverged}/{n}",
                f"{median(spikes):g} [{min(spikes)}, {max(spikes)}]",
                f"{clipped:.2f}",
                *test,
            ]
        )
    header = ["lr", "clip_relative", "solved", "diverged", "spikes", "clipped", "test vs none", "p", "Holm p"]
    return {
        "table": Table(header, rows),
        "count": len(tests),
        "rescued": rescued(cells),
        "holding": sum(q < 0.05 for q in adjusted.values()),
        "tests": [  # for the front page's finding: the family's contrasts as numbers
            {
                "at": f"lr {lr}",
                "a": "no clipping",
                "a_text": success_text(*k_n(cells[(lr, "null")])),
                "b": f"clip_relative {clip}",
                "b_text": success_text(*k_n(cells[(lr, clip)])),
                "test": "McNemar (paired)" if paired else "Fisher",
                "p": p,
                "p_holm": adjusted[(lr, clip)],
                "n": len(cells[(lr, clip)]),
            }
            for (lr, clip), (p, paired) in tests.items()
        ],  # fmt: skip
    }


def rescued(cells: dict[tuple[str, str], list[Job]]) -> list[dict[str, Any]]:
    """Seed by seed, against no clipping at the same lr: which seeds clipping rescued and which it hurt."""
    out = []
    for (lr, clip), jobs in sorted(cells.items(), key=lambda kv: (float(kv[0][0]), kv[0][1])):
        base = {j.overrides.get("seed"): j.solved for j in cells.get((lr, "null"), [])}
        if clip == "null" or not base:
            continue
        mine = {j.overrides.get("seed"): j.solved for j in jobs}
        both = sorted(set(base) & set(mine), key=lambda s: int(s) if s and s.isdigit() else 0)
        out.append(
            {
                "lr": lr,
                "clip": clip,
                "n": len(both),
                "rescued": [s for s in both if mine[s] and not base[s]],
                "hurt": [s for s in both if base[s] and not mine[s]],
            }
        )
    return out
