"""The contest preset's section (issues 20, 27): default against tuned, each cell tuned on the task it is
judged on, worded by what was measured.

``contest``: per task and cell, the default settings against the settings tuned on that task, each named
by what ran ("the default-initialised tanh RNN (lr 0.003, no clipping)"), solved ``k/n [95% exact]`` on
the fresh seeds, and the deciding test (``rnn_scratch.study.contrasts``): McNemar's exact test where a
seed pairs the arms (every seed ran both ways), Fisher's where it does not, and the log-rank test on the
times to solve where the success counts cannot separate the arms; Holm over the rows' deciding p.
Settings tuned on the other task are reported beside it (transfer), untested; a run's cell and the task
its settings were tuned on are its record's ``identity`` (no name is parsed). Then ``tuning_summary``:
per tuned config the contest used, its trial table (``configs/tuned/<name>.trials.csv``, written by
``scripts/write_tuned.py``) summarised: trials, the best and where its lr sits in the searched range.
``section`` is what configs/experiment/contest.yaml names in its ``# @study`` block
(``rnn_scratch.study.presets``).
"""

from __future__ import annotations

import csv
import math
from collections import defaultdict
from pathlib import Path
from typing import Any

import yaml

from rnn_scratch.study.contrasts import contest_family, contest_row
from rnn_scratch.study.presets import Page
from rnn_scratch.study.render import Table
from rnn_scratch.study.runs import Job
from rnn_scratch.study.stats import mcnemar, median, p_text, success_text
from rnn_scratch.study.sweep import Sweep
from rnn_scratch.study.trials import trials_from_jobs
from rnn_scratch.study.tuning import describe
from rnn_scratch.training.tuning import LR_RANGE

TEST_WORDS = {"mcnemar": "McNemar (paired)", "fisher": "Fisher", "time": "log-rank (time to solve)"}


def section(page: Page) -> dict[str, Any]:
    """The contest's claim, after the group tables, as data for ``templates/sections/contest.md.j2``."""
    return contest(page.sweep, page.root / "configs" / "tuned")


def _settings(jobs: list[Job], tuned: bool) -> str:
    """The words for a group's settings (the same in every run of a group but the seed)."""
    configs = [j.config for j in jobs if j.finished and j.config]
    return describe(configs[0], tuned) if configs else "(no finished run)"


def identity(job: Job, tuned_dir: Path) -> tuple[str, str | None]:
    """(cell, the task its settings were tuned on or None): the run record's ``identity``; for a run
    from before the record carried it, the model the ``tuned`` group's config chose (``irnn``), else the
    model's name, and its config's ``tuned_on``, else the one that tuned config declares."""
    found = job.metrics.get("identity")
    if isinstance(found, dict):
        return str(found.get("cell") or found.get("model")), found.get("tuned_on")
    chosen = tuned_dir / f"{job.overrides.get('tuned', '')}.yaml"
    data = (yaml.safe_load(chosen.read_text()) if chosen.is_file() else {}) or {}
    groups = {k: v for d in data.get("defaults") or [] if isinstance(d, dict) for k, v in d.items()}
    cell = str(groups.get("override /model") or (job.config.get("model") or {}).get("name"))  # irnn: its own
    if (on := job.config.get("tuned_on")) is not None:  # a published row keeps it ("": untuned)
        return cell, str(on) or None
    return cell, data.get("tuned_on")


