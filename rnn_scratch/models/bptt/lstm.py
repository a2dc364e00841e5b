"""Backpropagation through time by hand for the LSTM, over the whole sequence.

Forward, for t = 1..T (rows are batch elements; ``u_t = x_t W_ih^T + b_ih`` is computed for all
steps beforehand; ``sigma`` the logistic sigmoid, ``*`` elementwise; every block (B, H))::

    a_t = u_t + h_{t-1} W_hh^T + b_hh                      (B, 4H), blocks a^i, a^f, a^g, a^o
    i_t = sigma(a^i_t)  f_t = sigma(a^f_t)  g_t = tanh(a^g_t)  o_t = sigma(a^o_t)
    c_t = f_t * c_{t-1} + i_t * g_t
    h_t = o_t * tanh(c_t)

Backward. Let ``gh_t`` be the total dL/dh_t and ``gc_t`` the total dL/dc_t (direct, from the
loss's use of h_t, plus everything through later steps). With ``delta_t = dL/da_t`` (B, 4H), from
t = T down to 1 (``delta_{T+1} = 0``, ``gc_{T+1} f_{T+1} = dL/dc_T`` from the final state)::

    gh_t        = dL/dh_t (direct) + delta_{t+1} W_hh                     (B, H)
    gc_t        = gc_{t+1} * f_{t+1} + gh_t * o_t * (1 - tanh(c_t)^2)    (B, H)
    delta^o_t   = gh_t * tanh(c_t) * o_t (1 - o_t)
    delta^i_t   = gc_t * g_t * i_t (1 - i_t)
    delta^f_t   = gc_t * c_{t-1} * f_t (1 - f_t)
    delta^g_t   = gc_t * i_t * (1 - g_t^2)

Everything but ``gh_t`` and ``gc_t`` is known in the forward pass, so the factors multiplying
them (``tanh(c_t) o_t (1 - o_t)``, ``o_t (1 - tanh(c_t)^2)``, ...) are computed once the forward
loop is done, for all steps at once: a dozen ops over (T, B, 4H) cost less than a dozen small ones a
step, each paying the dispatcher's microsecond or two at the sizes the study trains at (profile in
docs/models.md). The forward loop is then seven small ops and one matmul a step, the backward loop
four small ops and one (B, 4H) x (4H, H) matmul; ``gc_t`` is accumulated in place in its own row.
After it, as single matmuls over all (t, batch) rows::

    dW_hh = sum_t delta_t^T h_{t-1}   (4H, H)     db_hh = sum_t delta_t   (4H,)
    du_t  = delta_t                               (dW_ih, db_ih: autograd through u)
    dh_0  = delta_1 W_hh              (B, H)      dc_0 = gc_1 * f_1       (B, H)

Speed: ``tanh(a) = 2 sigma(2a) - 1``, and the sigmoid is several times cheaper than the tanh on
the CPU. The g block of ``u + b_hh`` and of ``W_hh`` is doubled once per call, so one in-place
sigmoid over the whole (B, 4H) row of gates gives i, f, o and ``sigma(2 a^g)``, turned into g by
``2 s - 1`` (one ``add`` with ``alpha=2``); ``tanh(c_t)`` is computed the same way, from a cell state
kept doubled (``2 c_t = f_t 2 c_{t-1} + 2 i_t g_t``), so no step doubles it: scaling by 2 is exact in
floating point, so every value and gradient is the one of the undoubled state, bit for bit. (In float32
the tanh is exact to about 1e-7 absolute, where ``torch.tanh`` is exact to about 1e-7 relative.) The
backward pass uses the derivatives of the true pre-activations, so the gradients are those of the
equations above.

Masks (right-padded batches): where ``mask[t, b]`` is False the state is carried, ``(h_t, c_t) =
(h_{t-1}, c_{t-1})``. With ``m_t`` the mask as 0/1 (B, 1), every delta is multiplied by ``m_t``, the
gradients pass through padding unchanged, and only real steps read the h-path into ``gc_t``::

    gc_t     = (gc_{t+1} * f_{t+1} if step t+1 is real, else gc_{t+1})
               + m_t * gh_t * o_t * (1 - tanh(c_t)^2)
    gh_{t-1} += (1 - m_t) * gh_t

Truncation (``truncate = k``): no carry into step t-1 (neither ``delta_t W_hh`` nor ``gc_t f_t``)
when (0-based) step t starts a chunk, as in ``rnn_scratch.models.bptt.tanh``.

``||gh_t||`` and ``||gc_t||`` (Frobenius over (B, H), float64) go into optional (T,) buffers: the
gradient reaching ``h_t`` and ``c_t`` of every step, for the instruments, with no second backward.
With a mask, ``||gc_t||`` stays the gradient reaching the c_t of step t through h_t and later steps
(as without a mask); the layer's autograd loop hooks the carried ``where(m_t, c_t, c_{t-1})``, whose
gradient lacks the h_t path, so only there do the two modes' c-profiles differ.

References: Hochreiter & Schmidhuber (1997); Graves (2012), "Supervised sequence labelling with
recurrent neural networks", ch. 4.6 (the LSTM's BPTT equations).
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
    mask_factors,
    step_norms,
    weight_grad,
)


def gate_scale(hidden: int, like: Tensor) -> Tensor:
    """(4H,): 2 on the g block, 1 elsewhere: the pre-activations whose sigmoid gives tanh via 2s - 1."""
    scale = like.new_ones(4, hidden)
    scale[2] = 2.0
    return scale.view(-1)


class LSTMRecurrence(torch.autograd.Function):
    """``hs, c_T = LSTMRecurrence.apply(u, h0, c0, weight_hh, bias_hh, truncate, mask, norm_h, norm_c)``.

    u: (T, B, 4H) projected inputs (torch's gate order), h0, c0: (B, H), weight_hh: (4H, H),
    bias_hh: (4H,) or None, truncate: int >= 1 or None, mask: (T, B) bool or None, norm_h, norm_c:
    (T,) tensors or None, filled by backward. Returns hs: (T, B, H), h after every step, and c_T.
    """

    @staticmethod
    def forward(  # type: ignore[override]
        ctx: FunctionCtx,
        u: Tensor,
        h0: Tensor,
        c0: Tensor,
        weight_hh: Tensor,
        bias_hh: Tensor | None,
        truncate: int | None,
        mask: Tensor | None,
        norm_h: Tensor | None,
        norm_c: Tensor | None,
        grad_enabled: bool = True,
        compile_steps: bool = False,
    ) -> tuple[Tensor, Tensor]:
        hidden = u.shape[2] // 4
        scale = gate_scale(hidden, u)
        # acts: u_t + b_hh for all steps (g block doubled); the loop adds h_{t-1} W_hh^T and applies
        # the gate nonlinearities in place, so afterwards it holds i, f, g, o of every step.
        acts = u * scale if bias_hh is None else torch.addcmul(bias_hh * scale, u, scale)
        acts = acts.contiguous()  # a batch-first u gives strided acts; the steps want whole rows
        w_t = (weight_hh * scale[:, None]).t()
        grad = grad_enabled and any(ctx.needs_input_grad[:5])  # type: ignore[attr-defined]
        step = None  # the compiled step kernel, when asked for and available (no mask, for backward)
        if compile_steps and grad and mask is None:
            step = fused.compiled(fused.lstm_forward_step, *fused.examples(u, [4, 1, 1, 1, 4, 1, 1]))
        ctx.compiled = step is not None  # type: ignore[attr-defined]
        if step is not None:
            factors, h_path, carry_c, hs, cs = _forward_compiled(step, acts, h0, c0, w_t)
        else:
            hs, cs, tcs = _forward_loop(acts, h0, c0, w_t, mask, keep_tanh=grad)
            factors, h_path, carry_c = _backward_factors(acts, cs, tcs, hs, c0, mask) if grad else (acts,) * 3
        ctx.save_for_backward(factors, h_path, carry_c, hs, h0, weight_hh, mask)  # type: ignore[arg-type]
        ctx.truncate = truncate  # type: ignore[attr-defined]
        ctx.norms = (norm_h, norm_c)  # type: ignore[attr-defined]
        ctx.has_bias = bias_hh is not None  # type: ignore[attr-defined]
        return hs, cs[-1] * 0.5

    @staticmethod
    @once_differentiable
    def backward(ctx: Any, grad_hs: Tensor, grad_c_last: Tensor) -> tuple[Tensor | None, ...]:
        factors, h_path, carry_c, hs, h0, weight_hh, mask = ctx.saved_tensors
        steps, batch, four_h = factors.shape
        hidden = four_h // 4
        not_m: tuple[Tensor, ...] = ()
        if mask is not None:
            not_m = mask_factors(mask, factors)[2].unbind(0)
        if ctx.compiled:  # None if the backward kernel failed to compile: the eager loop below
            grads = _backward_compiled(ctx, factors, h_path, carry_c, hs, h0, weight_hh, grad_hs, grad_c_last)
            if grads is not None:
                return grads

        gh = torch.empty_like(hs)  # the direct dL/dh_t, becoming the total step by step
        gh.copy_(grad_hs)
        gc = torch.empty_like(gh)  # gc_{t+1} f_{t+1} (what reaches c_t from later steps), then dL/dc_t
        gc[-1].copy_(grad_c_last)
        delta = torch.empty_like(factors)
        gh_s, d_s = gh.unbind(0), delta.unbind(0)
        gc_s = gc.view(steps, batch, 1, hidden).unbind(0)  # (B, 1, H): broadcast over i, f, g
        gh_b, h_path_s, carry_s = (x.view(steps, batch, 1, hidden).unbind(0) for x in (gh, h_path, carry_c))
        d_ifg_s = delta[:, :, : 3 * hidden].view(steps, batch, 3, hidden).unbind(0)
        p_ifg_s = factors[:, :, : 3 * hidden].view(steps, batch, 3, hidden).unbind(0)
        d_o_s, p_o_s = delta[:, :, 3 * hidden :].unbind(0), factors[:, :, 3 * hidden :].unbind(0)
        cut = [is_chunk_start(t, ctx.truncate) for t in range(steps)]
        for t in range(steps - 1, 0, -1):
            gc_t = gc_s[t].addcmul_(gh_b[t], h_path_s[t])
            torch.mul(gc_t, p_ifg_s[t], out=d_ifg_s[t])
            torch.mul(gh_s[t], p_o_s[t], out=d_o_s[t])
            if cut[t]:
                gc_s[t - 1].zero_()
                continue
            torch.mul(gc_t, carry_s[t], out=gc_s[t - 1])
            gh_s[t - 1].addmm_(d_s[t], weight_hh)
            if not_m:
                gh_s[t - 1].addcmul_(gh_s[t], not_m[t])
        gc_0 = gc_s[0].addcmul_(gh_b[0], h_path_s[0])
        torch.mul(gc_0, p_ifg_s[0], out=d_ifg_s[0])
        torch.mul(gh_s[0], p_o_s[0], out=d_o_s[0])
        norm_h, norm_c = ctx.norms
        if norm_h is not None:
            norm_h.copy_(step_norms(gh))
        if norm_c is not None:
            norm_c.copy_(step_norms(gc))

        need_u, need_h0, need_c0, need_w, need_b = ctx.needs_input_grad[:5]
        grad_h0 = grad_w = grad_b = None
        if need_h0:
            grad_h0 = d_s[0].mm(weight_hh)
            if not_m:
                grad_h0.addcmul_(gh_s[0], not_m[0])
        if need_w:
            grad_w = weight_grad(delta, h0, hs)
        if need_b and ctx.has_bias:
            grad_b = delta.view(-1, four_h).sum(0)
        grad_c0 = (gc_0 * carry_s[0]).view(batch, hidden) if need_c0 else None
        return (delta if need_u else None), grad_h0, grad_c0, grad_w, grad_b, *(None,) * 6


def _forward_loop(
    acts: Tensor, h0: Tensor, c0: Tensor, w_t: Tensor, mask: Tensor | None, keep_tanh: bool
) -> tuple[Tensor, Tensor, Tensor]:
    """The forward recurrence, seven small ops and one matmul a step, in place in ``acts``.

    acts: (T, B, 4H) ``u_t + b_hh`` (g block doubled), w_t: (H, 4H) ``W_hh^T`` (g block doubled).
    Afterwards acts holds i, f, g, o of every step. Returns hs (T, B, H), the states after every
    step; cs (T, B, H), ``2 c_t`` after every step (the sigmoid's argument in
    ``tanh(c) = 2 sigma(2 c) - 1``, so no step doubles it; doubling and halving are exact); and tcs
    (T, B, H), ``tanh`` of each step's new cell state (before a mask carries the old one), kept
    for the backward's factors when ``keep_tanh`` (else one reused (B, H) row, returned as is).
    """
    steps, batch, four_h = acts.shape
    hidden = four_h // 4
    new = partial(torch.empty, dtype=acts.dtype, device=acts.device)
    hs, cs = new(steps, batch, hidden), new(steps, batch, hidden)
    tcs = new(steps if keep_tanh else 1, batch, hidden)
    a_s = acts.unbind(0)
    tc_s = tcs.unbind(0) if keep_tanh else tcs.unbind(0) * steps  # no grad: one row, reused
    i_s, f_s, g_s, o_s = (acts[:, :, k * hidden : (k + 1) * hidden].unbind(0) for k in range(4))
    m_s = mask[:, :, None].unbind(0) if mask is not None else None
    # With a mask each step's new state goes to scratch rows, and the carried one into hs, cs.
    c_out = cs.unbind(0) if m_s is None else (torch.empty_like(h0),) * steps
    h_out = hs.unbind(0) if m_s is None else (torch.empty_like(h0),) * steps
    minus_one = acts.new_full((), -1.0)
    h, c = h0, c0 * 2.0
    for t in range(steps):
        a_s[t].addmm_(h, w_t).sigmoid_()
        g = torch.add(minus_one, g_s[t], alpha=2.0, out=g_s[t])  # g = 2 sigma(2 a^g) - 1 = tanh(a^g)
        c_t = torch.mul(f_s[t], c, out=c_out[t]).addcmul_(i_s[t], g, value=2.0)  # 2 c_t
        tc = torch.add(minus_one, torch.sigmoid(c_t, out=tc_s[t]), alpha=2.0, out=tc_s[t])  # tanh(c_t)
        h_t = torch.mul(o_s[t], tc, out=h_out[t])
        if m_s is None:
            h, c = h_t, c_t
        else:
            c = torch.where(m_s[t], c_t, c, out=cs[t])
            h = torch.where(m_s[t], h_t, h, out=hs[t])
    return hs, cs, tcs


def _backward_factors(
    acts: Tensor, cs: Tensor, tcs: Tensor, hs: Tensor, c0: Tensor, mask: Tensor | None
) -> tuple[Tensor, Tensor, Tensor]:
    """What multiplies ``gh_t`` and ``gc_t`` in the backward pass (see the top), for all steps at once.

    acts: (T, B, 4H) i, f, g, o; cs: (T, B, H) ``2 c_t``; tcs: (T, B, H) tanh of each step's new cell;
    hs: (T, B, H); c0: (B, H). Returns the gate factors (T, B, 4H)
    ``[g i (1 - i), c_{t-1} f (1 - f), i (1 - g^2), tanh(c_t) o (1 - o)]``, the h-path
    ``o_t (1 - tanh(c_t)^2)`` (T, B, H) and the carry factor (T, B, H), ``f_t`` (1 on padding).
    A handful of ops over (T, B, 4H) after the loop cost less than a dozen small ones per step in it.
    """
    hidden = acts.shape[2] // 4
    shift = torch.zeros(4, hidden, dtype=acts.dtype, device=acts.device)
    shift[2] = 1.0  # (a + shift)(1 - a): s (1 - s) on the sigmoid blocks, (1 + g)(1 - g) on g
    factors = torch.add(acts, shift.view(-1))
    factors.addcmul_(factors, acts, value=-1.0)
    block = [slice(k * hidden, (k + 1) * hidden) for k in range(4)]
    (p_i, p_f, p_g, p_o), (i, f, g, o) = ([x[:, :, b] for b in block] for x in (factors, acts))
    p_i.mul_(g)
    p_g.mul_(i)
    p_o.mul_(tcs)
    p_f[0].mul_(c0)  # c_{t-1}, from cs = 2 c: halving is exact
    p_f[1:].mul_(cs[:-1]).mul_(0.5)
    h_path = torch.mul(hs if mask is None else o * tcs, tcs)  # o tanh(c)^2
    torch.sub(o, h_path, out=h_path)
    if mask is None:
        return factors, h_path, f
    mb, mf, _ = mask_factors(mask, acts)
    factors.mul_(mf)
    h_path.mul_(mf)
    return factors, h_path, torch.where(mb, f, acts.new_ones(()))


def _forward_compiled(
    step: Any, acts: Tensor, h0: Tensor, c0: Tensor, w_t: Tensor
) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor]:
    """The forward loop with each step's elementwise part (and its factors) one compiled kernel:
    returns factors, h_path, carry_c, hs, cs (as ``_forward_loop`` and ``_backward_factors``)."""
    steps, batch, four_h = acts.shape
    hidden = four_h // 4
    new = partial(torch.empty, dtype=acts.dtype, device=acts.device)
    hs, cs = new(steps, batch, hidden), new(steps, batch, hidden)
    factors, h_path, carry_c = new(steps, batch, four_h), new(steps, batch, hidden), new(steps, batch, hidden)
    a_s, hs_s, cs_s = acts.unbind(0), hs.unbind(0), cs.unbind(0)
    p_s, hp_s, carry_s = factors.unbind(0), h_path.unbind(0), carry_c.unbind(0)
    h, c = h0.contiguous(), (c0 * 2.0).contiguous()
    for t in range(steps):  # one matmul and one fused kernel a step, into the same buffers
        step(a_s[t].addmm_(h, w_t), c, hs_s[t], cs_s[t], p_s[t], hp_s[t], carry_s[t])
        h, c = hs_s[t], cs_s[t]
    return factors, h_path, carry_c, hs, cs


def _backward_compiled(
    ctx: Any,
    factors: Tensor,
    h_path: Tensor,
    carry_c: Tensor,
    hs: Tensor,
    h0: Tensor,
    weight_hh: Tensor,
    grad_hs: Tensor,
    grad_c_last: Tensor,
) -> tuple[Tensor | None, ...] | None:
    """``LSTMRecurrence.backward`` with each step's elementwise part one compiled kernel (no mask);
    None if that kernel does not compile."""
    steps, four_h = factors.shape[0], factors.shape[2]
    gh = grad_hs.contiguous().clone()  # the direct dL/dh_t, becoming the total step by step
    gc, delta = torch.empty_like(gh), torch.empty_like(factors)
    gh_s, gc_s, d_s = gh.unbind(0), gc.unbind(0), delta.unbind(0)
    p_s, hp_s, f_s = factors.unbind(0), h_path.unbind(0), carry_c.unbind(0)
    carry = grad_c_last.contiguous().clone()  # gc_{t+1} f_{t+1}, updated in place by the kernel
    step = fused.compiled(fused.lstm_backward_step, gh_s[0], carry, hp_s[0], p_s[0], f_s[0], gc_s[0], d_s[0])
    if step is None:
        return None
    truncate: int | None = ctx.truncate
    for t in range(steps - 1, -1, -1):
        step(gh_s[t], carry, hp_s[t], p_s[t], f_s[t], gc_s[t], d_s[t])
        if is_chunk_start(t, truncate):
            carry.zero_()
        elif t > 0:
            gh_s[t - 1].addmm_(d_s[t], weight_hh)
    norm_h, norm_c = ctx.norms
    if norm_h is not None:
        norm_h.copy_(step_norms(gh))
    if norm_c is not None:
        norm_c.copy_(step_norms(gc))
    need_u, need_h0, need_c0, need_w, need_b = ctx.needs_input_grad[:5]
    grad_h0 = d_s[0].mm(weight_hh) if need_h0 else None
    grad_w = weight_grad(delta, h0, hs) if need_w else None
    grad_b = delta.view(-1, four_h).sum(0) if need_b and ctx.has_bias else None
    grad_c0 = carry if need_c0 else None
    return (delta if need_u else None), grad_h0, grad_c0, grad_w, grad_b, *(None,) * 6


def lstm_recurrence(
    u: Tensor,
    h0: Tensor,
    c0: Tensor,
    weight_hh: Tensor,
    bias_hh: Tensor | None = None,
    truncate: int | None = None,
    mask: Tensor | None = None,
    norm_h: Tensor | None = None,
    norm_c: Tensor | None = None,
    compile_steps: bool = False,
) -> tuple[Tensor, Tensor]:
    """The LSTM recurrence with hand-derived BPTT. u: (T, B, 4H), h0, c0: (B, H) -> (hs (T, B, H), c_T).

    ``truncate``: detach the state every ``truncate`` steps (None: full BPTT). ``mask``: (T, B)
    bool, False where a row's step is padding (its state is carried over). ``norm_h``/``norm_c``:
    optional (T,) tensors that backward fills with ``||dL/dh_t||`` and ``||dL/dc_t||``.
    """
    check_args(u, truncate, mask, (norm_h, norm_c))
    grad = torch.is_grad_enabled()  # off inside forward: say whether to write the backward's factors
    hs, c_last = LSTMRecurrence.apply(
        u, h0, c0, weight_hh, bias_hh, truncate, mask, norm_h, norm_c, grad, compile_steps
    )
    return hs, c_last
