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

Everything but ``gh_t`` and ``gc_t`` is known after the forward pass, so the factors multiplying
them (``tanh(c_t) o_t (1 - o_t)``, ``o_t (1 - tanh(c_t)^2)``, ...) are computed for all steps at
once before the loop; the loop itself is five small ops and one (B, 4H) x (4H, H) matmul per step.
After it, as single matmuls over all (t, batch) rows::

    dW_hh = sum_t delta_t^T h_{t-1}   (4H, H)     db_hh = sum_t delta_t   (4H,)
    du_t  = delta_t                               (dW_ih, db_ih: autograd through u)
    dh_0  = delta_1 W_hh              (B, H)      dc_0 = gc_1 * f_1       (B, H)

Internally the gate blocks are stored in the order o, i, f, g: the three sigmoids are then one
contiguous (B, 3H) slice in the forward pass, and the three blocks multiplied by ``gc_t`` one
(B, 3H) slice in the backward pass. ``W_hh``, ``b_hh`` and ``u`` are permuted once per call and the
gradients permuted back, so callers see torch's order i, f, g, o.

Masks (right-padded batches): where ``mask[t, b]`` is False the state is carried, ``(h_t, c_t) =
(h_{t-1}, c_{t-1})``. With ``m_t`` the mask as 0/1 (B, 1), every delta is multiplied by ``m_t``, the
gradients pass through padding unchanged, and only real steps read the h-path into ``gc_t``::

    gc_t     = (gc_{t+1} * f_{t+1} if step t+1 is real, else gc_{t+1})
               + m_t * gh_t * o_t * (1 - tanh(c_t)^2)
    gh_{t-1} += (1 - m_t) * gh_t

Truncation (``truncate = k``): no carry into step t-1 (neither ``delta_t W_hh`` nor ``gc_t f_t``)
when (0-based) step t starts a chunk, as in ``rnn_scratch.bptt.tanh``.

``||gh_t||`` and ``||gc_t||`` (Frobenius over (B, H), float64) go into optional (T,) buffers: the
gradient reaching ``h_t`` and ``c_t`` of every step, for the instruments, with no second backward.
With a mask, ``||gc_t||`` stays the gradient reaching the c_t of step t through h_t and later steps
(as without a mask); the layer's autograd loop hooks the carried ``where(m_t, c_t, c_{t-1})``, whose
gradient lacks the h_t path, so only there do the two modes' c-profiles differ.

References: Hochreiter & Schmidhuber (1997); Graves (2012), "Supervised sequence labelling with
recurrent neural networks", ch. 4.6 (the LSTM's BPTT equations).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor
from torch.autograd.function import FunctionCtx, once_differentiable

from rnn_scratch.bptt.common import check_args, is_chunk_start, mask_factors, previous, step_norms

TO_INTERNAL = [3, 0, 1, 2]
"""Internal block k is torch's block ``TO_INTERNAL[k]``: o, i, f, g from i, f, g, o."""
TO_TORCH = [1, 2, 3, 0]
"""Torch's block j is internal block ``TO_TORCH[j]``."""


