"""The contest's tests: two arms of runs (e.g. a cell at its default settings and at its tuned ones, or
two cells) compared on success and on time to solve, one decisive p per row, Holm over the family.

Which test applies:

* **McNemar's exact test** (``stats.mcnemar``) where a seed really pairs the arms: the same cell, task and
  length run both ways on the same seed (default against tuned), so the two runs share their data
  stream and, where the init is the same, their initial weights. Only the discordant seeds inform; the
  arms' common seeds are the pairs, others left out. With 5 pairs it cannot go below p = 0.0625.
* **Fisher's exact test** (``stats.fisher``) where the pairing is nominal: different cells share nothing
  through a seed (their weights differ in shape and meaning), so the arms are two independent samples,
  k_a of n_a against k_b of n_b.
* **The log-rank test** on the times to solve (``lifelines.statistics.logrank_test``: each run's
  solving eval, or its budget, right-censored, when unsolved) where the success counts cannot separate
  the arms: equal counts (as many seeds solved by a alone as by b alone, or k_a / n_a = k_b / n_b), and
  some run solved. There the success test's p is 1 by construction, while the times can differ by an
  order of magnitude.

``design(a, b)`` says which applies (paired when both arms are one cell on one task and length and
share seeds); ``contest_row`` runs both tests and names the decisive one by the rule above (the time
test decides only where success carries no information, so the rule never picks the smaller p);
``contest_family`` adds Holm's adjustment over the rows' decisive p-values.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from rnn_scratch.study.stats import fisher, holm, mcnemar
from rnn_scratch.study.trials import Trial


@dataclass(frozen=True)
class ContestRow:
    """One contrast of the family: arm a against arm b."""

    label: str
    design: str  # paired | independent
    k_a: int
    n_a: int
    k_b: int
    n_b: int
    pairs: int  # seeds in both arms (paired design), else 0
    b_only: int  # paired: seeds solved by b only
    a_only: int  # paired: seeds solved by a only
    success_test: str  # mcnemar | fisher
    success_p: float
    time_p: float | None  # log-rank; None when no run solved
    decisive: str  # success | time
    p: float  # the decisive test's p
    holm: float  # Holm-adjusted over the family it was returned in


def design(a: list[Trial], b: list[Trial]) -> str:
    """``paired`` when both arms are one cell on one task and length and share at least one seed (a
    seed then pairs two runs of the same cell); else ``independent``."""
    keys = {(t.task, t.cell, t.length) for t in [*a, *b]}
    shared = {t.seed for t in a} & {t.seed for t in b}
    return "paired" if len(keys) == 1 and shared else "independent"


def logrank(a: list[Trial], b: list[Trial]) -> float | None:
    """Two-sided log-rank p on the times to solve (the solving eval; the budget, censored, when
    unsolved); None when no run of either arm solved."""
    if not any(t.solved for t in [*a, *b]):
        return None
    from lifelines.statistics import logrank_test

    def times(arm: list[Trial]) -> list[float]:
        return [t.upper if t.solved else t.lower for t in arm]

    found = logrank_test(times(a), times(b), [t.solved for t in a], [t.solved for t in b])
    return float(found.p_value)


def contest_row(label: str, a: list[Trial], b: list[Trial], paired: bool | None = None) -> ContestRow:
    """Both tests of arm ``a`` against arm ``b`` and the decisive one (module docstring); ``paired``
    None asks ``design``."""
    is_paired = design(a, b) == "paired" if paired is None else paired
    ka, kb = sum(t.solved for t in a), sum(t.solved for t in b)
    pairs, a_only, b_only = 0, 0, 0
    if is_paired:
        sa, sb = {t.seed: t.solved for t in a}, {t.seed: t.solved for t in b}
        common = sorted(sa.keys() & sb.keys())
        xs, ys = [sa[s] for s in common], [sb[s] for s in common]
        pairs = len(common)
        a_only = sum(x and not y for x, y in zip(xs, ys, strict=True))
        b_only = sum(y and not x for x, y in zip(xs, ys, strict=True))
        success_p, test, separable = mcnemar(xs, ys), "mcnemar", a_only != b_only
    else:
        success_p, test = fisher(ka, len(a), kb, len(b)), "fisher"
        separable = ka * len(b) != kb * len(a)
    time_p = logrank(a, b)
    decisive = "success" if separable or time_p is None else "time"
    p = time_p if decisive == "time" and time_p is not None else success_p
    return ContestRow(label, "paired" if is_paired else "independent", ka, len(a), kb, len(b), pairs,
                      b_only, a_only, test, success_p, time_p, decisive, p, p)  # fmt: skip


def contest_family(rows: list[ContestRow]) -> list[ContestRow]:
    """The rows with ``holm`` adjusted over their decisive p-values."""
    return [replace(r, holm=q) for r, q in zip(rows, holm(r.p for r in rows), strict=True)]
