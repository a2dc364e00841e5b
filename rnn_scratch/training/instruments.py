"""The dynamics instruments at eval time: a few cheap measurements on a subsample of the eval set.

``eval_dynamics`` steps the model's cell over the first sequences of the eval set and returns the
scalars and figures that ``log_dynamics`` writes to TensorBoard:

* ``memory/target_last``, ``memory/target_mean``: the probe's accuracy (r² for a regression target)
  of decoding the target from h_T, and its mean over the steps t = 1..T
* ``memory/capacity``: MC = Σ_k r²(k), the memory function summed over distances k ≤ ``MAX_LAG``
* ``dynamics/lyapunov_max``: the top Lyapunov exponent along ``LYAPUNOV_SEQUENCES`` eval trajectories
* images ``memory/curve`` (forward memory and the backward gradient profile on one time axis, and
  the memory function) and ``dynamics/trajectories`` (PCA plane, coloured by label), at the last
  eval only (drawing them costs more than measuring)

Nothing here draws from the global RNG, so a run trains identically with the instruments on or off.
Variable-length batches (task=names) are skipped: their steps do not line up across sequences.
"""

from __future__ import annotations

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


def drive(model: CharClassifier, data: Batch, n: int) -> tuple[Any, Tensor, Tensor, Tensor]:
    """Step the model's cell over the first n eval sequences: (cell, x (T, n[, I]), u, states (T+1, n, s))."""
    cell = as_cell(model.core)
    x = data.x[:n].transpose(0, 1)
    with torch.no_grad():
        u = project(cell, x)
        return cell, x, u, run(cell, u)


@torch.no_grad()
def eval_dynamics(
    model: CharClassifier,
    data: Batch,
    grad_profile: np.ndarray | None = None,
    chance: float | None = None,
    figures: bool = True,
) -> tuple[dict[str, float], dict[str, Any]]:
    """Scalars by tag and figures by tag (none unless ``figures``), from the model and its eval
    set; ({}, {}) when skipped."""
    if data.lengths is not None or len(data) < 4:
        return {}, {}
    cell, x, u, states = drive(model, data, PROBE_SEQUENCES)
    hidden = states[1:, :, : cell.hidden_size]
    y = data.y[: hidden.shape[1]]
    decoded = target_decoding(hidden, y)
    score = decoded.get("acc", decoded["r2"])
    curve = memory_curve(hidden, x, MAX_LAG, max_rows=MAX_ROWS)
    n_lyap = min(LYAPUNOV_SEQUENCES, hidden.shape[1])
    lyap = lyapunov_spectrum(cell, u[:, :n_lyap], states[:, :n_lyap], 1)[0].item()
    scalars = {
        "memory/target_last": score[-1].item(),
        "memory/target_mean": score.mean().item(),
        "memory/capacity": memory_capacity(curve),
        "dynamics/lyapunov_max": lyap,
    }
    if not figures:
        return scalars, {}
    pca = fit_pca(states[1:, :TRAJECTORIES])
    proj = pca.project(states[:, :TRAJECTORIES].double()).cpu().numpy()
    labels = y[:TRAJECTORIES].cpu().numpy() if not y.is_floating_point() else None
    capacity = scalars["memory/capacity"]
    return scalars, {
        "memory/curve": memory_figure(score.numpy(), grad_profile, curve.cpu().numpy(), capacity, chance),
        "dynamics/trajectories": trajectories_figure(proj, labels, pca.explained.cpu().numpy()),
    }


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
    metrics.json's names (``memory_capacity``, ``dynamics_lyapunov_max``, ...)."""
    matrix = monitor.profile.matrix("h")
    grad = matrix[-1] if matrix.size else None
    scalars, drawn = eval_dynamics(model, data, grad, chance, figures)
    monitor.scalars(step, scalars)
    monitor.figures(step, drawn)
    return {tag.replace("/", "_"): value for tag, value in scalars.items()}
