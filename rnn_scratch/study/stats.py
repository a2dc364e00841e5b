"""Statistics over seeds, from ``scipy.stats`` and ``statsmodels``: intervals whose coverage at the
study's n is what they claim, exact tests that match the design, Holm's correction, censored times.

A study's result is a sample of n runs that differ only in their seed. The functions here are its
whole statistical vocabulary (their names are stable: other modules and branches import them).

* ``proportion_ci(k, n)`` / ``success_text(k, n)``: a success count k of n with its 95% exact
  (Clopper-Pearson) interval, the p whose binomial tails at k are both >= 2.5%
  (``scipy.stats.binomtest(k, n).proportion_ci(method="exact")``), written ``k/n [lo, hi]``. Its coverage
  is at least 95% at every p and n (``tests/test_stats.py`` sums it exactly); Wilson's, used before,
  dips to 83% at n = 5 for some p. 0/5 is [0, 0.52], 5/5 is [0.48, 1].
* ``fisher(k1, n1, k2, n2)``: Fisher's exact test on two independent groups' success counts, the 2x2
  table [[k1, n1 - k1], [k2, n2 - k2]], two-sided. 3/3 against 0/3 gives p = 0.10.
* ``mcnemar(a, b)``: the exact McNemar test for a paired design (seed i run both ways: ``a[i]``,
  ``b[i]`` solved or not): only the discordant seeds carry information, and under no difference each
  is as likely one way as the other, so p is the two-sided binomial test of b01 of b01 + b10 at 1/2
  (``statsmodels.stats.contingency_tables.mcnemar(exact=True)``). With 5 seeds it cannot go below
  2 x 2^-5 = 0.0625: a paired contrast at 0.05 needs 6 discordant seeds.
* ``holm(ps)``: Holm's step-down adjustment of a family of p-values (``statsmodels.stats.multitest``):
  the k-th smallest is multiplied by (m - k + 1), kept monotone and capped at 1. Pages show both.
* ``summarize(values)``: a metric over seeds: the median with a distribution-free interval from the
  order statistics (``median_interval``): (x_(j), x_(n+1-j)) covers the population median with
  probability 1 - 2 P(Bin(n, 1/2) <= j - 1), whatever the distribution; j is the largest that keeps
  that >= 95%. At n <= 5 no pair does (the range covers it with 1 - 2^(1-n): 75% at n = 3, 94% at
  n = 5), so the text says ``range`` and the coverage, not 95%. ``split=True`` (some seeds solved and
  others not) reports the median and every seed's value instead.
* ``kaplan_meier(times, solved)``: the fraction solved against training sequences, with runs that never
  solved right-censored at their budget: F(t) = 1 - S(t), S the Kaplan-Meier estimate

      S(t) = prod_{t_i <= t} (1 - d_i / r_i)   (d_i solved at t_i, r_i still unsolved just before t_i)

  (``scipy.stats.ecdf`` on ``scipy.stats.CensoredData``); ``KaplanMeier.median`` is the first t with
  F(t) >= 1/2, None when the curve never gets there. A time to solve is only known to lie between the
  last eval that failed and the first that passed (interval-censored): ``solve_bounds`` computes the
  curve at both ends, and the true one lies between them.

``finite`` and ``median`` are helpers for values that may be None or NaN (dropped).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
from scipy import stats
from statsmodels.stats import contingency_tables, multitest

CONFIDENCE = 0.95


def finite(values: Iterable[float | None]) -> list[float]:
    """The values that are numbers and finite (None, NaN and inf dropped)."""
    return [float(v) for v in values if v is not None and math.isfinite(float(v))]


def median(values: Iterable[float | None]) -> float | None:
    """The median of the finite values, None when there are none."""
    xs = finite(values)
    return float(np.median(xs)) if xs else None


def _num(value: float, digits: int = 3) -> str:
    """Fixed digits, or scientific for tiny or huge values (MSE at 1e-4, sequences at 1e6)."""
    if value != 0 and (abs(value) < 1e-2 or abs(value) >= 1e5):
        return f"{value:.2e}"
    return f"{value:.{digits}f}"


def proportion_ci(k: int, n: int) -> tuple[float, float]:
    """The 95% exact (Clopper-Pearson) interval of a proportion k/n, (lo, hi) in [0, 1]; n >= 1."""
    if n < 1 or not 0 <= k <= n:
        raise ValueError(f"need 0 <= k <= n and n >= 1, got k={k}, n={n}")
    ci = stats.binomtest(k, n).proportion_ci(confidence_level=CONFIDENCE, method="exact")
    return float(ci.low), float(ci.high)


def success_text(k: int, n: int) -> str:
    """``3/5 [0.15, 0.95]``: k solved of n with the 95% exact interval (``0/0`` for no runs)."""
    if n == 0:
        return "0/0"
    lo, hi = proportion_ci(k, n)
    return f"{k}/{n} [{lo:.2f}, {hi:.2f}]"


def fisher(k1: int, n1: int, k2: int, n2: int) -> float:
    """Two-sided p-value of Fisher's exact test, k1 of n1 solved against k2 of n2 (1.0: a group is empty)."""
    if n1 < 1 or n2 < 1:
        return 1.0
    table = [[k1, n1 - k1], [k2, n2 - k2]]
    return float(stats.fisher_exact(table, alternative="two-sided").pvalue)


