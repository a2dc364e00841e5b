"""Success against ln T (rnn_scratch/study/curves.py): T50 and its seed-cluster bootstrap on data
simulated with known T50s, separation handled, likelihood-ratio contrasts against statsmodels' joint
model, and Holm."""

import math

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
import statsmodels.formula.api as smf
from statsmodels.stats.multitest import multipletests

from rnn_scratch.study.curves import (
    cell_curve,
    cells_differ,
    likelihood_ratio,
    max_loglik,
    pairwise_contrasts,
    slopes_differ,
    with_holm,
)
from rnn_scratch.study.trials import Trial

LENGTHS = (10, 14, 20, 28, 40, 57, 80, 113, 160, 226, 320, 452)


def simulate(
    cell: str, t50: float, rng: np.random.Generator, slope: float = -3.0, seeds: int = 10
) -> list[Trial]:
    """A run per seed and length, solved with P = sigmoid(slope (ln T - ln t50))."""
    out = []
    for seed in range(seeds):
        for T in LENGTHS:
            p = 1.0 / (1.0 + math.exp(-slope * (math.log(T) - math.log(t50))))
            out.append(Trial("task", cell, T, str(seed), bool(rng.random() < p), 0.0, 1.0, 1.0))
    return out


def hand(cell: str, outcomes: dict[int, list[bool]]) -> list[Trial]:
    """Trials from {T: [solved per seed]}."""
    return [
        Trial("task", cell, T, str(s), ok, 0.0, 1.0, 1.0)
        for T, row in outcomes.items()
        for s, ok in enumerate(row)
    ]


def test_t50_and_its_bootstrap_interval_recover_the_simulated_ones():
    rng = np.random.default_rng(7)
    for t50 in (40.0, 150.0):
        curve = cell_curve(simulate("a", t50, rng), "a", resamples=200, rng_seed=1)
        assert curve.fit == "logistic" and curve.slope is not None and curve.slope < 0
        assert curve.t50 is not None and abs(math.log(curve.t50 / t50)) < 0.3
        assert curve.low is not None and curve.high is not None
        assert curve.low < t50 < curve.high and curve.low < curve.t50 < curve.high
        assert curve.high / curve.low < 4  # informative, not the whole grid


def test_the_bootstrap_is_reproducible_and_resamples_seeds():
    trials = simulate("a", 60.0, np.random.default_rng(3))
    one, two = (cell_curve(trials, "a", resamples=100, rng_seed=5) for _ in range(2))
    assert (one.low, one.high) == (two.low, two.high)
    other = cell_curve(trials, "a", resamples=100, rng_seed=6)
    assert (other.low, other.high) != (one.low, one.high)
    assert one.seeds == 10 and one.runs == 10 * len(LENGTHS)


def test_separated_outcomes_give_the_raw_bracket_and_say_so():
    curve = cell_curve(hand("a", {10: [True] * 5, 20: [True] * 5, 50: [False] * 5, 100: [False] * 5}), "a")
    assert (curve.fit, curve.interval, curve.low, curve.high, curve.t50) == (
        "separated",
        "bracket",
        20,
        50,
        None,
    )
    quasi = cell_curve(
        hand("a", {10: [True] * 5, 20: [True, True, False, False, True], 50: [False] * 5}), "a"
    )
    assert (quasi.fit, quasi.low, quasi.high) == ("separated", 20, 20)
    assert cell_curve(hand("a", {10: [True] * 3, 20: [True] * 3}), "a").fit == "all_solved"
    none = cell_curve(hand("a", {10: [False] * 3, 20: [False] * 3}), "a")
    assert (none.fit, none.low, none.high) == ("none_solved", None, 10)
    rising = cell_curve(hand("a", {10: [False] * 3, 20: [True, False, True], 50: [True] * 3}), "a")
    assert rising.fit == "not_falling" and rising.t50 is None


