"""Statistics over seeds, from ``scipy.stats``: intervals that fit the data, exact tests, censored times.

A study's result is a sample of n runs that differ only in their seed. The functions here are its
whole statistical vocabulary (their names are stable: other modules and branches import them).

* ``wilson(k, n)`` / ``success_text(k, n)``: a success count k of n with its 95% Wilson score interval

      p_hat = k/n,  z = 1.96,  centre = (p_hat + z^2/2n) / (1 + z^2/n),
      half  = z / (1 + z^2/n) * sqrt(p_hat (1 - p_hat) / n + z^2 / 4n^2)

  (``scipy.stats.binomtest(k, n).proportion_ci(method="wilson")``), written ``k/n [lo, hi]``. It stays
  in [0, 1] and is not empty at k = 0 or k = n: 0/3 is [0, 0.56], 3/3 is [0.44, 1].
* ``fisher(k1, n1, k2, n2)``: the two-sided p-value of Fisher's exact test on the 2x2 table
  [[k1, n1 - k1], [k2, n2 - k2]] (``scipy.stats.fisher_exact``): do two groups solve at different rates?
  3/3 against 0/3 gives p = 0.10.
* ``summarize(values)``: a bounded metric (accuracy, MSE) over seeds: the mean with a 95% bootstrap
  percentile interval (``scipy.stats.bootstrap``, 9999 resamples, fixed seed). A percentile interval of
  the mean lies between the smallest and the largest value, so it never leaves the metric's range
  (accuracy in [0, 1], MSE >= 0). ``summarize(values, split=True)`` (a group whose runs both solved and
  failed: the mean describes none of them) reports the median and every seed's value instead.
* ``kaplan_meier(times, solved)``: the fraction solved against training sequences, with runs that never
  solved right-censored at their budget: F(t) = 1 - S(t), S the Kaplan-Meier estimate

      S(t) = prod_{t_i <= t} (1 - d_i / r_i)   (d_i solved at t_i, r_i still unsolved just before t_i)

  (``scipy.stats.ecdf`` on ``scipy.stats.CensoredData``); ``KaplanMeier.median`` is the first t with
  F(t) >= 1/2, None when the curve never gets there.

``finite`` and ``median`` are helpers for values that may be None or NaN (dropped).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
from scipy import stats

CONFIDENCE = 0.95
RESAMPLES = 9999


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


def wilson(k: int, n: int) -> tuple[float, float]:
    """The 95% Wilson score interval of a proportion k/n, (lo, hi) in [0, 1]; n >= 1, 0 <= k <= n."""
    if n < 1 or not 0 <= k <= n:
        raise ValueError(f"need 0 <= k <= n and n >= 1, got k={k}, n={n}")
    ci = stats.binomtest(k, n).proportion_ci(confidence_level=CONFIDENCE, method="wilson")
    return float(ci.low), float(ci.high)


def success_text(k: int, n: int) -> str:
    """``3/5 [0.23, 0.88]``: k solved of n with the 95% Wilson interval (``0/0`` for no runs)."""
    if n == 0:
        return "0/0"
    lo, hi = wilson(k, n)
    return f"{k}/{n} [{lo:.2f}, {hi:.2f}]"


def fisher(k1: int, n1: int, k2: int, n2: int) -> float:
    """Two-sided p-value of Fisher's exact test, k1 of n1 solved against k2 of n2 (1.0: a group is empty)."""
    if n1 < 1 or n2 < 1:
        return 1.0
    table = [[k1, n1 - k1], [k2, n2 - k2]]
    return float(stats.fisher_exact(table, alternative="two-sided").pvalue)


def p_text(p: float) -> str:
    """``p = 0.10`` (two digits; ``p < 0.001`` below that)."""
    return "p < 0.001" if p < 1e-3 else f"p = {p:.3f}" if p < 0.01 else f"p = {p:.2f}"


@dataclass(frozen=True)
class Summary:
    """A bounded metric over n seeds: the mean and a 95% bootstrap percentile interval (low, high
    None for n < 2), or, when ``split``, the median and each seed's value."""

    n: int
    mean: float | None
    median: float | None
    low: float | None
    high: float | None
    values: tuple[float, ...] = ()
    split: bool = False

    @property
    def centre(self) -> float | None:
        """What the tables and figures draw: the median when outcomes split, else the mean."""
        return self.median if self.split else self.mean

    def text(self, digits: int = 3) -> str:
        """``0.512 [0.310, 0.705]``; split: ``median 0.710 (seeds 0.131, 0.710, 0.990)``; ``-`` for none."""
        if self.mean is None or self.median is None:
            return "-"
        if self.split:
            seeds = ", ".join(_num(v, digits) for v in self.values)
            return f"median {_num(self.median, digits)} (seeds {seeds})"
        if self.low is None or self.high is None:
            return _num(self.mean, digits)
        return f"{_num(self.mean, digits)} [{_num(self.low, digits)}, {_num(self.high, digits)}]"


def bootstrap_ci(values: Iterable[float | None], seed: int = 0) -> tuple[float, float] | None:
    """95% percentile bootstrap interval of the mean of the finite values; None for fewer than 2.

    Lies within [min, max] of the values, so within any range the metric is bounded by."""
    xs = np.asarray(finite(values), dtype=np.float64)
    if xs.size < 2:
        return None
    if np.all(xs == xs[0]):  # no spread: every resample has the same mean
        return float(xs[0]), float(xs[0])
    res = stats.bootstrap(
        (xs,), np.mean, confidence_level=CONFIDENCE, n_resamples=RESAMPLES, method="percentile",
        rng=np.random.default_rng(seed),
    )  # fmt: skip
    ci = res.confidence_interval
    return float(np.clip(ci.low, xs.min(), xs.max())), float(np.clip(ci.high, xs.min(), xs.max()))


def summarize(values: Iterable[float | None], split: bool = False) -> Summary:
    """The finite values among ``values`` summarised (see ``Summary``)."""
    xs = finite(values)
    if not xs:
        return Summary(0, None, None, None, None)
    ci = bootstrap_ci(xs)
    low, high = ci if ci is not None else (None, None)
    return Summary(len(xs), float(np.mean(xs)), float(np.median(xs)), low, high, tuple(xs), split)


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
