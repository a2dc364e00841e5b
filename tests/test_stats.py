"""The study's statistics (``rnn_scratch.study.stats``) against closed forms and hand-counted cases."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as sps

from rnn_scratch.study.stats import (
    CONFIDENCE,
    fisher,
    holm,
    kaplan_meier,
    mcnemar,
    median_interval,
    p_text,
    proportion_ci,
    solve_times,
    success_text,
    summarize,
)


def coverage_of_proportion(n: int, p: float, method: str) -> float:
    """The exact probability that the interval from k ~ Bin(n, p) covers p."""
    total = 0.0
    for k in range(n + 1):
        ci = sps.binomtest(k, n).proportion_ci(confidence_level=CONFIDENCE, method=method)
        total += sps.binom.pmf(k, n, p) * (ci.low <= p <= ci.high)
    return total


@pytest.mark.parametrize("n", [3, 5, 10])
def test_success_interval_covers_at_least_95_percent_at_every_p(n: int) -> None:
    # summed exactly over k, on a fine grid of p: Clopper-Pearson never dips below 95%
    grid = np.linspace(0.001, 0.999, 999)
    exact = min(coverage_of_proportion(n, p, "exact") for p in grid)
    assert exact >= CONFIDENCE - 1e-9
    if n == 5:  # the Wilson interval the pages used before does (why it was replaced)
        assert min(coverage_of_proportion(n, p, "wilson") for p in grid) < 0.9


def test_success_text_and_bad_counts() -> None:
    assert success_text(0, 5) == "0/5 [0.00, 0.52]" and success_text(5, 5) == "5/5 [0.48, 1.00]"
    assert success_text(0, 0) == "0/0"
    lo, hi = proportion_ci(2, 3)
    assert 0.0 < lo < 2 / 3 < hi < 1.0
    with pytest.raises(ValueError, match="k <= n"):
        proportion_ci(4, 3)


@pytest.mark.parametrize("n", [3, 5, 6, 10])
@pytest.mark.parametrize("dist", ["normal", "exponential", "beta"])
def test_median_interval_coverage_by_simulation(n: int, dist: str) -> None:
    # 4000 samples of n seeds each: the interval covers the population median as often as it says,
    # whatever the distribution (bounded, skewed); >= 95% where it claims 95%, the range below n = 6
    rng = np.random.default_rng(n)
    draw, true_median = {
        "normal": (lambda size: rng.normal(0.5, 0.2, size), 0.5),
        "exponential": (lambda size: rng.exponential(1.0, size), math.log(2)),
        "beta": (lambda size: rng.beta(0.5, 0.5, size), 0.5),
    }[dist]
    hits, levels = 0, set()
    for _ in range(4000):
        found = median_interval(draw(n))
        assert found is not None
        lo, hi, level = found
        hits += lo <= true_median <= hi
        levels.add(round(level, 9))
    (level,) = levels
    assert abs(hits / 4000 - level) < 0.02  # 3.3 standard errors at 4000 draws
    if n >= 6:
        assert level >= CONFIDENCE
    else:
        assert level == pytest.approx(1 - 2 ** (1 - n)) and level < CONFIDENCE  # 0.75 at 3, 0.94 at 5


def test_summary_text_says_range_where_n_is_too_small_for_95_percent() -> None:
    s = summarize([0.99, 0.99, 0.156])
    assert (s.n, s.centre, s.low, s.high) == (3, 0.99, 0.156, 0.99)
    assert s.text() == "0.990 (range 0.156-0.990)"
    ten = summarize([0.1 * i for i in range(10)])
    assert ten.level is not None and ten.level >= CONFIDENCE and ten.text().startswith("0.450 [")
    assert (ten.low, ten.high) == (pytest.approx(0.1), pytest.approx(0.8))  # x_(2), x_(9) at n = 10


def test_mcnemar_counts_only_discordant_seeds() -> None:
    # 5 seeds, clipping rescues all five: the exact sign test gives 2 x 2^-5
    assert mcnemar([False] * 5, [True] * 5) == pytest.approx(0.0625)
    assert mcnemar([True, True, False], [True, True, False]) == 1.0
    # 7 discordant all one way, 3 concordant: 2 x 2^-7
    a = [False] * 7 + [True, True, False]
    b = [True] * 7 + [True, True, False]
    assert mcnemar(a, b) == pytest.approx(2 / 2**7)
    assert fisher(0, 10, 7 + 2, 10) < mcnemar(a, b)  # the unpaired test is not the design's


def test_holm_adjusts_a_family_step_down() -> None:
    ps = [0.01, 0.04, 0.03, 0.5]
    assert holm(ps) == pytest.approx([0.04, 0.09, 0.09, 0.5])  # 4 x 0.01, max(3 x 0.03, ...), 2 x 0.04
    assert holm([]) == [] and holm([0.7]) == [0.7]


def test_solve_times_bound_the_curve() -> None:
    # two runs solved between evals (100, 200] and (300, 400], one censored at 1000
    times = solve_times([100, 300, 1000], [200, 400, 1000], [True, True, False])
    assert times.early.median == 300 and times.late.median == 400
    assert times.median_text() == "between 300 and 400"
    assert solve_times([0], [64], [False]).median_text() == "not reached"


def test_fisher_exact_on_success_counts() -> None:
    # 3/3 against 0/3: the one table as extreme on each side of 20 with these margins: p = 2/20
    assert fisher(3, 3, 0, 3) == pytest.approx(0.1)
    assert fisher(5, 5, 0, 5) == pytest.approx(2 / math.comb(10, 5))
    assert fisher(2, 4, 2, 4) == pytest.approx(1.0) and fisher(1, 0 + 1, 0, 0) == 1.0
    assert p_text(0.1) == "p = 0.10" and p_text(0.0079) == "p = 0.008" and p_text(1e-5) == "p < 0.001"


def test_summary_of_a_split_group_reports_the_median_and_every_seed() -> None:
    s = summarize([0.99, None, 0.13, float("nan"), 0.71], split=True)
    assert (s.n, s.centre) == (3, 0.71) and s.values == (0.99, 0.13, 0.71)
    assert s.text() == "median 0.710 (seeds 0.990, 0.130, 0.710)"
    assert summarize([0.5]).text() == "0.500" and summarize([]).text() == "-"
    assert summarize([2e-4, 4e-4]).text().startswith("3.00e-04 (range")


def test_kaplan_meier_with_right_censoring() -> None:
    # 4 runs: solved at 100 and 300 sequences, two never solved within 1000 (censored)
    km = kaplan_meier([100, 1000, 300, 1000], [True, False, True, False])
    assert (km.n, km.events, km.horizon) == (4, 2, 1000.0)
    assert km.at(0) == 0.0 and km.at(99) == 0.0 and km.at(100) == pytest.approx(0.25)
    assert km.at(300) == pytest.approx(0.5) and km.at(5000) == pytest.approx(0.5)
    assert km.median == 300.0
    # censoring before an event raises the step: 1 - (1 - 1/4)(1 - 1/2) with a run censored at 150
    km = kaplan_meier([100, 150, 200, 400], [True, False, True, False])
    assert km.at(200) == pytest.approx(1 - 0.75 * 0.5) and km.median == 200.0
    never = kaplan_meier([500, 500, 500], [False, False, False])
    assert never.median is None and never.at(1e9) == 0.0
    with pytest.raises(ValueError, match="one finite time"):
        kaplan_meier([], [])
