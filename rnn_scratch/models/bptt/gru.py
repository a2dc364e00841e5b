"""Backpropagation through time by hand for the GRU, over the whole sequence.

Forward, for t = 1..T (rows are batch elements; ``u_t = x_t W_ih^T + b_ih`` (B, 3H) is computed
for all steps beforehand, blocks r, z, n as torch; every block (B, H))::

    w_t = h_{t-1} W_hh^T + b_hh                     (B, 3H), blocks w^r, w^z, w^n
    r_t = sigma(u^r_t + w^r_t)     z_t = sigma(u^z_t + w^z_t)
    n_t = tanh(u^n_t + r_t * w^n_t)
    h_t = (1 - z_t) * n_t + z_t * h_{t-1}           (one ``torch.lerp(n_t, h_{t-1}, z_t)``)

Backward. With ``gh_t`` the total dL/dh_t and ``e_t = dL/dw_t`` (B, 3H), from t = T down to 1::

    gh_t     = dL/dh_t (direct) + gh_{t+1} * z_{t+1} + e_{t+1} W_hh
    dn_t     = gh_t * (1 - z_t) * (1 - n_t^2)                      = dL/d(u^n_t + r_t w^n_t)
    e^r_t    = dn_t * w^n_t * r_t (1 - r_t)                         = dL/du^r_t too
    e^z_t    = gh_t * (h_{t-1} - n_t) * z_t (1 - z_t)               = dL/du^z_t too
    e^n_t    = dn_t * r_t                                           (while dL/du^n_t = dn_t)

Every factor but ``gh_t`` is known in the forward pass, so ``e_t = gh_t * Q_t`` with
``Q_t = [(1 - z)(1 - n^2) w^n r (1 - r), (h_{t-1} - n) z (1 - z), (1 - z)(1 - n^2) r]``, computed
once the forward loop is done, for all steps at once (a dozen ops over (T, B, H) cost less than a
dozen small ones a step): the backward loop is one broadcast multiply, one ``addcmul`` and one
(B, 3H) x (3H, H) matmul per step. (The forward pass computes the tanh as ``2 sigma(2x) - 1``, see
``rnn_scratch.models.bptt.common.tanh_from_sigmoid_``.) After it, as single matmuls over all (t, batch) rows::

    dW_hh = sum_t e_t^T h_{t-1}   (3H, H)     db_hh = sum_t e_t   (3H,)
    du_t  = [e^r_t, e^z_t, dn_t]  (B, 3H)     dh_0 = gh_1 * z_1 + e_1 W_hh

Masks (right-padded batches): where ``mask[t, b]`` is False the state is carried, ``h_t =
h_{t-1}``. With ``m_t`` the mask as 0/1 (B, 1), ``Q_t`` and ``dn_t`` are multiplied by ``m_t`` and
the carry ``gh_t * z_t`` becomes ``gh_t * (m_t z_t + 1 - m_t)``: padding passes the gradient on.

Truncation (``truncate = k``): no carry into step t-1 when (0-based) step t starts a chunk, as in
``rnn_scratch.models.bptt.tanh``. ``||gh_t||`` goes into an optional (T,) float64 buffer for the instruments.

References: Cho et al. (2014); torch's ``GRUCell`` for ``b_hn`` inside the reset product.
"""

from __future__ import annotations

from functools import partial
from typing import Any

import torch
from torch import Tensor
from torch.autograd.function import FunctionCtx, once_differentiable

from rnn_scratch.models.bptt import fused
from rnn_scratch.models.bptt.common import (
    check_args,
    is_chunk_start,
    step_norms,
    weight_grad,
)


