"""The study's statistics (``rnn_scratch.study.stats``) against closed forms and hand-counted cases."""

from __future__ import annotations

import math

import numpy as np
import pytest

from rnn_scratch.study.stats import (
    bootstrap_ci,
    fisher,
    kaplan_meier,
    p_text,
    success_text,
    summarize,
    wilson,
)


def wilson_closed_form(k: int, n: int, z: float = 1.959963984540054) -> tuple[float, float]:
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return centre - half, centre + half


@pytest.mark.parametrize(("k", "n"), [(0, 3), (3, 3), (2, 3), (1, 10), (7, 10)])
def test_wilson_matches_its_closed_form_and_stays_in_range(k: int, n: int) -> None:
    lo, hi = wilson(k, n)
    want = wilson_closed_form(k, n)
    assert (lo, hi) == pytest.approx((max(want[0], 0.0), min(want[1], 1.0)), abs=1e-9)
    assert 0.0 <= lo <= k / n <= hi <= 1.0 and hi - lo > 0


def test_success_text_and_bad_counts() -> None:
    assert success_text(0, 3) == "0/3 [0.00, 0.56]" and success_text(3, 3) == "3/3 [0.44, 1.00]"
    assert success_text(0, 0) == "0/0"
    with pytest.raises(ValueError, match="k <= n"):
        wilson(4, 3)


def test_fisher_exact_on_success_counts() -> None:
    # 3/3 against 0/3: the one table as extreme on each side of 20 with these margins: p = 2/20
    assert fisher(3, 3, 0, 3) == pytest.approx(0.1)
    assert fisher(5, 5, 0, 5) == pytest.approx(2 / math.comb(10, 5))
    assert fisher(2, 4, 2, 4) == pytest.approx(1.0) and fisher(1, 0 + 1, 0, 0) == 1.0
    assert p_text(0.1) == "p = 0.10" and p_text(0.0079) == "p = 0.008" and p_text(1e-5) == "p < 0.001"


def test_bootstrap_interval_never_leaves_the_range_of_the_data() -> None:
    # a 2-of-3 split at n = 3: the Student-t interval was 0.712 ± 1.238, i.e. [-0.53, 1.95]
    accs = [0.99, 0.99, 0.156]
    s = summarize(accs)
    assert s.n == 3 and s.mean == pytest.approx(np.mean(accs)) and s.median == 0.99
    assert s.low is not None and s.high is not None
    assert 0.156 <= s.low < s.mean < s.high <= 0.99
    assert s.text() == f"{s.mean:.3f} [{s.low:.3f}, {s.high:.3f}]"
    mse = [1e-4, 3e-4, 0.15]
    lo, hi = bootstrap_ci(mse) or (-1.0, -1.0)
    assert lo >= 1e-4 and hi <= 0.15
    assert bootstrap_ci([0.5, 0.5]) == (0.5, 0.5) and bootstrap_ci([0.5]) is None
    assert summarize(accs) == s  # a fixed resampling seed: the pages do not change between rebuilds


def test_summary_of_a_split_group_reports_the_median_and_every_seed() -> None:
    s = summarize([0.99, None, 0.13, float("nan"), 0.71], split=True)
    assert (s.n, s.centre) == (3, 0.71) and s.values == (0.99, 0.13, 0.71)
    assert s.text() == "median 0.710 (seeds 0.990, 0.130, 0.710)"
    assert summarize([0.5]).text() == "0.500" and summarize([]).text() == "-"
    assert summarize([2e-4, 4e-4]).text().startswith("3.00e-04 [")


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