def _weight_internal(weight_hh: Tensor) -> Tensor:
    """``weight_hh`` (4H, H) with its row blocks in the internal order o, i, f, g."""
    hidden = weight_hh.shape[1]
    return weight_hh.view(4, hidden, hidden)[TO_INTERNAL].reshape(4 * hidden, hidden)


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
    ) -> tuple[Tensor, Tensor]:
        steps, batch, four_h = u.shape
        hidden = four_h // 4
        # acts: the pre-activations u_t + b_hh for all steps (internal order), then in place, step
        # by step, + h_{t-1} W_hh^T and the gate nonlinearities: the saved o, i, f, g.
        acts = torch.empty(steps, batch, 4, hidden, dtype=u.dtype, device=u.device)
        u4 = u.reshape(steps, batch, 4, hidden)
        for k, j in enumerate(TO_INTERNAL):
            if bias_hh is None:
                acts[:, :, k].copy_(u4[:, :, j])
            else:
                torch.add(u4[:, :, j], bias_hh[j * hidden : (j + 1) * hidden], out=acts[:, :, k])
        acts = acts.view(steps, batch, four_h)
        w_t = _weight_internal(weight_hh).t()
        cs, tcs, hs = (torch.empty(steps, batch, hidden, dtype=u.dtype, device=u.device) for _ in range(3))
        a_s, sig_s, tanh_s = (
            acts.unbind(0),
            acts[:, :, : 3 * hidden].unbind(0),
            acts[:, :, 3 * hidden :].unbind(0),
        )
        o_s, i_s, f_s = (acts[:, :, k * hidden : (k + 1) * hidden].unbind(0) for k in range(3))
        m_s = mask[:, :, None].unbind(0) if mask is not None else None
        new_c, new_h = (torch.empty_like(h0) for _ in range(2)) if mask is not None else (None, None)
        h, c = h0, c0
        for t in range(steps):
            a_s[t].addmm_(h, w_t)
            sig_s[t].sigmoid_()
            tanh_s[t].tanh_()
            if m_s is None:
                c = torch.mul(f_s[t], c, out=cs[t]).addcmul_(i_s[t], tanh_s[t])
                h = torch.mul(o_s[t], torch.tanh(c, out=tcs[t]), out=hs[t])
            else:
                assert new_c is not None and new_h is not None
                torch.mul(f_s[t], c, out=new_c).addcmul_(i_s[t], tanh_s[t])
                torch.mul(o_s[t], torch.tanh(new_c, out=tcs[t]), out=new_h)
                c = torch.where(m_s[t], new_c, c, out=cs[t])
                h = torch.where(m_s[t], new_h, h, out=hs[t])
        ctx.save_for_backward(acts, cs, tcs, hs, h0, c0, weight_hh, mask)  # type: ignore[arg-type]
        ctx.truncate = truncate  # type: ignore[attr-defined]
        ctx.norms = (norm_h, norm_c)  # type: ignore[attr-defined]
        ctx.has_bias = bias_hh is not None  # type: ignore[attr-defined]
        return hs, cs[-1].clone()

    @staticmethod
    @once_differentiable
    def backward(ctx: Any, grad_hs: Tensor, grad_c_last: Tensor) -> tuple[Tensor | None, ...]:
        acts, cs, tcs, hs, h0, c0, weight_hh, mask = ctx.saved_tensors
        steps, batch, four_h = acts.shape
        hidden = four_h // 4
        w = _weight_internal(weight_hh)
        o, i, f, g = (acts[:, :, k * hidden : (k + 1) * hidden] for k in range(4))
        # The factors of gh_t (block o, and the h-path into gc_t) and of gc_t (blocks i, f, g).
        factors = torch.empty_like(acts)
        p_o, p_i, p_f, p_g = (factors[:, :, k * hidden : (k + 1) * hidden] for k in range(4))
        torch.mul(o, 1.0 - o, out=p_o).mul_(tcs)
        torch.mul(i, 1.0 - i, out=p_i).mul_(g)
        torch.mul(f, 1.0 - f, out=p_f).mul_(previous(c0, cs))
        torch.addcmul(i, i, g * g, value=-1.0, out=p_g)
        h_path = torch.addcmul(o, o, tcs * tcs, value=-1.0)  # o_t (1 - tanh(c_t)^2)
        carry_c: Tensor = f
        not_m: tuple[Tensor, ...] = ()
        if mask is not None:
            mb, m, keep = mask_factors(mask, acts)
            factors.mul_(m)
            h_path.mul_(m)
            carry_c = torch.where(mb, f, 1.0)
            not_m = keep.unbind(0)

        gh = torch.empty_like(hs)  # the direct dL/dh_t, becoming the total step by step
        gh.copy_(grad_hs)
        gc = torch.empty_like(gh)  # the total dL/dc_t
        delta = torch.empty_like(acts)
        gh_s, gc_s, d_s = gh.unbind(0), gc.unbind(0), delta.unbind(0)
        d_o_s, d_ifg_s = (
            delta[:, :, :hidden].unbind(0),
            delta[:, :, hidden:].view(steps, batch, 3, hidden).unbind(0),
        )
        p_o_s, p_ifg_s = p_o.unbind(0), factors[:, :, hidden:].view(steps, batch, 3, hidden).unbind(0)
        h_path_s, carry_s = h_path.unbind(0), carry_c.unbind(0)
        carry = grad_c_last.clone()  # gc_{t+1} f_{t+1}: what reaches c_t from later steps
        truncate: int | None = ctx.truncate
        for t in range(steps - 1, -1, -1):
            gc_t = torch.addcmul(carry, gh_s[t], h_path_s[t], out=gc_s[t])
            torch.mul(gh_s[t], p_o_s[t], out=d_o_s[t])
            torch.mul(gc_t[:, None], p_ifg_s[t], out=d_ifg_s[t])
            if is_chunk_start(t, truncate):
                carry.zero_()
                continue
            torch.mul(gc_t, carry_s[t], out=carry)
            if t > 0:
                gh_s[t - 1].addmm_(d_s[t], w)
                if not_m:
                    gh_s[t - 1].addcmul_(gh_s[t], not_m[t])
        norm_h, norm_c = ctx.norms
        if norm_h is not None:
            norm_h.copy_(step_norms(gh))
        if norm_c is not None:
            norm_c.copy_(step_norms(gc))

        need_u, need_h0, need_c0, need_w, need_b = ctx.needs_input_grad[:5]
        grad_u = grad_h0 = grad_w = grad_b = None
        if need_u:
            grad_u = delta.view(steps, batch, 4, hidden)[:, :, TO_TORCH].reshape(steps, batch, four_h)
        if need_h0:
            grad_h0 = d_s[0].mm(w)
            if not_m:
                grad_h0.addcmul_(gh_s[0], not_m[0])
        if need_w:
            flat = delta.view(-1, four_h).t().mm(previous(h0, hs).view(-1, hidden))
            grad_w = flat.view(4, hidden, hidden)[TO_TORCH].reshape(four_h, hidden)
        if need_b and ctx.has_bias:
            grad_b = delta.view(-1, 4, hidden).sum(0)[TO_TORCH].reshape(four_h)
        grad_c0 = carry if need_c0 else None
        return grad_u, grad_h0, grad_c0, grad_w, grad_b, None, None, None, None


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
) -> tuple[Tensor, Tensor]:
    """The LSTM recurrence with hand-derived BPTT. u: (T, B, 4H), h0, c0: (B, H) -> (hs (T, B, H), c_T).

    ``truncate``: detach the state every ``truncate`` steps (None: full BPTT). ``mask``: (T, B)
    bool, False where a row's step is padding (its state is carried over). ``norm_h``/``norm_c``:
    optional (T,) tensors that backward fills with ``||dL/dh_t||`` and ``||dL/dc_t||``.
    """
    check_args(u, truncate, mask, (norm_h, norm_c))
    hs, c_last = LSTMRecurrence.apply(u, h0, c0, weight_hh, bias_hh, truncate, mask, norm_h, norm_c)
    return hs, c_last
