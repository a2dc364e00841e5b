"""Success against ln T, a curve per cell: each cell's T50 with a seed-cluster bootstrap interval, and
contrasts between cells over the whole curve, Holm-corrected.

**Model.** Each run i of a task solved (y_i = 1) or not; with x_i = ln T_i,

    P(y_i = 1) = sigmoid(a_c + b_c x_i)        (c the run's cell)

the logistic regression ``solved ~ C(cell) * ln T``: the cell a factor with its own intercept and slope.
Its likelihood factorises over cells, so each cell's (a_c, b_c) is fitted on its own runs
(``statsmodels`` ``Logit``, Newton) and equals the joint fit's. T50 = exp(-a_c / b_c) (b_c < 0): the
length at which the cell solves half the time.

**Separation.** Where a cell's outcomes are separated in T (every solved run shorter than, or as long
as, every failed one) the maximum-likelihood estimate does not exist (b_c -> -inf); the fit is reported
``separated`` and T50 as the bracket the raw data give: between the longest solved length and the
shortest failed one (equal ends: quasi-separation, the step sits at that length). ``all_solved`` /
``none_solved``: T50 beyond the longest / below the shortest length run. ``not_falling``: success does
not fall with T (b_c >= 0, or solved runs only at the longer lengths), so there is no T50.

**Interval.** A percentile bootstrap over seeds (seeds are the clusters: a seed's runs at every length
are resampled together), ``resamples`` draws from ``np.random.default_rng(rng_seed)``, refitted each
time; a draw whose outcomes are separated contributes its bracket's geometric midpoint (the MLE does not
exist; ``degenerate_resamples`` counts them), one with every run solved (none solved) lies beyond
(below) the grid. A low end below the shortest length run is None ("below the grid"), a high end beyond
the longest None ("beyond the grid"); an end is never extrapolated.

**Contrasts.** For a pair of cells, the likelihood-ratio test of one curve shared by both against a
curve each: 2 (l_A + l_B - l_AB) against chi2 with df = k_A + k_B - k_AB (k = 2 parameters, 1 where a
cell ran at one length). Each l is the supremum of the log-likelihood, finite under separation too
(``max_loglik``: the step function's saturated-per-length value); a contrast that used such a supremum
is marked ``degenerate`` (its chi2 reference is then an approximation). ``slopes_differ`` asks whether
the data support a slope per cell at all (one shared slope against one each, over the cells whose
curve is estimable). The p-values are Holm-adjusted
over the family returned (``with_holm`` re-adjusts over a larger one, e.g. every task's pairs).
A cluster-permutation test would respect the seed clusters exactly but cannot go below 2 / C(10, 5) =
0.008 at 5 seeds a cell, 0.17 after Holm over 21 pairs: it could decide nothing, so it is not used.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, replace
from itertools import combinations

import numpy as np
import statsmodels.api as sm
import statsmodels.formula.api as smf
from scipy import stats
from statsmodels.stats.multitest import multipletests

from rnn_scratch.study.trials import Trial, cells_of

RESAMPLES = 1000


def separation(x: np.ndarray, y: np.ndarray) -> str | None:
    """``falling`` when every y = 1 has x <= every y = 0's (complete or quasi-separation, success
    falling), ``rising`` the other way, None when the outcomes overlap (or are all one value)."""
    ones, zeros = x[y > 0.5], x[y < 0.5]
    if ones.size == 0 or zeros.size == 0:
        return None
    if ones.max() <= zeros.min():
        return "falling"
    return "rising" if ones.min() >= zeros.max() else None


def logit(x: np.ndarray, y: np.ndarray) -> tuple[float, float, float]:
    """(a, b, log-likelihood) of P(y = 1) = sigmoid(a + b x) by maximum likelihood; the outcomes
    must overlap (``separation`` None) and x take at least 2 values."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # convergence chatter on near-separated draws; the result is checked
        fit = sm.Logit(y, np.column_stack([np.ones_like(x), x])).fit(disp=0, method="newton", maxiter=100)
    a, b = (float(v) for v in fit.params)
    return a, b, float(fit.llf)


def _saturated(x: np.ndarray, y: np.ndarray) -> float:
    """sum over distinct x of n_x [p ln p + (1 - p) ln (1 - p)], p the success fraction at x."""
    total = 0.0
    for v in np.unique(x):
        at = y[x == v]
        p = float(at.mean())
        total += at.size * sum(q * math.log(q) for q in (p, 1 - p) if q > 0)
    return total


def max_loglik(x: np.ndarray, y: np.ndarray) -> tuple[float, int, bool]:
    """(the supremum of the logistic log-likelihood, the parameters it has, whether the supremum is
    only approached: all one outcome, separated, or one length). x: (n,) ln T, y: (n,) in {0, 1}."""
    k = min(2, np.unique(x).size)
    if k < 2 or y.all() or not y.any() or separation(x, y) is not None:
        return _saturated(x, y) if k == 2 else _saturated(np.zeros_like(x), y), k, True
    return logit(x, y)[2], k, False