def contest(sweep: Sweep, tuned_dir: Path) -> dict[str, Any]:
    """Default against tuned on the same task, paired by seed, McNemar and Holm; settings tuned on
    another task beside it; then the tuning behind each tuned setting."""
    runs: dict[tuple[str, str], dict[str | None, list[Job]]] = defaultdict(lambda: defaultdict(list))
    names: dict[tuple[str, str, str | None], str] = {}
    for job in (j for j in sweep.jobs if j.finished):
        cell, tuned_on = identity(job, tuned_dir)
        task = job.overrides.get("task") or (job.config.get("task") or {}).get("name", "?")
        runs[(task, cell)][tuned_on].append(job)
        names[(task, cell, tuned_on)] = job.overrides.get("tuned", "")
    rows, tests = [], []
    for (task, cell), by in runs.items():
        default, tuned = by.get(None, []), by.get(task, [])
        if not default or not tuned:
            continue
        # McNemar where a seed pairs the arms, Fisher where not; the log-rank test on the times to
        # solve decides where the success counts cannot separate them (rnn_scratch.study.contrasts)
        tests.append(contest_row(f"{task}, {cell}", trials_from_jobs(default), trials_from_jobs(tuned)))
        rows.append([task, cell, _settings(default, False), success_text(*_k_n(default)),
                     _settings(tuned, True), success_text(*_k_n(tuned))])  # fmt: skip
    tests = contest_family(tests)
    for row, t in zip(rows, tests, strict=True):
        row += [
            TEST_WORDS[t.decisive if t.decisive == "time" else t.success_test],
            p_text(t.p),
            p_text(t.holm),
        ]
    header = ["task", "cell", "default settings", "solved", "tuned settings (on this task)", "solved",
              "deciding test", "p", "Holm p"]  # fmt: skip
    transfer = [
        [task, cell, f"tuned on {on}", success_text(*_k_n(jobs))]
        for (task, cell), by in runs.items()
        for on, jobs in by.items()
        if on is not None and on != task
    ]
    used = sorted({name for (_, _, on), name in names.items() if on is not None})
    return {
        "seeds": sweep.seeds,
        "table": Table(header, rows),
        "count": len(rows),
        "floor": mcnemar([False] * 5, [True] * 5),
        "transfer": Table(["task", "cell", "settings", "solved"], transfer),
        "tuning": tuning_summary(used, tuned_dir),
        "holding": sum(t.holm < 0.05 for t in tests),
        "tests": [  # for the front page's finding: the family's contrasts as numbers
            {
                "at": f"{r[0]}, {r[1]}",
                "a": "default",
                "a_text": r[3],
                "b": "tuned on this task",
                "b_text": r[5],
                "test": TEST_WORDS[t.decisive if t.decisive == "time" else t.success_test],
                "p": t.p,
                "p_holm": t.holm,
                "n": len(sweep.seeds),
            }
            for r, t in zip(rows, tests, strict=True)
        ],  # fmt: skip
    }


def _k_n(jobs: list[Job]) -> tuple[int, int]:
    return sum(j.solved for j in jobs), len(jobs)


def tuning_summary(names: list[str], tuned_dir: Path) -> dict[str, Any]:
    """A row per tuned config: its trial table summarised (``<name>.trials.csv``), and each file's header
    (how it was made)."""
    rows = []
    for name in names:
        table = tuned_dir / f"{name}.trials.csv"
        if not table.is_file():
            rows.append([f"`{name}`", "no trial table in this checkout", "", "", ""])
            continue
        with table.open() as f:
            trials = list(csv.DictReader(f))
        done = [t for t in trials if t["objective"]]
        best = max(done, key=lambda t: float(t["objective"]))
        lr = float(best["optim.lr"])
        edges = (math.log10(lr / LR_RANGE[0]), math.log10(LR_RANGE[1] / lr))
        middle = median(float(t["objective"]) for t in done) or 0.0
        rows.append(
            [
                f"`{name}`",
                str(len(trials)),
                str(sum(t["seeds_solved"] == "2" for t in done)),
                f"{float(best['objective']):.3f} (trial {best['trial']}), {middle:.3f}",
                f"{lr:.2g} ({edges[0]:.1f} above {LR_RANGE[0]:g}, {edges[1]:.1f} below {LR_RANGE[1]:g})",
            ]
        )
    header = [
        "tuned config",
        "trials",
        "trials solving both seeds",
        "objective: best (trial), median",
        "best lr (decades from the range's edges)",
    ]
    return {"table": Table(header, rows), "headers": [(n, _header(tuned_dir / f"{n}.yaml")) for n in names]}


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