def test_max_loglik_is_the_fit_where_it_exists_and_the_supremum_where_it_does_not():
    x = np.log(np.array([10, 10, 20, 20, 50, 50, 100, 100], dtype=float))
    y = np.array([1, 1, 1, 0, 1, 0, 0, 0], dtype=float)
    ll, k, degenerate = max_loglik(x, y)
    expected = sm.Logit(y, sm.add_constant(x)).fit(disp=0).llf
    assert (k, degenerate) == (2, False) and ll == pytest.approx(expected, rel=1e-8)
    assert max_loglik(x, np.array([1, 1, 1, 1, 0, 0, 0, 0.0]))[:3] == (0.0, 2, True)
    quasi = np.array([1, 1, 1, 0, 0, 0, 0, 0.0])  # both outcomes only at T = 20: p = 1/2 there
    assert max_loglik(x, quasi)[0] == pytest.approx(2 * math.log(0.5))


def test_the_likelihood_ratio_is_statsmodels_joint_model_with_the_cell_as_a_factor():
    rng = np.random.default_rng(11)
    trials = simulate("a", 50.0, rng, seeds=4) + simulate("b", 120.0, rng, seeds=4)
    stat, df, p, degenerate = likelihood_ratio([[t for t in trials if t.cell == c] for c in "ab"])
    data = pd.DataFrame({"y": [float(t.solved) for t in trials], "lnT": [math.log(t.length) for t in trials],
                         "cell": [t.cell for t in trials]})  # fmt: skip
    full = smf.glm("y ~ C(cell) * lnT", data, family=sm.families.Binomial()).fit()
    shared = smf.glm("y ~ lnT", data, family=sm.families.Binomial()).fit()
    assert not degenerate and df == 2
    assert stat == pytest.approx(2 * (full.llf - shared.llf), rel=1e-6)


def test_identical_cells_do_not_differ_and_different_ones_do():
    rng = np.random.default_rng(2)
    trials = simulate("a", 60.0, rng) + simulate("b", 60.0, rng) + simulate("c", 250.0, rng)
    found = {(c.cell_a, c.cell_b): c for c in pairwise_contrasts(trials)}
    assert set(found) == {("a", "b"), ("a", "c"), ("b", "c")}
    assert found[("a", "b")].p > 0.05 and found[("a", "b")].holm >= found[("a", "b")].p
    assert found[("a", "c")].holm < 1e-3 and found[("b", "c")].holm < 1e-3
    assert cells_differ(trials)[2] < 1e-3
    assert cells_differ(simulate("a", 60.0, rng) + simulate("b", 60.0, rng))[2] > 0.05


def test_holm_is_statsmodels_over_the_family_given():
    rng = np.random.default_rng(4)
    trials = (
        simulate("a", 30.0, rng, seeds=3)
        + simulate("b", 60.0, rng, seeds=3)
        + simulate("c", 90.0, rng, seeds=3)
    )
    found = pairwise_contrasts(trials)
    expected = multipletests([c.p for c in found], method="holm")[1]
    assert [c.holm for c in found] == pytest.approx(list(expected))
    doubled = with_holm(found + found)
    assert all(d.holm >= c.holm for d, c in zip(doubled, found, strict=False))


def test_the_common_slope_test_sees_different_slopes_and_only_estimable_cells():
    rng = np.random.default_rng(5)
    same = simulate("a", 40.0, rng) + simulate("b", 150.0, rng)
    steep = simulate("a", 60.0, rng, slope=-8.0) + simulate("b", 60.0, rng, slope=-0.8)
    assert slopes_differ(same).p > 0.05 and slopes_differ(same).cells == ("a", "b")
    assert slopes_differ(steep).p < 1e-3 and slopes_differ(steep).df == 1
    separated = hand("c", {10: [True] * 5, 20: [False] * 5})
    found = slopes_differ(simulate("a", 40.0, rng) + separated)
    assert found.cells == ("a",) and found.p is None
