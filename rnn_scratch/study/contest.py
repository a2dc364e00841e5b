"""The contest preset's section (issues 20, 27): default against tuned, each cell tuned on the task it is
judged on, worded by what was measured.

``contest_lines``: per task and cell, the default settings against the settings tuned on that task,
each named by what ran ("the default-initialised tanh RNN (lr 0.003, no clipping)"), solved ``k/n [95%
exact]`` on the fresh seeds, and the paired design's test: every seed ran both ways, so McNemar's exact
test on the discordant seeds, Holm-adjusted over the table's contrasts (both p shown). Settings tuned on
the other task are reported beside it (transfer), untested. Then ``tuning_summary``: per tuned config the
contest used, its trial table (``configs/tuned/<name>.trials.csv``, written by ``scripts/write_tuned.py``)
summarised: trials, the best and where its lr sits in the searched range. ``section`` is what
configs/experiment/contest.yaml names in its ``# @study`` block (``rnn_scratch.study.presets``).
"""

from __future__ import annotations

import csv
import math
import re
from collections import defaultdict
from pathlib import Path

from rnn_scratch.study.evidence import seed_pairs
from rnn_scratch.study.presets import Page, Section
from rnn_scratch.study.runs import Job
from rnn_scratch.study.stats import holm, mcnemar, median, p_text, success_text
from rnn_scratch.study.sweep import Sweep
from rnn_scratch.study.tuning import describe
from rnn_scratch.training.tuning import LR_RANGE

TUNED_NAME = re.compile(r"^(?P<task>.+)_(?P<cell>[a-z0-9]+)_seq(?P<T>\d+)$")  # temporal_order_irnn_seq50


def section(page: Page) -> Section:
    """The contest's claim, after the group tables."""
    tuned = page.root / "configs" / "tuned"
    return Section(claim=["### Default against tuned", "", *contest_lines(page.sweep, tuned)])


def _settings(jobs: list[Job], tuned: bool) -> str:
    """The words for a group's settings (the same in every run of a group but the seed)."""
    configs = [j.config for j in jobs if j.finished and j.config]
    return describe(configs[0], tuned) if configs else "(no finished run)"


def parse_setting(setting: str) -> tuple[str, str | None]:
    """``default_irnn`` -> (irnn, None); ``temporal_order_lstm_seq50`` -> (lstm, temporal_order)."""
    if setting.startswith("default_"):
        return setting[len("default_") :], None
    found = TUNED_NAME.match(setting)
    return (found["cell"], found["task"]) if found else (setting, "?")


