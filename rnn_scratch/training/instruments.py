"""The dynamics instruments at eval time: a few cheap measurements on a subsample of the eval set.

``eval_dynamics`` steps the model's cell over the first sequences of the eval set and returns the
scalars and figures that ``log_dynamics`` writes to TensorBoard:

* ``memory/target_last``, ``memory/target_mean``: the probe's accuracy (r² for a regression target)
  of decoding the target from h_T, and its mean over the steps t = 1..T (a per-step task: the final
  step's target)
* ``memory/capacity``: MC = Σ_k r²(k), the memory function summed over distances k ≤ ``MAX_LAG``
* ``dynamics/lyapunov_max``: the top Lyapunov exponent along ``LYAPUNOV_SEQUENCES`` eval trajectories
* images ``memory/curve`` (forward memory and the backward gradient profile on one time axis, and
  the memory function) and ``dynamics/trajectories`` (PCA plane, coloured by label), at the last
  eval only (drawing them costs more than measuring)

Nothing here draws from the global RNG, so a run trains identically with the instruments on or off.
Variable-length batches (task=names) are skipped: their steps do not line up across sequences.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import torch
from torch import Tensor

from rnn_scratch.analysis.figures import memory_figure, trajectories_figure
from rnn_scratch.analysis.lyapunov import lyapunov_spectrum
from rnn_scratch.analysis.memory import memory_capacity, memory_curve, target_decoding
from rnn_scratch.analysis.stepping import as_cell, project, run
from rnn_scratch.analysis.trajectories import fit_pca
from rnn_scratch.models.classifier import CharClassifier
from rnn_scratch.tasks import Batch

PROBE_SEQUENCES = 256  # half fit the probes, half score them
MAX_LAG = 20  # distances of the memory function at eval (scripts/analyze.py: all of them)
MAX_ROWS = 1024  # rows per distance for the memory probes at eval: a few steps t, evenly spaced
LYAPUNOV_SEQUENCES = 16
TRAJECTORIES = 24
log = logging.getLogger(__name__)


def drive(model: CharClassifier, data: Batch, n: int) -> tuple[Any, Tensor, Tensor, Tensor]:
    """Step the model's cell over the first n eval sequences: (cell, x (T, n[, I]), u, states (T+1, n, s))."""
    cell = as_cell(model.core)
    x = data.x[:n].transpose(0, 1)
    with torch.no_grad():
        u = project(cell, x)
        return cell, x, u, run(cell, u)


class Skipped(Exception):
    """An instrument that cannot apply to this run (a 1-D state, too few samples): skipped, not failed."""


@torch.no_grad()
def eval_dynamics(
    model: CharClassifier,
    data: Batch,
    grad_profile: np.ndarray | None = None,
    chance: float | None = None,
    figures: bool = True,
    skipped: dict[str, str] | None = None,
) -> tuple[dict[str, float], dict[str, Any]]:
    """Scalars by tag and figures by tag (none unless ``figures``), from the model and its eval set.

    Each instrument is measured on its own: one that cannot apply (``Skipped``: a 1-D state has no PCA
    plane, a handful of sequences fits no probe) or fails (a singular fit, any error) is left out and
    its reason put in ``skipped`` (tag -> one line); the others are still measured. ({}, {}) for
    variable-length batches.
    """
    skipped = {} if skipped is None else skipped
    if data.lengths is not None:
        return {}, {}
    scalars: dict[str, float] = {}
    drawn: dict[str, Any] = {}

    def attempt(tag: str, measure: Any) -> Any:
        try:
            return measure()
        except Exception as error:  # noqa: BLE001 - an instrument never fails a run that trained
            skipped[tag] = str(error).splitlines()[0] if str(error) else type(error).__name__
            return None

    def too_few() -> None:
        if len(data) < 4:
            raise Skipped(f"{len(data)} eval sequences: too few to fit a probe (needs 4)")

    cell, x, u, states = drive(model, data, PROBE_SEQUENCES)
    hidden = states[1:, :, : cell.hidden_size]
    y = data.y[: hidden.shape[1]]
    if data.mask is not None:  # per-step targets: the probe decodes the final step's
        y = y[:, -1]

    def probes() -> tuple[Tensor, Tensor]:
        too_few()
        if data.mask is not None and not data.mask[: hidden.shape[1], -1].all():
            raise Skipped("the final step carries no target in every sequence: no target to decode")
        decoded = target_decoding(hidden, y)
        score = decoded.get("acc", decoded["r2"])
        scalars["memory/target_last"], scalars["memory/target_mean"] = score[-1].item(), score.mean().item()
        curve = memory_curve(hidden, x, MAX_LAG, max_rows=MAX_ROWS)
        scalars["memory/capacity"] = memory_capacity(curve)
        return score, curve

    def lyapunov() -> None:
        n_lyap = min(LYAPUNOV_SEQUENCES, hidden.shape[1])
        scalars["dynamics/lyapunov_max"] = lyapunov_spectrum(cell, u[:, :n_lyap], states[:, :n_lyap], 1)[
            0
        ].item()

    def trajectories() -> None:
        if states.shape[-1] < 2:
            raise Skipped(f"a {states.shape[-1]}-D state has no PCA plane to draw")
        pca = fit_pca(states[1:, :TRAJECTORIES])
        proj = pca.project(states[:, :TRAJECTORIES].double()).cpu().numpy()
        labels = y[:TRAJECTORIES].cpu().numpy() if not y.is_floating_point() else None
        drawn["dynamics/trajectories"] = trajectories_figure(proj, labels, pca.explained.cpu().numpy())

    def memory_plot() -> None:
        score, curve = memory
        capacity = scalars["memory/capacity"]
        drawn["memory/curve"] = memory_figure(
            score.numpy(), grad_profile, curve.cpu().numpy(), capacity, chance
        )

    memory = attempt("memory", probes)
    attempt("dynamics/lyapunov_max", lyapunov)
    if figures and memory is not None:
        attempt("memory/curve", memory_plot)
    if figures:
        attempt("dynamics/trajectories", trajectories)
    return scalars, drawn


def log_dynamics(
    monitor: Any,
    step: int,
    model: CharClassifier,
    data: Batch,
    chance: float | None = None,
    figures: bool = True,
) -> dict[str, float]:
    """Measure and write to the run's ``Monitor`` (its scalars, and figures when asked: they cost
    more than the rest, so the loop draws them at the last eval only); returns the scalars under
    metrics.json's names (``memory_capacity``, ``dynamics_lyapunov_max``, ...).

    An instrument that cannot apply is skipped with a one-line notice in the log (once per run and
    instrument); nothing here can fail the run.
    """
    matrix = monitor.profile.matrix("h")
    grad = matrix[-1] if matrix.size else None
    if grad is not None and grad.ndim == 2:  # stacked (L, T): the top layer's, whose h is probed
        grad = grad[-1]
    skipped: dict[str, str] = {}
    try:
        scalars, drawn = eval_dynamics(model, data, grad, chance, figures, skipped)
    except Exception as error:  # noqa: BLE001 - stepping the cell itself failed: no instrument applies
        scalars, drawn, skipped = (
            {},
            {},
            {"dynamics": str(error).splitlines()[0] if str(error) else repr(error)},
        )
    said = monitor.__dict__.setdefault("skipped_instruments", set())
    for tag, reason in skipped.items():
        if tag not in said:
            said.add(tag)
            log.warning("instrument %s skipped: %s", tag, reason)
    monitor.scalars(step, scalars)
    monitor.figures(step, drawn)
    return {tag.replace("/", "_"): value for tag, value in scalars.items()}