class GRURecurrence(torch.autograd.Function):
    """``hs = GRURecurrence.apply(u, h0, weight_hh, bias_hh, truncate, mask, norm_out)``.

    u: (T, B, 3H) projected inputs, h0: (B, H), weight_hh: (3H, H), bias_hh: (3H,) or None,
    truncate: int >= 1 or None, mask: (T, B) bool or None, norm_out: (T,) or None, filled with
    ``||dL/dh_t||`` by backward. Returns hs: (T, B, H), the state after every step.
    """

    @staticmethod
    def forward(  # type: ignore[override]
        ctx: FunctionCtx,
        u: Tensor,
        h0: Tensor,
        weight_hh: Tensor,
        bias_hh: Tensor | None,
        truncate: int | None,
        mask: Tensor | None,
        norm_out: Tensor | None,
        grad_enabled: bool = True,
        compile_steps: bool = False,
    ) -> Tensor:
        steps, batch, three_h = u.shape
        hidden = three_h // 3
        # The n block of u, W_hh and b_hh doubled: n_t = 2 sigma(2 (u^n + r w^n)) - 1 (as in
        # tanh_from_sigmoid_, written as one add with alpha=2).
        scale = u.new_ones(3, hidden)
        scale[2] = 2.0
        scale = scale.view(-1)
        acts = (u * scale).contiguous()  # becomes r, z, n in place, step by step (whole rows)
        w_t = (weight_hh * scale[:, None]).t()
        b_hh = bias_hh * scale if bias_hh is not None else None
        grad = grad_enabled and any(ctx.needs_input_grad[:4])  # type: ignore[attr-defined]
        step = None  # the compiled step kernel, when asked for and available (no mask, for backward)
        if compile_steps and grad and mask is None:
            step = fused.compiled(fused.gru_forward_step, *fused.examples(u, [3, 3, 1, 1, 3, 1, 1]))
        ctx.compiled = step is not None  # type: ignore[attr-defined]
        if step is not None:  # one matmul and one fused kernel a step, into the same buffers
            q, p_n, carry_h, hs = _forward_compiled(step, acts, h0, w_t, b_hh)
        else:
            rec = torch.empty_like(acts)  # w_t (its n block doubled), kept: w^n_t is needed backward
            hs = _forward_loop(acts, rec, h0, w_t, b_hh, mask)
            q, p_n, carry_h = _backward_factors(acts, rec, hs, h0, mask) if grad else (acts,) * 3
        ctx.save_for_backward(q, p_n, carry_h, hs, h0, weight_hh, mask)  # type: ignore[arg-type]
        ctx.truncate = truncate  # type: ignore[attr-defined]
        ctx.norm_out = norm_out  # type: ignore[attr-defined]
        ctx.has_bias = bias_hh is not None  # type: ignore[attr-defined]
        return hs

    @staticmethod
    @once_differentiable
    def backward(ctx: Any, grad_hs: Tensor) -> tuple[Tensor | None, ...]:
        q, p_n, carry_h, hs, h0, weight_hh, mask = ctx.saved_tensors
        steps, batch, _, hidden = q.shape
        three_h = 3 * hidden

        gh = torch.empty_like(hs)  # the direct dL/dh_t, becoming the total step by step
        gh.copy_(grad_hs)
        e = torch.empty(steps, batch, three_h, dtype=hs.dtype, device=hs.device)
        gh_s, e_s, e3_s = gh.unbind(0), e.unbind(0), e.view(steps, batch, 3, hidden).unbind(0)
        gh_b = gh.view(steps, batch, 1, hidden).unbind(0)  # gh_t as (B, 1, H): broadcast over r, z, n
        q_s, carry_s = q.unbind(0), carry_h.unbind(0)
        truncate: int | None = ctx.truncate
        step = None
        if ctx.compiled:  # e_t and gh_{t-1} += gh_t z_t in one kernel (compiled in forward)
            ex = (gh_s[0], q_s[0], carry_s[0], torch.empty_like(gh_s[0]), e3_s[0])
            step = fused.compiled(fused.gru_backward_step, *ex)
        cut = [is_chunk_start(t, truncate) for t in range(steps)]
        for t in range(steps - 1, -1, -1):
            if step is not None and t > 0 and not cut[t]:
                step(gh_s[t], q_s[t], carry_s[t], gh_s[t - 1], e3_s[t])
                gh_s[t - 1].addmm_(e_s[t], weight_hh)
                continue
            torch.mul(gh_b[t], q_s[t], out=e3_s[t])
            if t > 0 and not cut[t]:
                gh_s[t - 1].addcmul_(gh_s[t], carry_s[t]).addmm_(e_s[t], weight_hh)
        if ctx.norm_out is not None:
            ctx.norm_out.copy_(step_norms(gh))

        need_u, need_h0, need_w, need_b = ctx.needs_input_grad[:4]
        grad_u = grad_h0 = grad_w = grad_b = None
        if need_u:
            grad_u = torch.cat([e[:, :, : 2 * hidden], gh * p_n], dim=2)
        if need_h0:
            grad_h0 = torch.addcmul(e_s[0].mm(weight_hh), gh_s[0], carry_s[0])
        if need_w:
            grad_w = weight_grad(e, h0, hs)
        if need_b and ctx.has_bias:
            grad_b = e.view(-1, three_h).sum(0)
        return grad_u, grad_h0, grad_w, grad_b, None, None, None, None, None


