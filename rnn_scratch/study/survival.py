"""Time to solve as an interval-censored accelerated-failure-time model in ln T (``lifelines``).

A run's time to solve t (training sequences) is known only as an interval (``Trial.lower``,
``Trial.upper``]: a solved run between its last failing eval and its solving one, an unsolved run
beyond its budget (right-censored, upper = inf). The model, per task,

    ln t_i = beta_0 + beta_T ln T_i + sum_c gamma_c [cell_i = c] + sigma eps_i,

eps standard normal (``LogNormalAFTFitter``; ``weibull`` takes ``WeibullAFTFitter``, eps extreme-value),
fitted by maximum likelihood on the intervals (``fit_interval_censoring``). exp(gamma_c) is cell c's
**time ratio** against the reference cell at equal T (2: it needs twice the sequences), with the Wald
95% interval exp(gamma_c +- 1.96 se) and its p; T^beta_T is how the time to solve grows with the length.
The reference is the cell that solved most runs (ratios then mostly read "x times slower than the
best"), unless named. A cell that solved no run has no time to solve to model (gamma_c -> inf): it is
left out of the fit and listed with ``estimable`` False. Times are scaled to thousands of sequences and
a lower bound of 0 (solved before the first eval) becomes ``FLOOR`` (left-censored, as the log-normal
likelihood needs ln of the bound) before fitting; ratios do not depend on the scale.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field

import numpy as np

from rnn_scratch.study.trials import Trial, cells_of

SCALE = 1000.0  # sequences per unit of time in the fit
FLOOR = 1e-6  # a lower bound of 0 in the fit's units (a thousandth of a sequence)


@dataclass(frozen=True)
class TimeRatio:
    """A cell's time to solve against the reference cell's at equal T (1.0 for the reference)."""

    cell: str
    runs: int
    solved: int
    estimable: bool  # False: the cell solved no run, left out of the fit
    ratio: float | None
    low: float | None  # Wald 95% interval of the ratio
    high: float | None
    p: float | None  # H0: ratio 1 (None for the reference)


@dataclass(frozen=True)
class TimeModel:
    """The AFT fit of one task's trials."""

    task: str
    distribution: str  # lognormal | weibull
    reference: str | None
    runs: int  # in the fit
    converged: bool
    message: str = ""  # why not, when not converged (or no cell solved)
    length_exponent: float | None = None  # beta_T: time to solve ~ T^beta_T at a fixed cell
    length_low: float | None = None
    length_high: float | None = None
    ratios: list[TimeRatio] = field(default_factory=list)


def _frame(trials: list[Trial], cells: list[str], reference: str) -> tuple[object, dict[str, str]]:
    """lifelines' DataFrame: lower, upper (thousands of sequences), ln_T and a dummy per non-reference
    cell (named c0, c1, ...: formula-safe), and the dummies' names by cell."""
    import pandas as pd  # lifelines' own dependency: only this fit needs it

    names = {c: f"c{i}" for i, c in enumerate(c for c in cells if c != reference)}
    lower = np.array([t.lower for t in trials]) / SCALE
    frame = {
        "lower": np.maximum(lower, FLOOR),
        "upper": np.array([t.upper for t in trials]) / SCALE,
        "ln_T": np.log([float(t.length) for t in trials]),
        **{name: np.array([float(t.cell == c) for t in trials]) for c, name in names.items()},
    }
    return pd.DataFrame(frame), names


def time_model(
    trials: list[Trial],
    cells: list[str] | None = None,
    reference: str | None = None,
    distribution: str = "lognormal",
) -> TimeModel:
    """The AFT fit of one task's trials (see the module's docstring)."""
    from lifelines import LogNormalAFTFitter, WeibullAFTFitter
    from lifelines.exceptions import ConvergenceError

    if distribution not in ("lognormal", "weibull"):
        raise ValueError(f"distribution must be lognormal or weibull, got {distribution!r}")
    cells = cells or cells_of(trials)
    task = trials[0].task if trials else ""
    counts = {
        c: (sum(t.cell == c for t in trials), sum(t.solved for t in trials if t.cell == c)) for c in cells
    }
    fitted = [c for c in cells if counts[c][1] > 0]
    if not fitted:
        return TimeModel(task, distribution, None, 0, False, "no run solved")
    reference = reference if reference in fitted else max(fitted, key=lambda c: counts[c][1])
    used = [t for t in trials if t.cell in fitted]
    frame, names = _frame(used, fitted, reference)
    formula = " + ".join(["ln_T", *names.values()])
    if len({t.length for t in used}) < 2:
        formula = " + ".join(names.values()) or "1"
    fitter = LogNormalAFTFitter() if distribution == "lognormal" else WeibullAFTFitter()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # lifelines' advice on convergence; the outcome is checked below
            fitter.fit_interval_censoring(frame, "lower", "upper", formula=formula)
    except (ConvergenceError, ValueError, np.linalg.LinAlgError) as err:
        return TimeModel(task, distribution, reference, len(used), False, str(err).strip().splitlines()[0])
    summary = fitter.summary.loc[fitter.summary.index.get_level_values(0)[0]]  # mu_ or lambda_ rows

    def row(name: str) -> tuple[float, float, float, float]:
        r = summary.loc[name]
        return (float(r["coef"]), float(r["coef lower 95%"]), float(r["coef upper 95%"]), float(r["p"]))

    ratios = []
    for c in cells:
        n, k = counts[c]
        if c == reference:
            ratios.append(TimeRatio(c, n, k, True, 1.0, 1.0, 1.0, None))
        elif c in names:
            coef, lo, hi, p = row(names[c])
            ratios.append(TimeRatio(c, n, k, True, math.exp(coef), math.exp(lo), math.exp(hi), p))
        else:
            ratios.append(TimeRatio(c, n, k, False, None, None, None, None))
    beta = row("ln_T") if "ln_T" in summary.index else None
    return TimeModel(
        task, distribution, reference, len(used), True,
        length_exponent=None if beta is None else beta[0], length_low=None if beta is None else beta[1],
        length_high=None if beta is None else beta[2], ratios=ratios,
    )  # fmt: skip