@dataclass(frozen=True)
class CellCurve:
    """A cell's success curve on one task (see the module's docstring for ``fit``)."""

    task: str
    cell: str
    runs: int
    seeds: int
    solved: int
    lengths: tuple[int, ...]
    fit: str = "logistic"  # logistic | separated | all_solved | none_solved | not_falling | one_length
    intercept: float | None = None  # a_c (fit == logistic)
    slope: float | None = None  # b_c, per unit of ln T
    t50: float | None = None  # logistic: exp(-a/b), possibly outside the lengths run (``inside``)
    inside: bool = False  # t50 within [min(lengths), max(lengths)]
    low: float | None = (
        None  # the bootstrap's 2.5% percentile or the raw bracket's bottom; None: below the grid
    )
    high: float | None = None  # the 97.5% percentile or the bracket's top; None: beyond the grid
    interval: str = "none"  # bootstrap | bracket | none
    resamples: int = 0
    degenerate_resamples: int = 0


def _log_t50(x: np.ndarray, y: np.ndarray) -> tuple[float, bool]:
    """(ln T50, degenerate) of one sample: -a/b; +-inf when all or none solved or success does not
    fall; the bracket's midpoint when separated."""
    if y.all():
        return math.inf, True
    if not y.any():
        return -math.inf, True
    sep = separation(x, y)
    if sep == "falling":
        return 0.5 * (float(x[y > 0.5].max()) + float(x[y < 0.5].min())), True
    if sep == "rising" or np.unique(x).size < 2:
        return (math.inf if y.mean() > 0.5 else -math.inf), True
    a, b, _ = logit(x, y)
    if b >= 0:
        return (math.inf if a + b * float(x.max()) > 0 else -math.inf), True
    return -a / b, False


def _end(log_t: float, lo: float, hi: float, open_below: bool) -> float | None:
    """An interval end exp(log_t) on the grid [lo, hi] (logs): None past the open side's end, the
    grid's other end where it lies past that one (an end is never extrapolated)."""
    if (log_t < lo - 1e-12) if open_below else (log_t > hi + 1e-12):
        return None
    return math.exp(min(max(log_t, lo), hi))


def cell_curve(trials: list[Trial], cell: str, resamples: int = RESAMPLES, rng_seed: int = 0) -> CellCurve:
    """The curve of ``cell`` from its trials (one task's), with its seed-cluster bootstrap."""
    mine = [t for t in trials if t.cell == cell]
    if not mine:
        raise ValueError(f"no trial of cell {cell!r}")
    x = np.log(np.array([t.length for t in mine], dtype=np.float64))
    y = np.array([t.solved for t in mine], dtype=np.float64)
    lengths = tuple(sorted({t.length for t in mine}))
    seeds = sorted({t.seed for t in mine})
    base = CellCurve(mine[0].task, cell, len(mine), len(seeds), int(y.sum()), lengths)
    lo, hi = math.log(lengths[0]), math.log(lengths[-1])

    def bracket(fit: str, low: float | None, high: float | None) -> CellCurve:
        return replace(
            base, fit=fit, low=low, high=high, interval="none" if fit == "not_falling" else "bracket"
        )

    if y.all():
        return bracket("all_solved", float(lengths[-1]), None)
    if not y.any():
        return bracket("none_solved", None, float(lengths[0]))
    sep = separation(x, y)
    if sep == "falling":
        solved_max = max(t.length for t in mine if t.solved)
        return bracket("separated", float(solved_max), float(min(t.length for t in mine if not t.solved)))
    if len(lengths) < 2:
        return replace(bracket("one_length", None, None), interval="none")
    a, b, _ = logit(x, y) if sep is None else (math.nan, 0.0, math.nan)
    if sep == "rising" or b >= 0:
        return bracket("not_falling", None, None)
    by_seed = [np.array([i for i, t in enumerate(mine) if t.seed == s]) for s in seeds]
    rng = np.random.default_rng(rng_seed)
    draws, degenerate = [], 0
    for _ in range(resamples):
        rows = np.concatenate([by_seed[i] for i in rng.integers(0, len(seeds), len(seeds))])
        value, bad = _log_t50(x[rows], y[rows])
        draws.append(value)
        degenerate += bad
    low = high = None
    if draws:
        q_lo, q_hi = np.quantile(draws, [0.025, 0.975], method="inverted_cdf")
        low, high = _end(float(q_lo), lo, hi, open_below=True), _end(float(q_hi), lo, hi, open_below=False)
    log_t50 = -a / b
    interval = "bootstrap" if draws else "none"
    inside = lo <= log_t50 <= hi
    return replace(base, intercept=a, slope=b, t50=math.exp(log_t50), inside=inside, low=low, high=high,
                   interval=interval, resamples=resamples, degenerate_resamples=degenerate)  # fmt: skip