def _forward_loop(
    acts: Tensor, rec: Tensor, h0: Tensor, w_t: Tensor, b_hh: Tensor | None, mask: Tensor | None
) -> Tensor:
    """The forward recurrence, six small ops and one matmul a step, in place.

    acts: (T, B, 3H) ``u_t`` (n block doubled), becoming r, z, n; rec: (T, B, 3H), filled with
    ``w_t`` (n block doubled); w_t: (H, 3H) ``W_hh^T``, b_hh: (3H,) or None, both n-doubled.
    Returns hs (T, B, H), the state after every step.
    """
    steps, batch, three_h = acts.shape
    hidden = three_h // 3
    hs = torch.empty(steps, batch, hidden, dtype=acts.dtype, device=acts.device)
    rz_s, rec_rz_s = acts[:, :, : 2 * hidden].unbind(0), rec[:, :, : 2 * hidden].unbind(0)
    r_s, z_s, n_s = (acts[:, :, k * hidden : (k + 1) * hidden].unbind(0) for k in range(3))
    rec_s, rec_n_s, hs_s = rec.unbind(0), rec[:, :, 2 * hidden :].unbind(0), hs.unbind(0)
    m_s = mask[:, :, None].unbind(0) if mask is not None else None
    new, minus_one = torch.empty_like(h0), acts.new_full((), -1.0)
    h = h0
    for t in range(steps):
        if b_hh is None:
            torch.mm(h, w_t, out=rec_s[t])
        else:
            torch.addmm(b_hh, h, w_t, out=rec_s[t])
        rz_s[t].add_(rec_rz_s[t]).sigmoid_()
        n = n_s[t].addcmul_(r_s[t], rec_n_s[t]).sigmoid_()
        torch.add(minus_one, n, alpha=2.0, out=n)  # n = 2 sigma(2 a^n) - 1 = tanh(a^n), one op
        if m_s is None:
            h = torch.lerp(n, h, z_s[t], out=hs_s[t])
        else:
            torch.lerp(n, h, z_s[t], out=new)
            h = torch.where(m_s[t], new, h, out=hs_s[t])
    return hs


