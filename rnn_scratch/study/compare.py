"""Is a re-run the same run? Discrete outcomes exactly, continuous metrics within a stated tolerance.

A run re-made on another processor is the same run when only float rounding differs: torch picks its
float32 CPU kernels by instruction set (``torch.backends.cpu.get_cpu_capability()``: default, AVX2,
AVX512), and the kernels sum in different orders, so the last bits of a loss differ (measured: a published
``eval_loss`` of 0.05672449246048927 re-made as 0.056724462658166885 on an AVX2 EPYC, relative 5.3e-7).
So the columns of a published row are compared two ways:

* **Outcomes**, exactly: ``status`` (solved, completed, diverged: an outcome that flips is reported as a
  flip, never absorbed by a tolerance), whether the task's rule held (``steps_to_solve`` set or not), and
  the counts ``steps``, ``steps_to_solve``, ``sequences_to_solve``, ``budget_sequences``.
* **Metrics**, within ``REL_TOL`` = 1e-4 relative (``|a - b| <= REL_TOL * max(|a|, |b|, FLOOR)``, with
  ``FLOOR`` = 1e-3 so that near zero, where a ratio means nothing, the test is an absolute 1e-7). float32
  rounds at 6e-8 relative, and training compounds it: two published vanishing/cells jobs re-made with
  ``ATEN_CPU_CAPABILITY=avx2`` on the AVX512 machine that made them differed by at most 6.4e-6
  (``grad_norm_max``; ``eval_loss`` 5.3e-7, accuracies not at all). 1e-4 leaves more than an order of
  magnitude above that, while any result the pages state (2-3 significant digits) or a single flipped eval
  prediction (1/512 = 2e-3 of an accuracy) lies far outside it.

``Comparison`` keeps the largest relative difference per metric, so a verification says how close it was
as well as whether it passed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from rnn_scratch.study.runs import MACHINE_COLUMNS

REL_TOL = 1e-4
FLOOR = 1e-3  # values below it are compared to it: an absolute REL_TOL * FLOOR = 1e-7 at zero
OUTCOMES = ("status", "steps", "steps_to_solve", "sequences_to_solve", "budget_sequences")
# timings, the code version and the machine (runs.MACHINE_COLUMNS) differ between a run and its re-run
NOT_COMPARED = frozenset({"job", "wall_time_s", "code", "seq_per_s", *MACHINE_COLUMNS})


def relative(a: float, b: float) -> float:
    """|a - b| / max(|a|, |b|, ``FLOOR``): relative, but near zero, where a ratio means nothing (a
    saturation of 0 against 1e-9), relative to ``FLOOR``, so there the test is absolute (1e-7)."""
    return 0.0 if a == b else abs(a - b) / max(abs(a), abs(b), FLOOR)


def number(text: str) -> float | None:
    """The CSV's text as a float, or None for an empty cell or a word."""
    try:
        return float(text)
    except ValueError:
        return None


@dataclass
class Comparison:
    """Rows compared so far: outcome flips, metrics beyond the tolerance, the largest relative
    difference seen per metric."""

    flips: list[str] = field(default_factory=list)  # "status solved published, completed now"
    beyond: list[str] = field(default_factory=list)  # "eval_loss 0.5 published, 0.6 now (relative 2e-1)"
    largest: dict[str, float] = field(default_factory=dict)

    @property
    def same(self) -> bool:
        return not self.flips and not self.beyond

    def add(self, published: dict[str, str], now: dict[str, str]) -> Comparison:
        """Compare one published row with its re-run (both as the CSV writes values); this row's own
        differences are returned as a new ``Comparison`` and folded into ``self``'s largest values."""
        row = Comparison()
        solved = (published.get("steps_to_solve", "") != "", now.get("steps_to_solve", "") != "")
        if "steps_to_solve" in published and solved[0] != solved[1]:
            row.flips.append(f"solved {solved[0]} published, {solved[1]} now")
        for column, value in published.items():
            if column in NOT_COMPARED or column not in now:
                continue
            again = now[column]
            if column in OUTCOMES:
                if again != value:
                    row.flips.append(f"{column} {value or '-'} published, {again or '-'} now")
                continue
            a, b = number(value), number(again)
            if a is None or b is None or not (math.isfinite(a) and math.isfinite(b)):
                if value != again and not (
                    a is not None and b is not None and math.isnan(a) and math.isnan(b)
                ):
                    row.beyond.append(f"{column} {value or '-'} published, {again or '-'} now")
                continue  # empty, a word, NaN or inf: the same text, or a difference
            diff = relative(a, b)
            row.largest[column] = max(row.largest.get(column, 0.0), diff)
            if diff > REL_TOL:
                row.beyond.append(f"{column} {value} published, {again} now (relative {diff:.1e})")
        self.flips += row.flips
        self.beyond += row.beyond
        for column, diff in row.largest.items():
            self.largest[column] = max(self.largest.get(column, 0.0), diff)
        return row

    def largest_text(self) -> list[str]:
        """``eval_loss 5.3e-08`` per metric, the largest first."""
        ranked = sorted(self.largest.items(), key=lambda kv: -kv[1])
        return [f"{column} {diff:.1e}" for column, diff in ranked]
