"""What every hand-derived recurrence shares: the modes, truncation boundaries, masks and norms."""

from __future__ import annotations

import torch
from torch import Tensor

from rnn_scratch.models.base import State

BPTT_MODES = ("autograd", "manual")
"""How a layer backpropagates: autograd through its loop, or the hand-derived backward."""


def detach_state(state: State) -> State:
    """The state cut from the graph (each tensor of a tuple state): a truncation boundary."""
    if isinstance(state, Tensor):
        return state.detach()
    h, c = state
    return h.detach(), c.detach()


def is_chunk_start(t: int, truncate: int | None) -> bool:
    """Whether (0-based) step t starts a new chunk, i.e. the state entering it is detached."""
    return truncate is not None and t > 0 and t % truncate == 0


def check_args(
    u: Tensor, truncate: int | None, mask: Tensor | None, norms: tuple[Tensor | None, ...]
) -> None:
    """ValueError for a bad ``truncate``, a ``mask`` that is not (T, B) bool, or a norm buffer
    that is not (T,)."""
    if truncate is not None and truncate < 1:
        raise ValueError(f"truncate must be >= 1 or None, got {truncate}")
    if mask is not None and (mask.dtype != torch.bool or mask.shape != u.shape[:2]):
        raise ValueError(
            f"mask must be a bool tensor of shape {tuple(u.shape[:2])}, got {mask.dtype} {tuple(mask.shape)}"
        )
    for norm_out in norms:
        if norm_out is not None and norm_out.shape != u.shape[:1]:
            raise ValueError(f"norm_out must have shape ({u.shape[0]},), got {tuple(norm_out.shape)}")


def step_norms(g: Tensor) -> Tensor:
    """``||g_t||`` (Frobenius over (B, H)) for every step of g: (T, B, H) -> (T,), in float64:
    squaring a float32 gradient of 1e-21 would underflow to an exact 0."""
    return torch.linalg.vector_norm(g.reshape(g.shape[0], -1), dim=1, dtype=torch.float64)


def weight_grad(delta: Tensor, h0: Tensor, hs: Tensor) -> Tensor:
    """``dW_hh = sum_t delta_t^T h_{t-1}``: every step's outer product in one matmul over all
    (t, batch) rows, plus t = 1 (whose h_0 is not in hs).

    delta: (T, B, G*H) gradients of the steps' pre-activations, h0: (B, H), hs: (T, B, H) -> (G*H, H).
    """
    grad_w = delta[0].t().mm(h0)
    if delta.shape[0] > 1:
        grad_w.addmm_(delta[1:].reshape(-1, delta.shape[2]).t(), hs[:-1].reshape(-1, hs.shape[2]))
    return grad_w


def mask_factors(mask: Tensor, like: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """For a (T, B) bool mask: (bool (T, B, 1), m as float (T, B, 1), 1 - m as float (T, B, 1))."""
    mb = mask[:, :, None]
    mf = mb.to(like.dtype)
    return mb, mf, 1.0 - mf


def previous(first: Tensor, seq: Tensor) -> Tensor:
    """``[first, seq_0, ..., seq_{T-2}]``: the value each step started from.

    first: (B, H), seq: (T, B, H) -> (T, B, H)."""
    return torch.cat([first[None], seq[:-1]])


def tanh_from_sigmoid_(s: Tensor) -> Tensor:
    """In place: ``s = sigma(2a)`` becomes ``tanh(a) = 2 s - 1``.

    On the CPU ``torch.sigmoid`` is several times faster than ``torch.tanh``, so the recurrences
    double the pre-activations that feed a tanh (their slice of ``u``, ``W_hh`` and ``b_hh``, once
    per call) and take a sigmoid instead. In float32 the result is exact to about 1e-7 absolute
    (``torch.tanh``: about 1e-7 relative); the backward pass uses the true derivatives.
    """
    return s.mul_(2.0).sub_(1.0)