def cell_curves(
    trials: list[Trial], cells: list[str] | None = None, resamples: int = RESAMPLES, rng_seed: int = 0
) -> list[CellCurve]:
    """A curve per cell of one task's trials, in ``cells``' order (default: as found)."""
    return [cell_curve(trials, c, resamples, rng_seed) for c in cells or cells_of(trials)]


@dataclass(frozen=True)
class CurveContrast:
    """One pair of cells on one task: a shared curve against one each (likelihood ratio)."""

    task: str
    cell_a: str
    cell_b: str
    statistic: float  # 2 (l_A + l_B - l_AB)
    df: int
    p: float
    holm: float  # Holm-adjusted over the family it was returned in
    degenerate: bool  # some log-likelihood was a supremum under separation


def _xy(trials: list[Trial]) -> tuple[np.ndarray, np.ndarray]:
    x = np.log(np.array([t.length for t in trials], dtype=np.float64))
    return x, np.array([t.solved for t in trials], dtype=np.float64)


def likelihood_ratio(groups: list[list[Trial]]) -> tuple[float, int, float, bool]:
    """(statistic, df, p, degenerate): one curve for all ``groups`` against one curve each."""
    fits = [max_loglik(*_xy(g)) for g in groups]
    pooled = max_loglik(*_xy([t for g in groups for t in g]))
    stat = max(0.0, 2.0 * (sum(f[0] for f in fits) - pooled[0]))
    df = sum(f[1] for f in fits) - pooled[1]
    p = float(stats.chi2.sf(stat, df)) if df > 0 else 1.0
    return stat, df, p, pooled[2] or any(f[2] for f in fits)


def with_holm(contrasts: list[CurveContrast]) -> list[CurveContrast]:
    """The contrasts with ``holm`` adjusted over all of them."""
    if not contrasts:
        return []
    adjusted = multipletests([c.p for c in contrasts], method="holm")[1]
    return [replace(c, holm=float(q)) for c, q in zip(contrasts, adjusted, strict=True)]


def pairwise_contrasts(trials: list[Trial], cells: list[str] | None = None) -> list[CurveContrast]:
    """Every pair of cells of one task's trials, Holm over the pairs."""
    cells = cells or cells_of(trials)
    found = []
    for a, b in combinations(cells, 2):
        stat, df, p, degenerate = likelihood_ratio([[t for t in trials if t.cell == c] for c in (a, b)])
        found.append(CurveContrast(trials[0].task, a, b, stat, df, p, p, degenerate))
    return with_holm(found)


def cells_differ(trials: list[Trial]) -> tuple[float, int, float, bool]:
    """The omnibus test that the cell matters at all on one task: (statistic, df, p, degenerate) of one
    curve for every cell against ``solved ~ C(cell) * ln T``."""
    return likelihood_ratio([[t for t in trials if t.cell == c] for c in cells_of(trials)])


@dataclass(frozen=True)
class SlopeTest:
    """Whether the data support a slope per cell: ``solved ~ C(cell) + ln T`` (one slope, an intercept
    per cell) against ``solved ~ C(cell) * ln T``, by likelihood ratio, over ``cells``: those whose
    curve is estimable (``fit == logistic``); a separated or one-sided cell's slope is not, and is left
    out. Statistic and p are None below 2 such cells."""

    cells: tuple[str, ...]
    statistic: float | None
    df: int
    p: float | None


def slopes_differ(trials: list[Trial]) -> SlopeTest:
    """The common-slope test on one task's trials (statsmodels GLM Binomial, the cell a factor)."""
    import pandas as pd  # statsmodels' formulas take a DataFrame

    fitted = tuple(c for c in cells_of(trials) if cell_curve(trials, c, resamples=0).fit == "logistic")
    if len(fitted) < 2:
        return SlopeTest(fitted, None, 0, None)
    used = [t for t in trials if t.cell in fitted]
    data = pd.DataFrame({"y": [float(t.solved) for t in used], "lnT": [math.log(t.length) for t in used],
                         "cell": [t.cell for t in used]})  # fmt: skip
    family = sm.families.Binomial()
    full = smf.glm("y ~ C(cell) * lnT", data, family=family).fit()
    common = smf.glm("y ~ C(cell) + lnT", data, family=family).fit()
    stat = max(0.0, 2.0 * float(full.llf - common.llf))
    df = len(fitted) - 1
    return SlopeTest(fitted, stat, df, float(stats.chi2.sf(stat, df)))
