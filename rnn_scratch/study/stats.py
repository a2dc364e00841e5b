"""Statistics over seeds: mean, standard deviation, a Student-t confidence interval, medians.

A study's result is a sample of n runs that differ only in their seed. For values x_1..x_n:

    mean  m = (1/n) sum_i x_i
    sd    s = sqrt( sum_i (x_i - m)^2 / (n - 1) )          (sample standard deviation, n >= 2)
    95% CI    m ± t_{0.975, n-1} * s / sqrt(n)               (Student t, two-sided)

The t quantiles come from a table for 1..30 degrees of freedom and the normal quantile 1.96 beyond
(numpy only: no scipy). With n = 1 there is no spread to measure: sd and the CI are None. With a
handful of seeds and accuracies stuck at 0 or 1 the t interval is only a rough guide (it may pass
1.0); the success count k/n is reported beside it for that reason.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

# t_{0.975, df} for df = 1..30 (two-sided 95%); df > 30 uses the normal 1.96
T975 = (
    12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228,
    2.201, 2.179, 2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086,
    2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042,
)  # fmt: skip
Z975 = 1.96


def t_quantile(df: int) -> float:
    """The two-sided 95% Student-t quantile t_{0.975, df}; df >= 1."""
    if df < 1:
        raise ValueError(f"df must be >= 1, got {df}")
    return T975[df - 1] if df <= len(T975) else Z975


@dataclass(frozen=True)
class Summary:
    """Mean, sample sd and the 95% Student-t half-width of n finite values (sd, half None for n < 2)."""

    n: int
    mean: float | None
    sd: float | None
    half: float | None  # the CI is mean ± half

    @property
    def low(self) -> float | None:
        return None if self.mean is None or self.half is None else self.mean - self.half

    @property
    def high(self) -> float | None:
        return None if self.mean is None or self.half is None else self.mean + self.half

    def text(self, digits: int = 3) -> str:
        """``0.512 ± 0.210`` (or just the mean for one value, ``-`` for none)."""
        if self.mean is None:
            return "-"
        if self.half is None:
            return f"{self.mean:.{digits}g}" if abs(self.mean) < 1e-3 else f"{self.mean:.{digits}f}"
        if abs(self.mean) < 1e-3 and self.mean != 0:
            return f"{self.mean:.2e} ± {self.half:.1e}"
        return f"{self.mean:.{digits}f} ± {self.half:.{digits}f}"


def finite(values: Iterable[float | None]) -> list[float]:
    """The values that are numbers and finite (None, NaN and inf dropped)."""
    return [float(v) for v in values if v is not None and math.isfinite(float(v))]


def summarize(values: Iterable[float | None]) -> Summary:
    """Mean, sd and 95% t interval of the finite values among ``values``."""
    xs = np.asarray(finite(values), dtype=np.float64)
    n = int(xs.size)
    if n == 0:
        return Summary(0, None, None, None)
    mean = float(xs.mean())
    if n == 1:
        return Summary(1, mean, None, None)
    sd = float(xs.std(ddof=1))
    return Summary(n, mean, sd, t_quantile(n - 1) * sd / math.sqrt(n))


def median(values: Iterable[float | None]) -> float | None:
    """The median of the finite values, None when there are none."""
    xs = finite(values)
    return float(np.median(xs)) if xs else None
