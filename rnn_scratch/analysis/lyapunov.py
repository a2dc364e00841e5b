"""Stability along trajectories: Jacobian products and Lyapunov exponents of the driven network.

A perturbation ``δs_0`` of the state travels forward as ``δs_t = J_t ... J_1 δs_0`` and the gradient
travels back through the same product transposed: ``dL/ds_{T-k} = (J_T ... J_{T-k+1})^T dL/ds_T``.
So ``‖J_T ... J_{T-k+1}‖_2`` against the distance k bounds how much of the loss's gradient can reach
k steps back (Pascanu et al. 2013), and its growth rate is the top Lyapunov exponent.

Lyapunov exponents by Benettin's QR method (Benettin et al. 1980; Engelken, Wolf & Abbott 2020;
Vogt et al. 2022): start from k orthonormal directions ``Q_0`` (n, k) and for t = 1..T

    Q_t R_t = J_t Q_{t-1}        (thin QR, diag(R_t) made positive)
    λ_i     = (1/T) Σ_t ln R_t[i, i]

per time step, natural log, descending. With ``burn_in`` b the first b steps only align Q with the
most expanding directions (the state leaves h_0 = 0, Q_0 forgets its random start) and the average runs
over t = b+1..T: ``burn_in_steps(T)`` = ⌊T/4⌋ is the window the study uses for both views (the
gradient decay is fitted on the same steps: ``rnn_scratch.analysis.gradients.decay_rate``).
λ_1 < 0: nearby trajectories converge (the state forgets its past, and gradients vanish at a rate
e^{λ_1} per step); λ_1 > 0: chaos, they diverge (gradients explode); λ_1 ≈ 0: the edge of chaos, where
information and gradients persist longest.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from rnn_scratch.analysis.stepping import as_cell, jacobian_times, jacobians, project, run, state_size
from rnn_scratch.models.cells import RecurrentCell


def burn_in_steps(length: int) -> int:
    """The steps both views leave out at the start of a sequence of ``length``: ⌊T/4⌋."""
    return length // 4


def lyapunov_spectrum(
    cell: RecurrentCell, u: Tensor, states: Tensor, k: int, seed: int = 0, burn_in: int = 0
) -> Tensor:
    """Top-k exponents along the trajectories ``states`` (T + 1, B, n) driven by u (T, B, G*H),
    averaged over the B trajectories and over steps ``burn_in``+1..T -> (k,). Only the products
    ``J_t Q`` are formed (k forward-mode passes a step), never J_t itself.

    ``Q_0`` is drawn from its own generator (``seed``), so the global RNG, and a training run that
    calls this, are left untouched.
    """
    steps, batch, n = u.shape[0], states.shape[1], states.shape[-1]
    if not 1 <= k <= n:
        raise ValueError(f"k must be in [1, {n}], got {k}")
    if not 0 <= burn_in < steps:
        raise ValueError(f"burn_in must be in [0, {steps}), got {burn_in}")
    gen = torch.Generator().manual_seed(seed)
    q0 = torch.linalg.qr(torch.randn(n, k, generator=gen, dtype=torch.float64))[0]
    q = q0.to(states.device, torch.float64).expand(batch, n, k)
    log_r = states.new_zeros(batch, k, dtype=torch.float64)
    for t in range(steps):
        q, r = torch.linalg.qr(jacobian_times(cell, u[t], states[t], q).double())
        if t >= burn_in:
            log_r = log_r + r.diagonal(dim1=-2, dim2=-1).abs().clamp_min(1e-300).log()
    exponents = (log_r / (steps - burn_in)).mean(dim=0)
    return exponents.sort(descending=True).values


def lyapunov_exponents(
    core: nn.Module, x: Tensor, k: int, h0: Tensor | None = None, *, seed: int = 0
) -> Tensor:
    """Top-k Lyapunov exponents of ``core`` driven by ``x``: (k,), descending, per step, natural log.

    ``core``: one of our RNN/LSTM/GRU layers (or cells), or a torch_* baseline. ``x: (T, B, I)``
    the inputs (or (T, B) character indices); ``h0: (B, n)`` the initial flat state (zeros when None;
    ``[h; c]`` for the LSTM). Float64 accumulation; the exponents are averaged over the B trajectories.
    """
    cell = as_cell(core)
    k = min(k, state_size(cell))
    u = project(cell, x).detach()
    states = run(cell, u, h0)
    return lyapunov_spectrum(cell, u, states, k, seed)


@torch.no_grad()
def product_norms(cell: RecurrentCell, u: Tensor, states: Tensor) -> Tensor:
    """``‖∂s_T/∂s_t‖_2 = ‖J_T J_{T-1} ... J_{t+1}‖_2`` for t = 1..T (index t - 1; 1 at t = T),
    geometric mean over the batch: (T,). u: (T, B, G*H), states: (T + 1, B, n) from ``run``.

    How much a perturbation of the state after step t can move the final state: the forward
    counterpart of the gradient ‖dL/dh_t‖ that the loss at t = T sends back, on the same time axis.
    """
    n = states.shape[-1]
    prod = torch.eye(n, dtype=torch.float64, device=states.device).expand(states.shape[1], n, n)
    out = [prod.new_ones(())]
    for t in range(u.shape[0] - 1, 0, -1):  # float64: a vanishing product reaches 1e-40 quickly
        prod = prod @ jacobians(cell, u[t], states[t]).double()
        norm = torch.linalg.matrix_norm(prod, ord=2).clamp_min(1e-300)
        out.append(norm.log().mean().exp())
    return torch.stack(out[::-1])
