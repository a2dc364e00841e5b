"""The memory preset's section: each cell's horizon on tasks that need order, beside order-free baselines.

Per task (temporal order, recall among key distractors, copy), from the adaptive grid's runs
(``rnn_scratch.study.adaptive``), as data for ``templates/sections/memory.md.j2``:

* **Order-free baselines** at every length run: the fixed integrator and the symbol counts, each with a
  trained softmax read-out (``rnn_scratch.tasks.order_free``), against the task's solved rule; the
  fixed recurrences of ``fixed_recurrence.csv`` where the page folder has one.
* **Success against T**: k/n [exact 95%], a row per length and a column per cell; ``not run`` past a
  length where every seed failed (the planner never ran it; it is not counted as a failure).
* **Learning rates**: per cell the lr its runs used and what it rests on (the grid, the length, the
  tuning seeds solved; ``rnn_scratch.study.lr_choices``), flagged where no grid point solved a seed.
* **Training sequences to solve**: Kaplan-Meier medians, unsolved runs censored at the budget.
* **Horizons**: where a cell's outcomes are *separated* on the grid (every seed solved at every length up
  to T_a, none from the next one, T_b), the bracket "between T_a and T_b": the data place it nowhere more
  finely, so no interval is claimed. Else the logistic fit's T50 (``rnn_scratch.study.horizon``) with its
  percentile bootstrap over seeds, never widened to the grid.
* **The contrast** a finding rests on: per task, the cell that solved most runs against the one that
  solved fewest, Fisher's exact test at the length where their counts differ most, Holm over the tasks.
* **Seeds a contrast needs**: exact power of Fisher's test of two cells' success at one length.
* **The figures** (``rnn_scratch.study.pages.memory_figures``): the headline (success against T, a panel
  per task) and accuracy, time to solve and decay against λ_1, each cell in the headline's colour.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import numpy as np
import yaml
from scipy import stats

from rnn_scratch.models.registry import model_cell, model_names
from rnn_scratch.study.baselines import fixed_memory_reach, fixed_recurrence_rows, fixed_table, order_free
from rnn_scratch.study.horizon import BOOTSTRAP, Outcome, cells_in_order, horizon, outcomes, separated
from rnn_scratch.study.lr_choices import lr_choice
from rnn_scratch.study.presets import Page
from rnn_scratch.study.render import Table
from rnn_scratch.study.runs import Job
from rnn_scratch.study.stats import fisher, holm, kaplan_meier, success_text
from rnn_scratch.tasks.registry import TASKS, task_words

POWER_PAIRS = ((0.9, 0.1), (0.8, 0.2), (0.7, 0.3))
ALPHA, POWER = 0.05, 0.8


def section(page: Page) -> dict[str, Any]:
    """The per-task tables, horizons and contrasts, and the figures (drawn into the page's folder)."""
    from rnn_scratch.study.pages.memory_curves import curve_tables
    from rnn_scratch.study.pages.memory_figures import draw

    jobs = page.sweep.jobs
    params = (yaml.safe_load(page.preset.config.read_text()) or {}).get("hydra", {}).get("sweeper", {})
    listed = {k.lstrip("+"): str(v).split(",") for k, v in (params.get("params") or {}).items()}
    ran = [j.overrides.get("task", "") for j in jobs]
    names = list(dict.fromkeys([t for t in listed.get("task", []) if t in ran] + ran))
    every = cells_in_order(outcomes(jobs), listed.get("cell"))
    tasks = [found for name in names if (found := task_data(page, name, every)) is not None]
    for p, task in zip(holm(t["contrast"]["p"] for t in tasks), tasks, strict=True):
        task["contrast"]["p_holm"] = p
        task["contrast"]["holds"] = p < ALPHA
    labels = {c: label(jobs, c) for c in every}
    figures = draw(page.sweep, tasks, every, labels, page.out)
    done = [j for j in jobs if j.finished]
    axis = {t: getattr(TASKS.get(t), "length_axis", "T") for t in names}
    return {
        "tasks": tasks,
        "curves": curve_tables(jobs, labels, page.out, axis),
        "cells": [labels[c] for c in every],
        "figures": figures,
        # a table holds no loss curves: the runs' figure (drawn before the figure rules) is left out
        "hide": ("losses",) if not any(j.profile for j in jobs) else (),
        "own_tables": True,
        "power": power(len(page.sweep.seeds)),
        "alpha": ALPHA,
        "bootstrap": BOOTSTRAP,
        "compute": {"runs": len(done), "core_s": sum(float(j.metrics.get("wall_time_s") or 0) for j in done)},
    }


def task_data(page: Page, task: str, every: list[str]) -> dict[str, Any] | None:
    """One task's tables, horizons and headline contrast."""
    mine = [j for j in page.sweep.jobs if j.overrides.get("task") == task]
    results = outcomes(mine)
    if not results:
        return None
    cells = [c for c in every if any(r.cell == c for r in results)]
    labels = {c: label(mine, c) for c in cells}
    budget = max(r.budget for r in results)

    def km(runs: list[Outcome]) -> str:
        found = kaplan_meier([r.sequences for r in runs], [r.solved for r in runs]).median
        return f"{found:,.0f}" if found is not None else f"> {budget:,.0f}"

    horizons = []
    for c in cells:
        bracket = separated(results, c)
        fit = horizon(results, c)
        mine_c = [r.solved for r in results if r.cell == c]
        horizons.append(
            {
                "cell": labels[c],
                "bracket": bracket,
                "fit": fit.text(),
                "solved": f"{sum(mine_c)}/{len(mine_c)}",
            }
        )
    fixed = fixed_recurrence_rows(page.out / "fixed_recurrence.csv", task)
    return {
        "name": task,
        "words": task_words(task),
        "budget": budget,
        "results": results,
        "cells": cells,
        "labels": labels,
        "order_free": order_free(mine),
        "fixed": fixed_table(fixed),
        "fixed_reach": fixed_memory_reach(fixed) if fixed else None,
        "fixed_lengths": list(fixed),
        "overturned": sum(r.overturned for r in results),
        "verdicts": sum(r.solved or r.overturned for r in results),
        "success": by_length(results, cells, labels, _solved),
        "sequences": by_length(results, cells, labels, km),
        "horizons": horizons,
        "lrs": lr_table(page, task, cells, labels, mine),
        "contrast": contrast(results, cells, labels),
    }


def label(jobs: list[Job], cell: str) -> str:
    """What a cell is, in its registry's words and the run's settings: "tanh RNN, orthogonal init",
    "IRNN (ReLU, W_hh = I), tuned lr 1.1e-04" ("tuned, lr per task" where its runs' lrs differ); the
    cell's name without a run. A tuned cell is known by its record's identity (``tuned_on``), or for runs
    from before it by the cell's config."""
    job = next((j for j in jobs if j.overrides.get("cell") == cell and j.config), None)
    config = job.config if job else {}
    model = config.get("model") or {}
    if model.get("name") not in model_names():
        return cell
    words, details, init_named = model_cell(model["name"]).describe(model)
    parts = [words, *([] if init_named else [f"{model.get('init', 'default')} init"]), *details]
    identity = (job.metrics.get("identity") or {}) if job else {}
    tuned = identity.get("tuned_on") if identity else tuned_config(cell)
    if tuned:
        mine = [j for j in jobs if j.overrides.get("cell") == cell and j.config]
        lrs = {(j.config.get("optim") or {}).get("lr", 0) for j in mine}
        one = len(lrs) == 1  # else its lr was chosen per task: the page's lr tables name each
        parts.append(
            f"tuned lr {(config.get('optim') or {}).get('lr', 0):.1e}" if one else "tuned, lr per task"
        )
    return ", ".join(parts)


@cache
def tuned_config(cell: str) -> str | None:
    """The task the ``cell`` group's config was tuned on (its tuned defaults' ``tuned_on``), else None."""
    from pathlib import Path

    configs = Path(__file__).resolve().parents[2] / "configs"
    try:
        data = yaml.safe_load((configs / "cell" / f"{cell}.yaml").read_text()) or {}
    except OSError:
        return None
    for entry in data.get("defaults") or []:
        if isinstance(entry, dict) and (name := entry.get("/tuned@_global_")):
            tuned = yaml.safe_load((configs / "tuned" / f"{name}.yaml").read_text()) or {}
            return str(tuned.get("tuned_on") or "") or None
    return None


def lr_table(page: Page, task: str, cells: list[str], labels: dict[str, str], jobs: list[Job]) -> Table:
    """A row per cell: the lr its runs used (each distinct one) and what it rests on
    (``rnn_scratch.study.lr_choices``: the grid, the tuning length, the tuning seeds solved)."""
    configs = page.preset.config.parents[1]
    rows = []
    for c in cells:
        used = sorted({float(lr) for j in jobs if j.overrides.get("cell") == c
                       and (lr := (j.config.get("optim") or {}).get("lr")) is not None})  # fmt: skip
        choice = lr_choice(configs, task, c)
        said = choice.words() if choice else "no grid run: the preset's lr, or the tuned cell's own"
        rows.append([labels[c], ", ".join(f"{lr:g}" for lr in used), said])
    return Table(["cell", "lr (runs)", "chosen on (scripts/lr_grid.py; tuning seeds 100, 101)"], rows)


def by_length(results: list[Outcome], cells: list[str], labels: dict[str, str], text: Any) -> Table:
    """A row per length, a column per cell: ``text`` of that cell's runs there; ``not run`` past a length
    where every seed of the cell failed."""
    lengths = sorted({r.T for r in results})
    rows = []
    for t in lengths:
        row = [str(t)]
        for c in cells:
            runs = [r for r in results if r.cell == c and t == r.T]
            failed = [
                u
                for u in lengths
                if not any(r.solved for r in results if r.cell == c and u == r.T)
                and any(r.cell == c and u == r.T for r in results)
            ]
            row.append(text(runs) if runs else "not run" if failed and t > min(failed) else "")
        rows.append(row)
    return Table(["T", *(labels[c] for c in cells)], rows)


def _solved(runs: list[Outcome]) -> str:
    return success_text(sum(r.solved for r in runs), len(runs))


def contrast(results: list[Outcome], cells: list[str], labels: dict[str, str]) -> dict[str, Any]:
    """The cell that solved the most runs against the one that solved the fewest, at the length where
    their success counts differ most (the shortest such): Fisher's exact test there."""
    solved = {c: sum(r.solved for r in results if r.cell == c) for c in cells}
    best, worst = max(cells, key=lambda c: solved[c]), min(cells, key=lambda c: solved[c])
    shared = sorted({r.T for r in results if r.cell == best} & {r.T for r in results if r.cell == worst})

    def k_n(c: str, t: int) -> tuple[int, int]:
        runs = [r.solved for r in results if r.cell == c and t == r.T]
        return sum(runs), len(runs)

    if best == worst or not shared:
        return {"best": labels[best], "worst": labels[worst], "T": None, "p": 1.0}
    gap = {t: k_n(best, t)[0] / k_n(best, t)[1] - k_n(worst, t)[0] / k_n(worst, t)[1] for t in shared}
    at = max(shared, key=lambda t: (gap[t], -t))
    (k1, n1), (k2, n2) = k_n(best, at), k_n(worst, at)
    return {
        "best": labels[best],
        "worst": labels[worst],
        "T": at,
        "a": success_text(k1, n1),
        "b": success_text(k2, n2),
        "p": fisher(k1, n1, k2, n2),
    }


@cache
def fisher_power(p1: float, p2: float, n: int, alpha: float = ALPHA) -> float:
    """Exact power of the two-sided Fisher test of k1/n against k2/n when the true rates are p1, p2."""
    k = np.arange(n + 1)
    w1, w2 = stats.binom.pmf(k, n, p1), stats.binom.pmf(k, n, p2)
    found = 0.0
    for a in range(n + 1):
        for b in range(n + 1):
            if w1[a] * w2[b] > 1e-12 and stats.fisher_exact([[a, n - a], [b, n - b]])[1] <= alpha:
                found += w1[a] * w2[b]
    return found


def seeds_needed(p1: float, p2: float, most: int = 60) -> int | None:
    """The fewest seeds per cell for which ``fisher_power`` reaches ``POWER``; None beyond ``most``."""
    return next((n for n in range(2, most + 1) if fisher_power(p1, p2, n) >= POWER), None)


def power(n: int) -> dict[str, Any]:
    """Seeds per cell for 80% power by true success rates, and the p of the most extreme split at n."""
    return {
        "pairs": [(p1, p2, seeds_needed(p1, p2)) for p1, p2 in POWER_PAIRS],
        "n": n,
        "best": float(stats.fisher_exact([[n, 0], [0, n]])[1]),
        "alpha": ALPHA,
        "power": POWER,
    }