def contest_lines(sweep: Sweep, tuned_dir: Path) -> list[str]:
    """The contest table: default against tuned on the same task, paired by seed, McNemar and Holm;
    settings tuned on another task beside it; then the tuning behind each tuned setting."""
    runs: dict[tuple[str, str], dict[str | None, list[Job]]] = defaultdict(lambda: defaultdict(list))
    names: dict[tuple[str, str, str | None], str] = {}
    for job in (j for j in sweep.jobs if j.finished):
        setting = job.overrides.get("tuned", "")
        cell, tuned_on = parse_setting(setting)
        task = job.overrides.get("task") or (job.config.get("task") or {}).get("name", "?")
        runs[(task, cell)][tuned_on].append(job)
        names[(task, cell, tuned_on)] = setting
    rows, ps = [], []
    for (task, cell), by in runs.items():
        default, tuned = by.get(None, []), by.get(task, [])
        if not default or not tuned:
            continue
        pairs = seed_pairs(default, tuned) or []
        rescued = sum(1 for d, t in pairs if t and not d)
        lost = sum(1 for d, t in pairs if d and not t)
        ps.append(mcnemar([d for d, _ in pairs], [t for _, t in pairs]) if pairs else 1.0)
        rows.append((task, cell, default, tuned, rescued, lost, len(pairs)))
    adjusted = holm(ps)
    seeds = ", ".join(sweep.seeds)
    lines = [
        f"Default against tuned on the same task, on seeds {seeds} (tuning used 100 and 101, never these): "
        "solved k/n [95% exact]; every seed ran both ways, so the test is McNemar's exact test on the "
        "seeds that differ (tuned only / default only), two-sided, and Holm's correction is over the "
        f"{len(rows)} contrasts of this table. With 5 seeds no paired contrast can reach p < 0.05 "
        f"(5 of 5 one way gives p = {mcnemar([False] * 5, [True] * 5):.4f}): 10 seeds (`--profile full`) "
        "can.",
        "",
        "| task | cell | default settings | solved | tuned settings (on this task) | solved | tuned only "
        "/ default only | McNemar p | Holm p |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for (task, cell, default, tuned, rescued, lost, n), p, q in zip(rows, ps, adjusted, strict=True):
        lines.append(
            f"| {task} | {cell} | {_settings(default, False)} | {success_text(*_k_n(default))} "
            f"| {_settings(tuned, True)} | {success_text(*_k_n(tuned))} | {rescued} / {lost} of {n} "
            f"| {p_text(p)} | {p_text(q)} |"
        )
    transfer = [
        f"| {task} | {cell} | tuned on {on} | {success_text(*_k_n(jobs))} |"
        for (task, cell), by in runs.items()
        for on, jobs in by.items()
        if on is not None and on != task
    ]
    if transfer:
        lines += [
            "",
            "Settings tuned on the other task (transfer; not tested):",
            "",
            "| task | cell | settings | solved |",
            "|---|---|---|---|",
            *transfer,
        ]
    used = sorted({name for (_, _, on), name in names.items() if on is not None})
    lines += ["", *tuning_summary(used, tuned_dir)]
    return [*lines, ""]


def _k_n(jobs: list[Job]) -> tuple[int, int]:
    return sum(j.solved for j in jobs), len(jobs)


def tuning_summary(names: list[str], tuned_dir: Path) -> list[str]:
    """A row per tuned config: its trial table summarised (``<name>.trials.csv``), then each file's
    header (how it was made)."""
    lines = [
        "How the tuned settings were found: Optuna TPE, each trial one setting on tuning seeds 100 and 101; "
        "objective = the mean over seeds of the budget left when solved (confirmed), 0 unsolved, + 0.01 x "
        "the fresh eval accuracy. Every trial is in `configs/tuned/<name>.trials.csv`.",
        "",
        "| tuned config | trials | trials solving both seeds | objective: best (trial), median | best lr "
        "(decades from the range's edges) |",
        "|---|---|---|---|---|",
    ]
    for name in names:
        table = tuned_dir / f"{name}.trials.csv"
        if not table.is_file():
            lines.append(f"| `{name}` | no trial table in this checkout | | | |")
            continue
        with table.open() as f:
            trials = list(csv.DictReader(f))
        done = [t for t in trials if t["objective"]]
        best = max(done, key=lambda t: float(t["objective"]))
        both = sum(t["seeds_solved"] == "2" for t in done)
        lr = float(best["optim.lr"])
        edges = (math.log10(lr / LR_RANGE[0]), math.log10(LR_RANGE[1] / lr))
        middle = median(float(t["objective"]) for t in done) or 0.0
        lines.append(
            f"| `{name}` | {len(trials)} | {both} | {float(best['objective']):.3f} (trial {best['trial']}), "
            f"{middle:.3f} | {lr:.2g} ({edges[0]:.1f} above {LR_RANGE[0]:g}, {edges[1]:.1f} below "
            f"{LR_RANGE[1]:g}) |"
        )
    lines += ["", "Each file's header (written by `scripts/write_tuned.py`):", ""]
    for name in names:
        lines.append(f"- `configs/tuned/{name}.yaml`: {_header(tuned_dir / f'{name}.yaml')}")
    return lines


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
