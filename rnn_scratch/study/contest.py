"""The contest preset's section (issue 20): its claim, worded by what was measured.

``contest_lines``: per task and cell, the default settings against the tuned ones, each named by what ran
("the default-initialised tanh RNN (default init, lr 0.003, no clipping)"), solved ``k/n [Wilson 95%]``
on the fresh seeds and Fisher's exact test of the contrast; then how the tuned settings were found (the
header of each ``configs/tuned/*.yaml`` the runs used). ``section`` is what configs/experiment/contest.yaml
names in its ``# @study`` block (``rnn_scratch.study.presets``).
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

from rnn_scratch.study.aggregate import k_n
from rnn_scratch.study.presets import Page, Section
from rnn_scratch.study.report import Sweep
from rnn_scratch.study.runs import Job
from rnn_scratch.study.stats import fisher, p_text, success_text
from rnn_scratch.study.tuning import describe


def section(page: Page) -> Section:
    """The contest's claim, after the group tables."""
    tuned = page.root / "configs" / "tuned"
    return Section(claim=["### Default against tuned", "", *contest_lines(page.sweep, tuned)])


def _settings(jobs: list[Job], tuned: bool) -> str:
    """The words for a group's settings (the same in every run of a group but the seed)."""
    configs = [j.config for j in jobs if j.finished and j.config]
    return describe(configs[0], tuned) if configs else "(no finished run)"


def contest_lines(sweep: Sweep, tuned_dir: Path) -> list[str]:
    """The contest table: default against tuned per task and cell, k/n on fresh seeds, Fisher p."""
    groups: dict[tuple[str, str], dict[str, list[Job]]] = defaultdict(lambda: defaultdict(list))
    used: set[str] = set()
    for job in sweep.jobs:
        setting = job.overrides.get("tuned", "")
        kind = "default" if setting.startswith("default_") else "tuned"  # configs/tuned/default_<cell>
        cell = str((job.config.get("model") or {}).get("name"))  # the run's config, not the file's name
        task = job.overrides.get("task") or (job.config.get("task") or {}).get("name", "?")
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
        (k1, n1), (k2, n2) = k_n(by_kind["default"]), k_n(by_kind["tuned"])
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
