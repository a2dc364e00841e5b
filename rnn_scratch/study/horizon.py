"""How far each cell reaches: success against the sequence length T, and the T at which it fails.

A horizon sweep runs every cell (``cell=rnn,rnn_orthogonal,irnn,lstm,gru``) at every length of a
log-spaced grid and several seeds, each run with the same budget in training sequences, stopping when
solved. Per cell and length the outcome is k of n seeds solved, written ``k/n [lo, hi]`` with the 95%
exact (Clopper-Pearson) interval (``rnn_scratch.study.stats``), and the training sequences to solve as
the Kaplan-Meier median (runs that never solved censored at the budget).

**The horizon** of a cell is the T at which it succeeds half the time. Method: logistic regression of
each run's outcome y_i in {0, 1} on x_i = ln T_i,

    P(solved | T) = sigmoid(a + b ln T),       horizon T_50 = exp(-a / b)   (b < 0),

fitted by maximum likelihood (Newton / IRLS) with a weak ridge penalty ``RIDGE * b^2 / 2``: when the
outcomes are perfectly separated (every seed solves up to some T, none beyond) the unpenalised
estimate does not exist (b -> -inf); the penalty keeps b finite and puts T_50 between the last length
that was solved and the first that was not. Honest ends: no run failed at any length -> ``> max T``;
no run solved at any length -> ``< min T``; a fitted T_50 outside the grid is reported as beyond that
end, never extrapolated. **Interval**: a percentile bootstrap over seeds (``BOOTSTRAP`` resamples of
the seeds with replacement, each seed keeping its outcomes at every length; the fit redone each time),
its ends also written ``> max T`` / ``< min T`` when more than 2.5% of resamples fall beyond the grid.
**Separated outcomes**: where every seed solved at every length up to T_a and none from the next length
T_b on (``separated``), the data cannot place T_50 inside [T_a, T_b] at all (every resample agrees, and
the fit's value there is the ridge's choice), so the page reports the bracket "between T_a and T_b", says a
finer grid is needed, and claims no interval; an interval is never widened to the grid.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from rnn_scratch.models.registry import cell_names
from rnn_scratch.study.baselines import order_free
from rnn_scratch.study.render import Table, split_columns
from rnn_scratch.study.runs import Job
from rnn_scratch.study.stats import kaplan_meier, proportion_ci, success_text
from rnn_scratch.study.trials import axis_offset

RIDGE = 1e-2  # on the slope only: keeps the fit finite under perfect separation, else negligible
BOOTSTRAP = 2000
CELL_KEY = "cell"


@dataclass
class Outcome:
    """One run: cell, length, seed, solved or not, training sequences used (to solve, else the budget)."""

    cell: str
    T: int
    seed: str
    solved: bool
    sequences: float
    budget: float
    diverged: bool = False
    overturned: bool = False  # solved at an eval, but the fresh eval did not confirm it


def outcomes(jobs: Iterable[Job], cell_key: str = CELL_KEY) -> list[Outcome]:
    """The finished runs as outcomes (a diverged run counts as not solved; missing ones are left out).
    A job without ``cell_key`` in its overrides is named by its model (``model=lstm`` -> ``lstm``).
    Solved and the training sequences used are ``Job.solved`` and ``Job.time_to_solve``: a run not
    solved (a pass the fresh eval overturned included) is censored at its budget."""
    out = []
    for job in jobs:
        if not job.finished:
            continue
        config = job.config
        batch = float(config.get("batch_size") or 1)
        cell = job.overrides.get(cell_key) or str((config.get("model") or {}).get("name"))
        budget = float(config.get("steps") or 0) * batch
        found = job.time_to_solve
        used = budget if found is None else found[0]
        task = job.overrides.get("task") or str((config.get("task") or {}).get("name"))
        T = int(config.get("seq_len", 0)) - axis_offset(task)  # the task's own axis (copy: Arjovsky's T)
        seed = str(config.get("seed"))
        out.append(Outcome(cell, T, seed, job.solved, used, budget, job.record.diverged, job.overturned))
    return out


def fit_logistic(x: np.ndarray, y: np.ndarray, ridge: float = RIDGE, iters: int = 50) -> tuple[float, float]:
    """(a, b) maximising sum_i [y_i ln p_i + (1 - y_i) ln(1 - p_i)] - ridge b^2 / 2, p_i = sigmoid(a + b x_i).

    x: (n,) the regressor (here ln T), y: (n,) outcomes in {0, 1}. Newton's method on the concave
    penalised log-likelihood; x is centred first so the intercept is well conditioned."""
    centre = float(x.mean())
    design = np.stack([np.ones_like(x), x - centre], axis=1)  # (n, 2)
    theta = np.zeros(2)
    penalty = np.diag([1e-8, ridge])  # a tiny one on the intercept too: all-0 or all-1 y stays finite
    for _ in range(iters):
        p = 1.0 / (1.0 + np.exp(-(design @ theta)))
        grad = design.T @ (y - p) - penalty @ theta
        hess = design.T @ (design * (p * (1 - p))[:, None]) + penalty
        delta = np.linalg.solve(hess, grad)
        theta = theta + delta
        if np.abs(delta).max() < 1e-10:
            break
    a_c, b = float(theta[0]), float(theta[1])
    return a_c - b * centre, b


def horizon_of(T: np.ndarray, y: np.ndarray) -> float:
    """T_50 from outcomes y: (n,) at lengths T: (n,); +inf beyond the grid's top, 0 below its bottom."""
    lo, hi = float(T.min()), float(T.max())
    if y.all():
        return math.inf
    if not y.any():
        return 0.0
    a, b = fit_logistic(np.log(T), y.astype(np.float64))
    if b >= 0:  # success does not fall with T: no horizon in this grid
        return math.inf if a + b * math.log(hi) > 0 else 0.0
    log_t50 = -a / b  # compared in logs: a nearly flat fit puts T50 beyond any float
    return math.inf if log_t50 > math.log(hi) else 0.0 if log_t50 < math.log(lo) else math.exp(log_t50)