def mcnemar(a: Iterable[bool], b: Iterable[bool]) -> float:
    """Two-sided exact McNemar p-value for paired outcomes (``a[i]``, ``b[i]``: seed i each way); 1.0
    when no seed is discordant (or there are none)."""
    pairs = list(zip(a, b, strict=True))
    b01 = sum(1 for x, y in pairs if not x and y)
    b10 = sum(1 for x, y in pairs if x and not y)
    if b01 + b10 == 0:
        return 1.0
    both = sum(1 for x, y in pairs if x and y)
    table = [[both, b10], [b01, len(pairs) - both - b01 - b10]]
    return float(contingency_tables.mcnemar(table, exact=True).pvalue)


def holm(ps: Iterable[float]) -> list[float]:
    """Holm-adjusted p-values of a family, in the order given ([] for none)."""
    values = list(ps)
    if not values:
        return []
    return [float(p) for p in multitest.multipletests(values, method="holm")[1]]


def p_text(p: float) -> str:
    """``p = 0.10`` (two digits; ``p < 0.001`` below that)."""
    return "p < 0.001" if p < 1e-3 else f"p = {p:.3f}" if p < 0.01 else f"p = {p:.2f}"


@dataclass(frozen=True)
class Summary:
    """A metric over n seeds: the median and its order-statistic interval (``median_interval``: low,
    high, and ``level``, the probability it covers the median; None for n < 2), the mean for the
    tables' CSV; or, when ``split``, the median and each seed's value."""

    n: int
    mean: float | None
    median: float | None
    low: float | None
    high: float | None
    values: tuple[float, ...] = ()
    split: bool = False
    level: float | None = None

    @property
    def centre(self) -> float | None:
        """What the tables and figures draw: the median."""
        return self.median

    def text(self, digits: int = 3) -> str:
        """``0.512 [0.310, 0.705]`` (a 95% interval for the median); ``0.512 (range 0.310-0.705)`` where
        n is too small for one; split: ``median 0.710 (seeds 0.131, 0.710, 0.990)``; ``-`` for none."""
        if self.median is None:
            return "-"
        if self.split:
            seeds = ", ".join(_num(v, digits) for v in self.values)
            return f"median {_num(self.median, digits)} (seeds {seeds})"
        if self.low is None or self.high is None or self.level is None:
            return _num(self.median, digits)
        if self.level < CONFIDENCE:
            return f"{_num(self.median, digits)} (range {_num(self.low, digits)}-{_num(self.high, digits)})"
        return f"{_num(self.median, digits)} [{_num(self.low, digits)}, {_num(self.high, digits)}]"