def _backward_factors(
    acts: Tensor, rec: Tensor, hs: Tensor, h0: Tensor, mask: Tensor | None
) -> tuple[Tensor, Tensor, Tensor]:
    """What multiplies ``gh_t`` in the backward pass (see the top), for all steps at once.

    acts: (T, B, 3H) r, z, n; rec: (T, B, 3H) ``w_t`` (n block doubled); hs: (T, B, H); h0: (B, H).
    Returns ``Q`` (T, B, 3, H), ``(1 - z)(1 - n^2)`` (T, B, H) (the factor of dL/du^n) and the carry
    factor (T, B, H), ``z_t`` (1 on padding). A dozen ops over all steps after the loop cost less
    than a dozen small ones a step in it (each small op pays the dispatcher's microsecond or two).
    """
    steps, batch, three_h = acts.shape
    hidden = three_h // 3
    r, z, n = (acts[:, :, k * hidden : (k + 1) * hidden] for k in range(3))
    q = torch.empty(steps, batch, 3, hidden, dtype=acts.dtype, device=acts.device)
    q_r, q_z, q_n = q.unbind(2)
    one_z = torch.sub(1.0, z)
    p_n = torch.addcmul(torch.ones_like(n), n, n, value=-1.0).mul_(one_z)  # (1 - n^2)(1 - z)
    torch.sub(h0, n[0], out=q_z[0])
    torch.sub(hs[:-1], n[1:], out=q_z[1:])
    q_z.mul_(z).mul_(one_z)  # (h_{t-1} - n) z (1 - z)
    carry = z
    if mask is not None:
        m = mask[:, :, None]
        p_n.mul_(m)
        q_z.mul_(m)
        carry = torch.where(m, z, acts.new_ones(()))
    torch.addcmul(r, r, r, value=-1.0, out=q_r)  # r (1 - r)
    q_r.mul_(rec[:, :, 2 * hidden :]).mul_(0.5).mul_(p_n)  # w^n r (1 - r) p_n; 0.5: w^n was doubled
    torch.mul(p_n, r, out=q_n)
    return q, p_n, carry


def _forward_compiled(
    step: Any, acts: Tensor, h0: Tensor, w_t: Tensor, b_hh: Tensor | None
) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """The forward loop with each step's elementwise part (and its factors) one compiled kernel:
    returns q, p_n, carry_h, hs (as ``_forward_loop`` and ``_backward_factors``)."""
    steps, batch, three_h = acts.shape
    hidden = three_h // 3
    new = partial(torch.empty, dtype=acts.dtype, device=acts.device)
    hs, p_n, carry_h, q = (
        new(steps, batch, hidden),
        new(steps, batch, hidden),
        new(steps, batch, hidden),
        new(steps, batch, 3, hidden),
    )
    a_s, hs_s, q_flat = acts.unbind(0), hs.unbind(0), q.view(steps, batch, three_h).unbind(0)
    pn_s, carry_s = p_n.unbind(0), carry_h.unbind(0)
    h = h0.contiguous()
    for t in range(steps):
        rec_t = torch.mm(h, w_t) if b_hh is None else torch.addmm(b_hh, h, w_t)
        step(a_s[t], rec_t, h, hs_s[t], q_flat[t], pn_s[t], carry_s[t])
        h = hs_s[t]
    return q, p_n, carry_h, hs


def gru_recurrence(
    u: Tensor,
    h0: Tensor,
    weight_hh: Tensor,
    bias_hh: Tensor | None = None,
    truncate: int | None = None,
    mask: Tensor | None = None,
    norm_out: Tensor | None = None,
    compile_steps: bool = False,
) -> Tensor:
    """The GRU recurrence with hand-derived BPTT. u: (T, B, 3H), h0: (B, H) -> hs: (T, B, H).

    ``truncate``: detach the state every ``truncate`` steps (None: full BPTT). ``mask``: (T, B)
    bool, False where a row's step is padding (its state is carried over). ``norm_out``: an optional
    (T,) tensor that backward fills with ``||dL/dh_t||`` for every step.
    """
    check_args(u, truncate, mask, (norm_out,))
    grad = torch.is_grad_enabled()  # off inside forward: say whether to write the backward's factors
    hs: Tensor = GRURecurrence.apply(u, h0, weight_hh, bias_hh, truncate, mask, norm_out, grad, compile_steps)
    return hs