@dataclass
class Horizon:
    """A cell's horizon: the estimate and its bootstrap interval (inf: beyond the grid; 0: below it)."""

    cell: str
    estimate: float
    low: float
    high: float
    lengths: list[int] = field(default_factory=list)

    def _one(self, value: float) -> str:
        if math.isinf(value):
            return f"> {max(self.lengths)}"
        if value == 0:
            return f"< {min(self.lengths)}"
        return f"{value:.0f}"

    def text(self) -> str:
        """``68 [41, 120]``, ``> 200 [140, > 200]`` or ``< 10``."""
        if self.low == self.high == self.estimate:
            return self._one(self.estimate)
        return f"{self._one(self.estimate)} [{self._one(self.low)}, {self._one(self.high)}]"


def horizon(results: list[Outcome], cell: str, resamples: int = BOOTSTRAP, seed: int = 0) -> Horizon:
    """The horizon of ``cell`` from its outcomes, with a percentile bootstrap over seeds."""
    mine = [r for r in results if r.cell == cell]
    T = np.array([r.T for r in mine], dtype=np.float64)
    y = np.array([r.solved for r in mine], dtype=bool)
    lengths = sorted({r.T for r in mine})
    estimate = horizon_of(T, y)
    seeds = sorted({r.seed for r in mine})
    by_seed = [np.array([i for i, r in enumerate(mine) if r.seed == s]) for s in seeds]
    rng = np.random.default_rng(seed)
    draws = []
    for _ in range(resamples):
        rows = np.concatenate([by_seed[i] for i in rng.integers(0, len(seeds), len(seeds))])
        draws.append(horizon_of(T[rows], y[rows]))
    low, high = (float(np.percentile(draws, q, method="lower" if q < 50 else "higher")) for q in (2.5, 97.5))
    return Horizon(cell, estimate, low, high, lengths)


