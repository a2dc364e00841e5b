"""The evidence a run records beside its training curves: when it evaluates, the gradient profile where
the mechanism acts, and the forward and backward views of its recurrence at initialisation and at the end.

* ``is_eval_step``: ``eval_schedule=fixed`` evaluates every ``eval_every`` steps (and at the last);
  ``geometric`` adds steps 1, 2, 4, 8, ... below ``eval_every``, so a run that solves early is not
  rounded up to one period. The extra early evals measure the metric only (no dynamics, no figures).
* ``probe_steps``: the log-spaced steps 0, 1, 2, 4, 8, ... at which ``gradient_probe`` measures the
  profile (step s: after s updates; step 0 is the initialisation, before any update), plus the last.
* ``gradient_probe``: ||dL/ds_t|| for t = 1..T on one fixed probe batch, back-propagated by a float64
  copy of the model. In float32 a gradient that shrinks by e^{-0.6} a step underflows within ~150
  steps (1e-38, then subnormals down to 1e-45 and zeros); float64 carries it to 1e-308, and values
  below float64's smallest normal number are dropped, never drawn or fitted.
* ``views``: the forward view (the top Lyapunov exponent lambda_1 along 16 eval trajectories, ln of the
  spectral radius rho of W_hh, or of its candidate block for LSTM/GRU, and the fraction of saturated
  units |h| > 0.95) of the model as it is.

``rnn_scratch.analysis.gradients.decay_rate`` fits the backward view: the slope of ln ||dL/dh_t||
against the distance T - t, per step, natural log, comparable with lambda_1.
"""

from __future__ import annotations

import copy
import math
from typing import Any

import numpy as np
import torch

from rnn_scratch.analysis.gradients import decay_rate
from rnn_scratch.analysis.lyapunov import burn_in_steps, lyapunov_spectrum
from rnn_scratch.analysis.stepping import layer_cells, recurrent_blocks
from rnn_scratch.models.classifier import CharClassifier
from rnn_scratch.tasks import Batch, Task
from rnn_scratch.training.config import TrainConfig
from rnn_scratch.training.instruments import drive
from rnn_scratch.training.monitor import SATURATION_THRESHOLD, recurrent_dynamics

PROBE_SEED_OFFSET = 2_000_029  # the probe batch's stream: disjoint from training's and the eval set's
FRESH_SEED_OFFSET = 3_000_017  # the fresh eval set's stream: it confirms a pass and is the final metric
LYAPUNOV_SEQUENCES = 16


def is_eval_step(cfg: TrainConfig, step: int) -> bool:
    """Whether ``step`` (1-based) is evaluated: every ``eval_every`` steps and the last; with
    ``eval_schedule=geometric`` also 1, 2, 4, ... below ``eval_every``."""
    if step % cfg.eval_every == 0 or step == cfg.steps:
        return True
    return cfg.eval_schedule == "geometric" and step < cfg.eval_every and step & (step - 1) == 0


def is_full_eval(cfg: TrainConfig, step: int) -> bool:
    """The evals on the fixed grid (and the last), where the dynamics instruments also run."""
    return step % cfg.eval_every == 0 or step == cfg.steps


def is_probe_step(step: int) -> bool:
    """0, 1, 2, 4, 8, ...: the log-spaced steps of the gradient probe (the loop adds the last step)."""
    return step == 0 or step & (step - 1) == 0


def probe_batch(cfg: TrainConfig, task: Task, device: torch.device) -> Batch:
    """The fixed batch every probe of a run measures, from its own stream (training's is untouched)."""
    return task.sample(cfg.batch_size, torch.Generator(device).manual_seed(cfg.seed + PROBE_SEED_OFFSET))


def _double(t: torch.Tensor) -> torch.Tensor:
    return t.double() if t.is_floating_point() else t


def gradient_probe(model: CharClassifier, task: Task, batch: Batch) -> dict[str, np.ndarray]:
    """||dL/ds_t||, t = 1..T, for each state part s (``h``; ``c`` too for the LSTM): (T,) float64 arrays,
    NaN below float64's smallest normal number. {} when the core records no per-step gradient.

    A float64 copy of the model runs forward and back on ``batch``; the model and its gradients are
    left untouched."""
    twin = copy.deepcopy(model).double()
    core: Any = twin.core
    if not hasattr(core, "record_state_grads"):
        return {}
    core.record_state_grads = True
    if hasattr(core, "cuda_graph"):
        core.cuda_graph = False
    out, _ = twin(_double(batch.x), batch.lengths, task.per_step)
    task.loss(out, _double(batch.y), batch.mask).backward()
    tiny = np.finfo(np.float64).tiny
    norms = {}
    for key, value in core.state_grad_norms.items():
        row = value.detach().cpu().double().numpy()
        norms[key] = np.where(np.isfinite(row) & (row >= tiny), row, np.nan)
    return norms


