"""Time to solve as an interval-censored AFT model in ln T (rnn_scratch/study/survival.py): a known time
ratio and length exponent recovered from simulated eval-grid intervals with censoring at the budget."""

import math

import numpy as np
import pytest

from rnn_scratch.study.survival import time_model
from rnn_scratch.study.trials import Trial

EVERY, BUDGET = 500.0, 48_000.0


def simulate(rng: np.random.Generator, ratio: float, seeds: int = 25) -> list[Trial]:
    """ln t = 5 + 1.0 ln T + ln(ratio) [cell b] + 0.5 eps; observed on an eval every 500 sequences,
    censored at the budget."""
    out = []
    for cell, shift in (("a", 0.0), ("b", math.log(ratio))):
        for T in (10, 20, 50, 100):
            for seed in range(seeds):
                t = math.exp(5.0 + math.log(T) + shift + 0.5 * rng.standard_normal())
                if t <= BUDGET:
                    k = math.ceil(t / EVERY)
                    out.append(Trial("task", cell, T, str(seed), True, (k - 1) * EVERY, k * EVERY, BUDGET))
                else:
                    out.append(Trial("task", cell, T, str(seed), False, BUDGET, math.inf, BUDGET))
    return out


def test_the_aft_fit_recovers_a_known_time_ratio_and_length_exponent():
    trials = simulate(np.random.default_rng(0), ratio=3.0)
    assert 0 < sum(not t.solved for t in trials) < len(trials) // 2  # some censored, most solved
    model = time_model(trials, reference="a")
    assert model.converged and model.reference == "a" and model.runs == len(trials)
    ratios = {r.cell: r for r in model.ratios}
    b = ratios["b"]
    assert ratios["a"].ratio == 1.0 and ratios["a"].p is None
    assert b.ratio == pytest.approx(3.0, rel=0.2) and b.low < 3.0 < b.high and b.p < 1e-6
    assert model.length_exponent == pytest.approx(1.0, abs=0.15)
    assert model.length_low < 1.0 < model.length_high


def test_a_cell_that_never_solved_is_left_out_and_the_default_reference_is_the_best():
    trials = simulate(np.random.default_rng(1), ratio=2.0, seeds=10)
    never = [
        Trial("task", "c", T, str(s), False, BUDGET, math.inf, BUDGET) for T in (10, 20) for s in range(5)
    ]
    model = time_model(trials + never, distribution="weibull")
    ratios = {r.cell: r for r in model.ratios}
    assert model.converged and model.reference == "a"  # it solved the most runs
    assert not ratios["c"].estimable and ratios["c"].ratio is None and ratios["c"].runs == 10
    assert ratios["b"].ratio > 1.0
    assert not time_model(never).converged and time_model(never).message == "no run solved"
    with pytest.raises(ValueError, match="lognormal or weibull"):
        time_model(trials, distribution="gamma")