def separated(results: list[Outcome], cell: str) -> tuple[int, int] | None:
    """(T_a, T_b) when every seed solved at every length up to T_a and none at any length from T_b, the
    next length run; None when the outcomes overlap (or never switch)."""
    lengths = sorted({r.T for r in results if r.cell == cell})
    solved = {t: [r.solved for r in results if r.cell == cell and t == r.T] for t in lengths}
    for a, b in zip(lengths, lengths[1:], strict=False):
        below, above = [t for t in lengths if t <= a], [t for t in lengths if t >= b]
        if all(all(solved[t]) for t in below) and not any(any(solved[t]) for t in above):
            return a, b
    return None


def cells_in_order(results: list[Outcome], order: list[str] | None = None) -> list[str]:
    """The cells found, in the sweep's order (the preset's ``+cell`` list), then any others: registered cells
    in the registry's order, the rest as found."""
    found = list(dict.fromkeys(r.cell for r in results))
    listed = list(dict.fromkeys(order or []))
    registry = cell_names()
    rest = sorted(
        (c for c in found if c not in listed),
        key=lambda c: registry.index(c) if c in registry else len(registry),
    )
    return [c for c in listed if c in found] + rest


def by_length(results: list[Outcome], cells: list[str], text: Callable[[list[Outcome]], str]) -> list[Table]:
    """A row per cell, a column per T, ``text`` of that cell's runs at that T (``-``: none); split into
    tables of at most 12 columns (``render.split_columns``)."""
    lengths = sorted({r.T for r in results})
    rows = [
        [
            c,
            *(
                text(runs) if (runs := [r for r in results if r.cell == c and t == r.T]) else "-"
                for t in lengths
            ),
        ]
        for c in cells
    ]
    return split_columns(Table(["cell", *(f"T = {t}" for t in lengths)], rows))


def _solved(runs: list[Outcome]) -> str:
    text, diverged = success_text(sum(r.solved for r in runs), len(runs)), sum(r.diverged for r in runs)
    return f"{text}, {diverged} diverged" if diverged else text


def _sequences(runs: list[Outcome]) -> str:
    """The Kaplan-Meier median of training sequences to solve (``> budget``: fewer than half solved)."""
    km = kaplan_meier([r.sequences for r in runs], [r.solved for r in runs]).median
    return f"{km:,.0f}" if km is not None else f"> {max(r.budget for r in runs):,.0f}"