def median_interval(values: Iterable[float | None]) -> tuple[float, float, float] | None:
    """(x_(j), x_(n+1-j), coverage) for the finite values: the narrowest order-statistic pair whose
    coverage of the median, 1 - 2 P(Bin(n, 1/2) <= j - 1), is >= 95%; the range (j = 1) with its lower
    coverage where n <= 5. None for fewer than 2 values."""
    xs = np.sort(np.asarray(finite(values), dtype=np.float64))
    n = xs.size
    if n < 2:
        return None
    for j in range(n // 2, 0, -1):
        level = 1.0 - 2.0 * float(stats.binom.cdf(j - 1, n, 0.5))
        if level >= CONFIDENCE or j == 1:
            return float(xs[j - 1]), float(xs[n - j]), level
    raise AssertionError("unreachable: j = 1 returns")


def summarize(values: Iterable[float | None], split: bool = False) -> Summary:
    """The finite values among ``values`` summarised (see ``Summary``)."""
    xs = finite(values)
    if not xs:
        return Summary(0, None, None, None, None)
    found = median_interval(xs)
    low, high, level = found if found is not None else (None, None, None)
    return Summary(len(xs), float(np.mean(xs)), float(np.median(xs)), low, high, tuple(xs), split, level)


@dataclass(frozen=True)
class KaplanMeier:
    """The fraction solved against training sequences: a right-continuous step function that is
    ``fraction[i]`` from ``times[i]`` on (``times[0] = 0``, ``fraction[0] = 0``)."""

    times: np.ndarray  # (m,) training sequences, increasing, starting at 0
    fraction: np.ndarray  # (m,) fraction solved F(t), non-decreasing in [0, 1]
    n: int
    events: int  # runs that solved
    horizon: float  # the largest time observed (solved or censored)

    @property
    def median(self) -> float | None:
        """The first time at which half the runs are estimated solved; None when never reached."""
        hit = np.nonzero(self.fraction >= 0.5 - 1e-12)[0]
        return float(self.times[hit[0]]) if hit.size else None

    def at(self, t: float) -> float:
        """F(t): the estimated fraction solved by ``t`` sequences."""
        return float(self.fraction[np.searchsorted(self.times, t, side="right") - 1])


def kaplan_meier(times: Iterable[float], solved: Iterable[bool]) -> KaplanMeier:
    """Kaplan-Meier fraction solved: ``times[i]`` the sequences run i took to solve (``solved[i]``) or its
    budget (censored: it never solved). Raises ``ValueError`` for no runs or a negative time."""
    t = np.asarray(list(times), dtype=np.float64)
    s = np.asarray(list(solved), dtype=bool)
    if t.size == 0 or t.size != s.size or (t < 0).any() or not np.isfinite(t).all():
        raise ValueError("kaplan_meier needs one finite time >= 0 and one solved flag per run")
    data = stats.CensoredData(uncensored=t[s], right=t[~s])
    sf = stats.ecdf(data).sf
    times_ = np.concatenate([[0.0], np.asarray(sf.quantiles, dtype=np.float64)])
    fraction = np.concatenate([[0.0], 1.0 - np.asarray(sf.probabilities, dtype=np.float64)])
    return KaplanMeier(times_, np.clip(fraction, 0.0, 1.0), int(t.size), int(s.sum()), float(t.max()))


@dataclass(frozen=True)
class SolveTimes:
    """Interval-censored times to solve, shown as the bounds they are: a solved run solved after its
    last failing eval (``after``) and by its first passing one (``at``). ``early`` is the Kaplan-Meier
    curve with each solved run at ``after``, ``late`` with it at ``at``; the curve of the true times lies
    between them (and so does its median)."""

    early: KaplanMeier
    late: KaplanMeier

    def median_text(self) -> str:
        """``between 3,200 and 6,400``; ``6,400`` when both ends agree; ``not reached``."""
        lo, hi = self.early.median, self.late.median
        if hi is None:
            return "not reached" if lo is None else f"after {lo:,.0f} (not reached by the late bound)"
        if lo is None or lo == hi:
            return f"{hi:,.0f}"
        return f"between {lo:,.0f} and {hi:,.0f}"


def solve_times(after: Iterable[float], at: Iterable[float], solved: Iterable[bool]) -> SolveTimes:
    """``after[i]`` < time to solve <= ``at[i]`` for a solved run; an unsolved one is censored at its
    budget, given as ``at[i]`` (``after[i]`` is then ignored)."""
    lo, hi, ok = list(after), list(at), list(solved)
    early = [a if s else b for a, b, s in zip(lo, hi, ok, strict=True)]
    return SolveTimes(kaplan_meier(early, ok), kaplan_meier(hi, ok))
