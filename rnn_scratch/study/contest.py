"""The claims of the contest and stability presets, worded by what was measured (issue 20).

* ``contest_lines``: per task and cell, the default settings against the tuned ones, each named by what
  ran ("the default-initialised tanh RNN (default init, lr 0.003, no clipping)"), solved ``k/n [Wilson
  95%]`` on the fresh seeds and Fisher's exact test of the contrast; then how the tuned settings were
  found (the header of each ``configs/tuned/*.yaml`` the runs used).
* ``stability_lines``: per learning rate and relative clipping threshold, solved k/n, diverged runs and
  gradient spikes; then, seed by seed against no clipping at the same learning rate, the seeds clipping
  rescued (solved with it, not without) and those it hurt.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from statistics import median
from typing import Any

from rnn_scratch.study.report import Sweep
from rnn_scratch.study.runs import Job
from rnn_scratch.study.stats import fisher, p_text, success_text
from rnn_scratch.study.tuning import describe

FINISHED = ("completed", "solved", "diverged")


def _solved(job: Job) -> bool:
    return bool(job.metrics.get("solved"))


def _finished(jobs: list[Job]) -> list[Job]:
    return [j for j in jobs if j.status in FINISHED]


def _k_n(jobs: list[Job]) -> tuple[int, int]:
    done = _finished(jobs)
    return sum(map(_solved, done)), len(done)


def _settings(jobs: list[Job], tuned: bool) -> str:
    """The words for a group's settings (the same in every run of a group but the seed)."""
    configs = [j.metrics["config"] for j in _finished(jobs) if isinstance(j.metrics.get("config"), dict)]
    return describe(configs[0], tuned) if configs else "(no finished run)"


def contest_lines(sweep: Sweep, tuned_dir: Path) -> list[str]:
    """The contest table: default against tuned per task and cell, k/n on fresh seeds, Fisher p."""
    groups: dict[tuple[str, str], dict[str, list[Job]]] = defaultdict(lambda: defaultdict(list))
    used: set[str] = set()
    for job in sweep.jobs:
        setting = job.overrides.get("tuned", "")
        kind = "default" if setting.startswith("default_") else "tuned"
        cell = setting.split("_")[1] if kind == "default" else setting.split("_")[-2]
        task = job.overrides.get("task") or (job.metrics.get("config") or {}).get("task", {}).get("name", "?")
        groups[(task, cell)][kind].append(job)
        if kind == "tuned":
            used.add(setting)
    seeds = ", ".join(sweep.seeds)
    lines = [
        f"Default against tuned, on seeds {seeds} (tuning never saw them): solved k/n [95% Wilson], "
        "Fisher's exact test of tuned against default.",
        "",
        "| task | default settings | solved | tuned settings | solved | Fisher |",
        "|---|---|---|---|---|---|",
    ]
    for (task, _), by_kind in groups.items():
        (k1, n1), (k2, n2) = _k_n(by_kind["default"]), _k_n(by_kind["tuned"])
        p = p_text(fisher(k2, n2, k1, n1))
        lines.append(
            f"| {task} | {_settings(by_kind['default'], False)} | {success_text(k1, n1)} "
            f"| {_settings(by_kind['tuned'], True)} | {success_text(k2, n2)} | {p} |"
        )
    lines += [
        "",
        "How the tuned settings were found (each file's header, written by `scripts/write_tuned.py`):",
        "",
    ]
    for name in sorted(used):
        lines.append(f"- `configs/tuned/{name}.yaml`: {_header(tuned_dir / f'{name}.yaml')}")
    return [*lines, ""]


def _header(path: Path) -> str:
    if not path.is_file():
        return "missing in this checkout"
    text = []
    for line in path.read_text().splitlines():
        if not line.startswith("#"):
            break
        if "@package" not in line:
            text.append(line.lstrip("# ").strip())
    return " ".join(text)


def _lr_clip(job: Job) -> tuple[str, str]:
    config: dict[str, Any] = job.metrics.get("config") or {}
    lr = job.overrides.get("optim.lr") or str((config.get("optim") or {}).get("lr"))
    clip = job.overrides.get("clip_relative") or str(config.get("clip_relative"))
    return lr, "null" if clip in ("None", "none") else clip


def stability_lines(sweep: Sweep) -> list[str]:
    """Per lr and relative clip: solved k/n, diverged, spikes; then the seeds clipping rescued or hurt."""
    cells: dict[tuple[str, str], list[Job]] = defaultdict(list)
    for job in _finished(sweep.jobs):
        cells[_lr_clip(job)].append(job)
    lines = [
        "Solved k/n [95% Wilson]; diverged runs; gradient spikes (steps whose global norm passed 10x the "
        "running median) as the median over seeds [min, max]; the mean fraction of steps clipped; Fisher's "
        "exact test against no clipping at the same lr.",
        "",
        "| lr | clip_relative | solved | diverged | spikes | clipped | Fisher vs none |",
        "|---|---|---|---|---|---|---|",
    ]
    for (lr, clip), jobs in sorted(
        cells.items(), key=lambda kv: (float(kv[0][0]), kv[0][1] != "null", kv[0][1])
    ):
        k, n = _k_n(jobs)
        spikes = [int(j.metrics.get("grad_spikes") or 0) for j in jobs]
        clipped = sum(float(j.metrics.get("clipped_fraction") or 0.0) for j in jobs) / len(jobs)
        diverged = sum(j.status == "diverged" for j in jobs)
        base = cells.get((lr, "null"), [])
        test = "-" if clip == "null" or not base else p_text(fisher(k, n, *_k_n(base)))
        lines.append(
            f"| {lr} | {clip} | {success_text(k, n)} | {diverged}/{n} | {median(spikes):g} "
            f"[{min(spikes)}, {max(spikes)}] | {clipped:.2f} | {test} |"
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
        base = {j.overrides.get("seed"): _solved(j) for j in cells.get((lr, "null"), [])}
        if clip == "null" or not base:
            continue
        mine = {j.overrides.get("seed"): _solved(j) for j in jobs}
        both = sorted(set(base) & set(mine), key=lambda s: int(s) if s and s.isdigit() else 0)
        rescued = [s for s in both if mine[s] and not base[s]]
        hurt = [s for s in both if base[s] and not mine[s]]
        named = [", ".join(map(str, seeds)) or "none" for seeds in (rescued, hurt)]
        out.append(
            f"- lr {lr}, clip_relative {clip}: rescued {len(rescued)} of {len(both)} seeds ({named[0]}); "
            f"hurt {len(hurt)} ({named[1]})"
        )
    return out


def preset_lines(name: str, sweep: Sweep, root: Path) -> list[str]:
    """The preset's own claim section, if it has one (contest, stability), else nothing."""
    if name == "contest":
        return ["### Default against tuned", "", *contest_lines(sweep, root / "configs" / "tuned")]
    if name == "stability":
        return ["### Clipping against the run's own gradient norms", "", *stability_lines(sweep)]
    return []