def rates(results: list[Outcome], cell: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(T, rate, exact low, exact high), each (m,), over the lengths ``cell`` ran at."""
    lengths = sorted({r.T for r in results if r.cell == cell})
    rows = []
    for t in lengths:
        runs = [r for r in results if r.cell == cell and t == r.T]
        k, n = sum(r.solved for r in runs), len(runs)
        rows.append((t, k / n, *proportion_ci(k, n)))
    arr = np.array(rows, dtype=np.float64).reshape(-1, 4)
    return arr[:, 0], arr[:, 1], arr[:, 2], arr[:, 3]


def horizon_words(results: list[Outcome], h: Horizon) -> str:
    """``between 20 and 50`` where the cell's outcomes are separated, else ``h.text()``."""
    bracket = separated(results, h.cell)
    return f"between {bracket[0]} and {bracket[1]}" if bracket else h.text()


def logistic_curve(results: list[Outcome], cell: str) -> tuple[np.ndarray, np.ndarray] | None:
    """The fitted P(solved | T) over the cell's lengths (200 points, log-spaced); None below 2 lengths."""
    mine = [r for r in results if r.cell == cell]
    T = np.array([r.T for r in mine], dtype=np.float64)
    if len(set(T.tolist())) < 2:
        return None
    a, b = fit_logistic(np.log(T), np.array([r.solved for r in mine], dtype=np.float64))
    grid = np.geomspace(T.min(), T.max(), 200)
    return grid, 1.0 / (1.0 + np.exp(-(a + b * np.log(grid))))


def plot_horizons(results: list[Outcome], horizons: list[Horizon], path: Path, title: str) -> bool:
    """Success rate against T (log x): per cell its points with exact 95% bars and its fitted logistic curve,
    each fitted horizon marked (not where the outcomes are separated: there the bracket is the answer)."""
    if not results:
        return False
    from rnn_scratch.study.figure_rules import frame_single_x, legend_outside, make_room, readable
    from rnn_scratch.study.plots import plt  # the Agg backend, set up once there

    fig, ax = plt.subplots(figsize=(7.0, 4.6), dpi=90)
    for i, h in enumerate(horizons):
        T, rate, lo, hi = rates(results, h.cell)
        colour = f"C{i}"
        shift = 1.0 + 0.03 * (i - (len(horizons) - 1) / 2)  # spread the bars so they do not overlap
        words = horizon_words(results, h)
        said = words if words.startswith(("<", ">", "between")) else f"= {words}"
        ax.errorbar(
            T * shift,
            rate,
            yerr=[rate - lo, hi - rate],
            color=colour,
            marker="o",
            ms=4,
            capsize=2,
            lw=0,
            elinewidth=1.0,
            label=f"{h.cell}: T50 {said}",
        )
        if (curve := logistic_curve(results, h.cell)) is not None:
            ax.plot(*curve, color=colour, lw=1.4)
        if 0 < h.estimate < math.inf and separated(results, h.cell) is None:
            ax.axvline(h.estimate, color=colour, ls=":", lw=1.2)
            ax.plot([h.estimate], [0.5], marker="v", color=colour, ms=8)
    lengths = sorted({r.T for r in results})
    ax.axhline(0.5, color="grey", lw=0.8, ls="--")
    ax.set_xscale("log")
    shown = readable(lengths)  # every length a tick, labels a fifth of a decade apart
    ax.set_xticks(lengths, [str(t) if t in shown else "" for t in lengths])
    ax.minorticks_off()
    frame_single_x(ax, lengths)  # one length: centred, not spread by the bars' shifts
    ax.set_ylim(-0.03, 1.03)
    ax.set_xlabel("sequence length T (log scale)")
    ax.set_ylabel("fraction of seeds solved (95% exact interval)")
    ax.set_title(title, fontsize=10)
    legend_outside(ax, fontsize=8)
    make_room(fig)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return True


def solved_of(results: list[Outcome], cell: str) -> str:
    """``k/n``: the cell's runs solved, over every length."""
    mine = [r.solved for r in results if r.cell == cell]
    return f"{sum(mine)}/{len(mine)}"


def horizon_section(
    jobs: list[Job], out: Path, title: str, order: list[str] | None = None
) -> tuple[dict[str, Any], Path | None]:
    """The horizon part of a page, as data for ``templates/sections/horizon.md.j2``: the k/n tables, the
    horizons, the order-free baselines, and the figure (written to ``out``)."""
    results = outcomes(jobs)
    if not results:
        return {}, None
    cells = cells_in_order(results, order)
    found = [horizon(results, c) for c in cells]
    figure = out / "horizon.png"
    plotted = plot_horizons(results, found, figure, title)
    rows = [[h.cell, horizon_words(results, h), solved_of(results, h.cell)] for h in found]
    return {
        "budgets": sorted({r.budget for r in results}),
        "success": by_length(results, cells, _solved),
        "sequences": by_length(results, cells, _sequences),
        "ridge": RIDGE,
        "bootstrap": BOOTSTRAP,
        "horizons": Table(["cell", "T50 [bootstrap range]", "runs solved"], rows),
        "order_free": order_free(jobs),
    }, figure if plotted else None