@torch.no_grad()
def views(model: CharClassifier, data: Batch) -> dict[str, float | None]:
    """``lyapunov_max`` (per step, natural log), ``log_spectral_radius`` (ln rho) and ``saturation``
    of the model now, along the first sequences of ``data`` (the run passes the gradient probe's batch:
    both views on the same sequences), lambda_1 averaged after a burn-in of ⌊T/4⌋ steps
    (``burn_in_steps``, the window the gradient decay is fitted on); lambda_1 and saturation None for
    variable-length data (their steps do not line up) and for a blown-up model. Stacked layers: rho is
    the largest of the layers' and lambda_1 the whole stack's."""
    weights = [cell.weight_hh.detach() for cell in layer_cells(model.core)]
    if not all(torch.isfinite(w).all() for w in weights):  # a blown-up model: nothing to measure
        return {"log_spectral_radius": None, "lyapunov_max": None, "saturation": None}
    rho = max(recurrent_dynamics(b)["spectral_radius"] for b in recurrent_blocks(model.core))
    out: dict[str, float | None] = {
        "log_spectral_radius": math.log(rho) if rho > 0 and math.isfinite(rho) else None,
        "lyapunov_max": None,
        "saturation": None,
    }
    if data.lengths is not None or len(data) < 2:
        return out
    cell, _, u, states = drive(model, data, LYAPUNOV_SEQUENCES)
    n = min(LYAPUNOV_SEQUENCES, states.shape[1])
    if not torch.isfinite(states).all():
        return out
    burn = burn_in_steps(u.shape[0])
    lyap = lyapunov_spectrum(cell, u[:, :n], states[:, :n], 1, burn_in=burn)[0].item()
    hidden = states[1:, :, : cell.hidden_size]
    out["lyapunov_max"] = lyap if math.isfinite(lyap) else None
    out["saturation"] = (hidden.abs() > SATURATION_THRESHOLD).double().mean().item()
    return out


def fresh_eval_set(cfg: TrainConfig, task: Task, device: torch.device) -> Batch:
    """``final_eval_size`` sequences from a stream disjoint from the eval set's and training's."""
    gen = torch.Generator(device).manual_seed(cfg.seed + FRESH_SEED_OFFSET)
    return task.eval_set(cfg.final_eval_size or cfg.eval_size, gen)


def probe(run: Any, step: int) -> None:
    """Measure the gradient profile of ``run`` (a ``rnn_scratch.training.setup.Run``) after ``step``
    updates, on the run's fixed probe batch, into its profile (saved to ``grad_norms.npz``)."""
    batch = probe_batch(run.cfg, run.task, run.device)
    run.monitor.profile.add_probe(step, gradient_probe(run.model, run.task, batch))


def record_start(run: Any) -> None:
    """At initialisation, before any update: the probe at step 0 and the forward view, kept in
    ``run.last`` (so a checkpoint keeps them) as ``*_init``."""
    probe(run, 0)
    found = views(run.model, probe_batch(run.cfg, run.task, run.device))
    run.last.update({f"{k}_init": v for k, v in found.items()})


def record_end(run: Any, step: int) -> dict[str, Any]:
    """At the end: the probe at the last completed step, the forward view (``*_final``), and the fitted
    gradient decays ``grad_decay_init`` / ``grad_decay_final`` (from the first and last probe rows)."""
    probe(run, step)
    batch = probe_batch(run.cfg, run.task, run.device)  # the same sequences for both views
    found = {f"{k}_final": v for k, v in views(run.model, batch).items()}
    profile = run.monitor.profile
    rows = profile.probe("h")
    decay: dict[str, Any] = {"grad_decay_init": None, "grad_decay_final": None, "grad_decay_step_final": None}
    if rows.size:
        first = profile.probe_steps.index(0) if 0 in profile.probe_steps else None
        burn = burn_in_steps(rows.shape[-1])
        if rows.ndim == 3:  # stacked (probes, L, T): the bottom layer's, reached through the whole stack
            rows = rows[:, 0]
        decay["grad_decay_init"] = None if first is None else decay_rate(rows[first], burn)
        decay["grad_decay_final"] = decay_rate(rows[-1], burn)
        decay["grad_decay_step_final"] = profile.probe_steps[-1]
    return {**found, **decay}
