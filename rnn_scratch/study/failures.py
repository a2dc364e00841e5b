"""How an unsolved run failed: its gradient exploded, vanished, or neither, from the norms it recorded.

Two measurements per run (``Trial``): ``grad_norm_max``, the largest global gradient norm before
clipping over training, and ``ln_first_last`` = ln(||dL/dh_1|| / ||dL/dh_T||) at the end of training
(the float64 probe's last row, or the fitted decay per step times T - 1). The rules, in this order:

* **exploded**: the run diverged (a non-finite loss or gradient), or ``grad_norm_max`` >=
  ``EXPLODED_NORM`` = 1e6, or ``ln_first_last`` >= ``-VANISHED_LN_RATIO`` (the gradient reaching the
  first step 1/eps_32 = 8.4e6 times the last step's). 1e6: with the study's clip at 1.0 such a step was
  scaled down a millionfold, so its direction is the exploding component's alone (the cliff of Pascanu
  et al. 2013). The gated cells, whose recurrence their gates bound, stayed below 1e5 on every run of
  the memory study's summary.csv when this was written (largest 9.0e4, solved or not), while the IRNN's
  unsolved temporal-order runs at T >= 200 reached 6.7e6 to 1.7e18.
* **vanished**: ``ln_first_last`` <= ``VANISHED_LN_RATIO`` = ln(eps_32) = ln 2^-23 = -15.9: the gradient
  reaching the first step is below float32's relative precision of the last step's, so what the first
  inputs could teach is lost in rounding where the per-step contributions to dL/dW_hh are summed
  (Bengio et al. 1994's vanishing gradient, at the precision the run trained in).
* **neither**: both measured, neither rule met (the gradient reaches back, the run learned too slowly);
  **unknown**: not diverged and no gradient measurement recorded.

Explosion is checked first because it is the event: an IRNN whose ReLU units died after a blow-up ends
with a vanished profile too; ``Failure`` keeps both flags so a page can say "exploded, then vanished".
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass

import numpy as np

from rnn_scratch.study.trials import Trial

EXPLODED_NORM = 1e6
VANISHED_LN_RATIO = math.log(float(np.finfo(np.float32).eps))  # -15.94
MODES = ("exploded", "vanished", "neither", "unknown")


@dataclass(frozen=True)
class Failure:
    """An unsolved run's failure mode and the evidence for it."""

    task: str
    cell: str
    length: int
    seed: str
    mode: str  # exploded | vanished | neither | unknown
    exploded: bool
    vanished: bool
    diverged: bool
    grad_norm_max: float | None
    ln_first_last: float | None


def classify(
    diverged: bool, grad_norm_max: float | None, ln_first_last: float | None
) -> tuple[str, bool, bool]:
    """(mode, exploded, vanished) from a run's evidence (module docstring)."""
    ratio = ln_first_last
    exploded = (
        diverged
        or (grad_norm_max is not None and grad_norm_max >= EXPLODED_NORM)
        or (ratio is not None and ratio >= -VANISHED_LN_RATIO)
    )
    vanished = ratio is not None and ratio <= VANISHED_LN_RATIO
    if exploded:
        return "exploded", True, vanished
    if vanished:
        return "vanished", False, True
    known = grad_norm_max is not None or ratio is not None
    return ("neither" if known else "unknown"), False, False


def failure(trial: Trial) -> Failure | None:
    """The failure mode of an unsolved run; None for a solved one."""
    if trial.solved:
        return None
    diverged = trial.status == "diverged"
    mode, exploded, vanished = classify(diverged, trial.grad_norm_max, trial.ln_first_last)
    return Failure(trial.task, trial.cell, trial.length, trial.seed, mode, exploded, vanished, diverged,
                   trial.grad_norm_max, trial.ln_first_last)  # fmt: skip


def failures(trials: list[Trial]) -> list[Failure]:
    """The unsolved runs' failure modes, in the trials' order."""
    return [f for t in trials if (f := failure(t)) is not None]


def failure_counts(trials: list[Trial]) -> list[dict[str, object]]:
    """A row per (task, cell) with unsolved runs: task, cell, unsolved and the count of each mode
    (``exploded``, ``vanished``, ``neither``, ``unknown``) and of ``exploded_then_vanished``."""
    found = failures(trials)
    rows = []
    for task, cell in dict.fromkeys((f.task, f.cell) for f in found):
        mine = [f for f in found if f.task == task and f.cell == cell]
        modes = Counter(f.mode for f in mine)
        rows.append({"task": task, "cell": cell, "unsolved": len(mine), **{m: modes[m] for m in MODES},
                     "exploded_then_vanished": sum(f.exploded and f.vanished for f in mine)})  # fmt: skip
    return rows
