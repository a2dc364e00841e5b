"""The contest's tests (rnn_scratch/study/contrasts.py) against scipy and statsmodels on hand-made
tables, and the failure modes (rnn_scratch/study/failures.py) on hand-made gradient norms."""

import math

import pytest
from scipy import stats
from statsmodels.stats.contingency_tables import mcnemar
from statsmodels.stats.multitest import multipletests

from rnn_scratch.study.contrasts import contest_family, contest_row, design, logrank
from rnn_scratch.study.failures import EXPLODED_NORM, VANISHED_LN_RATIO, classify, failure, failure_counts
from rnn_scratch.study.trials import Trial


def arm(cell: str, solved: list[bool], at: float = 1000.0, length: int = 50, **kw) -> list[Trial]:
    """A run per seed 0..n-1: solved ones at ``at`` sequences (after at - 100), others censored at 48,000."""
    return [
        Trial(
            "task",
            cell,
            length,
            str(s),
            ok,
            at - 100 if ok else 48_000.0,
            at if ok else math.inf,
            48_000.0,
            **kw,
        )  # fmt: skip
        for s, ok in enumerate(solved)
    ]


def test_different_cells_get_fisher_on_independent_counts():
    a, b = arm("lstm", [True] * 7 + [False] * 3), arm("rnn", [True] * 1 + [False] * 9)
    assert design(a, b) == "independent"
    row = contest_row("lstm vs rnn", a, b)
    expected = stats.fisher_exact([[7, 3], [1, 9]]).pvalue
    assert (row.success_test, row.decisive, row.k_a, row.n_a, row.k_b, row.n_b) == (
        "fisher",
        "success",
        7,
        10,
        1,
        10,
    )
    assert row.success_p == pytest.approx(expected) and row.p == row.success_p and row.pairs == 0


def test_the_same_cell_on_the_same_seeds_gets_exact_mcnemar_on_the_discordant_seeds():
    default = arm("rnn", [False, False, False, False, True, True, False, False])
    tuned = arm("rnn", [True, True, True, True, True, False, True, False])
    assert design(default, tuned) == "paired"
    row = contest_row("rnn default vs tuned", default, tuned)
    # [[both, default only], [tuned only, neither]] = [[1, 1], [5, 1]]
    expected = mcnemar([[1, 1], [5, 1]], exact=True).pvalue
    assert (row.success_test, row.pairs, row.b_only, row.a_only) == ("mcnemar", 8, 5, 1)
    assert row.success_p == pytest.approx(expected)
    assert contest_row("forced", default, tuned, paired=False).success_test == "fisher"
    assert design(default, arm("rnn", [True], length=100)) == "independent"  # another length: no pairing


def test_where_success_cannot_separate_the_time_to_solve_decides():
    fast, slow = arm("gru", [True] * 5, at=1_000.0), arm("lstm", [True] * 5, at=20_000.0)
    row = contest_row("gru vs lstm", fast, slow)
    assert row.success_p == 1.0 and row.decisive == "time"
    assert row.time_p is not None and row.time_p < 0.01 and row.p == row.time_p
    same = contest_row("same", fast, arm("lstm", [True] * 5, at=1_000.0))
    assert same.decisive == "time" and same.p > 0.5
    balanced = contest_row("1 / 1", arm("a", [True, False, True], at=500.0), arm("a", [False, True, True]))
    assert (balanced.design, balanced.a_only, balanced.b_only, balanced.decisive) == ("paired", 1, 1, "time")
    never = contest_row("never", arm("a", [False] * 5), arm("b", [False] * 5))
    assert (never.decisive, never.p, never.time_p) == ("success", 1.0, None)
    assert logrank(arm("a", [False] * 3), arm("b", [False] * 3)) is None


def test_holm_runs_over_the_family_of_decisive_p_values():
    rows = [
        contest_row("one", arm("a", [True] * 8 + [False] * 2), arm("b", [False] * 10)),
        contest_row("two", arm("a", [True] * 5, at=900.0), arm("b", [True] * 5, at=30_000.0)),
        contest_row("three", arm("a", [True, False] * 3), arm("b", [False, True] * 3)),
    ]
    family = contest_family(rows)
    expected = multipletests([r.p for r in rows], method="holm")[1]
    assert [r.holm for r in family] == pytest.approx(list(expected))
    assert [r.decisive for r in family] == ["success", "time", "time"]


def test_failure_modes_follow_the_stated_thresholds():
    assert classify(True, None, None) == ("exploded", True, False)  # diverged
    assert classify(False, EXPLODED_NORM * 2, -2.0) == ("exploded", True, False)
    assert classify(False, EXPLODED_NORM / 2, -2.0) == ("neither", False, False)
    assert classify(False, 50.0, VANISHED_LN_RATIO - 1) == ("vanished", False, True)
    assert classify(False, 50.0, VANISHED_LN_RATIO + 1) == ("neither", False, False)
    assert classify(False, 50.0, -math.inf) == ("vanished", False, True)  # ||dL/dh_1|| underflowed
    assert classify(False, 50.0, -VANISHED_LN_RATIO + 1) == ("exploded", True, False)  # grows back in time
    assert classify(False, 1e12, -700.0) == ("exploded", True, True)  # blew up, then its units died
    assert classify(False, None, None) == ("unknown", False, False)
    assert pytest.approx(math.log(2.0**-23)) == VANISHED_LN_RATIO


def test_failures_are_for_unsolved_runs_and_counted_per_cell():
    runs = [
        *arm("irnn", [False, False], grad_norm_max=3e9, ln_first_last=-800.0),
        *arm("rnn", [False, False, True], grad_norm_max=5.0, ln_first_last=-40.0),
        *arm("lstm", [False], grad_norm_max=20.0, ln_first_last=1.5),
        *arm("gru", [False], status="diverged"),
    ]
    assert failure(runs[4]) is None  # solved
    counts = {r["cell"]: r for r in failure_counts(runs)}
    assert counts["irnn"]["exploded"] == 2 and counts["irnn"]["exploded_then_vanished"] == 2
    assert (counts["rnn"]["unsolved"], counts["rnn"]["vanished"]) == (2, 2)
    assert counts["lstm"]["neither"] == 1 and counts["gru"]["exploded"] == 1
