"""The stability preset's section: where clipping relative to a run's own gradient norms rescues training.

``stability_lines``: per learning rate and relative clipping threshold, solved k/n, diverged runs and
gradient spikes, and the test against no clipping at the same learning rate: each seed ran both ways (a
paired design), so McNemar's exact test on the seeds that differ, Holm-adjusted over the table's
contrasts (both p shown); then, seed by seed, the seeds clipping rescued (solved with it, not without)
and those it hurt. ``section`` is what
configs/experiment/stability.yaml names in its ``# @study`` block (``rnn_scratch.study.presets``).
"""

from __future__ import annotations

from collections import defaultdict
from statistics import median

from rnn_scratch.study.aggregate import k_n
from rnn_scratch.study.evidence import paired_or_fisher
from rnn_scratch.study.presets import Page, Section
from rnn_scratch.study.runs import Job
from rnn_scratch.study.stats import holm, p_text, success_text
from rnn_scratch.study.sweep import Sweep
from rnn_scratch.training.record import Status


def section(page: Page) -> Section:
    """The stability claim, after the group tables."""
    return Section(
        claim=["### Clipping against the run's own gradient norms", "", *stability_lines(page.sweep)]
    )


def _lr_clip(job: Job) -> tuple[str, str]:
    config = job.config
    lr = job.overrides.get("optim.lr") or str((config.get("optim") or {}).get("lr"))
    clip = job.overrides.get("clip_relative") or str(config.get("clip_relative"))
    return lr, "null" if clip in ("None", "none") else clip


def stability_lines(sweep: Sweep) -> list[str]:
    """Per lr and relative clip: solved k/n, diverged, spikes; then the seeds clipping rescued or hurt."""
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
    lines = [
        "Solved k/n [95% exact]; diverged runs; gradient spikes (steps whose global norm passed 10x the "
        "running median) as the median over seeds [min, max]; the mean fraction of steps clipped; the test "
        "against no clipping at the same lr: McNemar's exact test (each seed run both ways; Fisher's where "
        f"the seeds differ), two-sided, and Holm's correction over the {len(tests)} contrasts.",
        "",
        "| lr | clip_relative | solved | diverged | spikes | clipped | test vs none | p | Holm p |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
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
        lines.append(
            f"| {lr} | {clip} | {success_text(k, n)} | {diverged}/{n} | {median(spikes):g} "
            f"[{min(spikes)}, {max(spikes)}] | {clipped:.2f} | {' | '.join(test)} |"
        )
    lines += ["", *_rescued(cells), ""]
    return lines


def _rescued(cells: dict[tuple[str, str], list[Job]]) -> list[str]:
    """Seed by seed, against no clipping at the same lr: which seeds clipping rescued and which it hurt."""
    out = [
        "Seed by seed against no clipping at the same lr (rescued: solved only with clipping; hurt: "
        "solved only without):",
        "",
    ]
    for (lr, clip), jobs in sorted(cells.items(), key=lambda kv: (float(kv[0][0]), kv[0][1])):
        base = {j.overrides.get("seed"): j.solved for j in cells.get((lr, "null"), [])}
        if clip == "null" or not base:
            continue
        mine = {j.overrides.get("seed"): j.solved for j in jobs}
        both = sorted(set(base) & set(mine), key=lambda s: int(s) if s and s.isdigit() else 0)
        rescued = [s for s in both if mine[s] and not base[s]]
        hurt = [s for s in both if base[s] and not mine[s]]
        named = [", ".join(map(str, seeds)) or "none" for seeds in (rescued, hurt)]
        out.append(
            f"- lr {lr}, clip_relative {clip}: rescued {len(rescued)} of {len(both)} seeds ({named[0]}); "
            f"hurt {len(hurt)} ({named[1]})"
        )
    return out
