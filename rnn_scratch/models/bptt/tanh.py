"""Backpropagation through time by hand for the Elman recurrence (tanh or ReLU), over the whole sequence.

Forward, for t = 1..T, with the input projection ``u_t = W_ih x_t + b_ih`` computed for all steps
beforehand (rows are batch elements, so ``W h`` is written ``h W^T``)::

    h_t = phi(u_t + h_{t-1} W_hh^T + b_hh)          phi = tanh (default) | relu

Backward. Let ``dL/dh_t (direct)`` be the gradient reaching ``h_t`` from the layer's output (the
loss's use of ``h_t`` itself) and ``delta_t = dL/da_t`` the gradient of the pre-activation
``a_t = u_t + h_{t-1} W_hh^T + b_hh``. Then, from t = T down to 1 (``delta_{T+1} = 0``)::

    g_t     = dL/dh_t (direct) + delta_{t+1} W_hh    # total dL/dh_t: direct + through step t+1
    delta_t = g_t * phi'(a_t)                        # phi'(a_t), read off the output h_t:
              tanh: 1 - h_t^2                        #   tanh'(a) = 1 - tanh(a)^2
              relu: [h_t > 0]                        #   relu'(a) = [a > 0] = [h_t > 0] (0 at a = 0)
    du_t    = delta_t

and, once the loop is done, as single batched matmuls over all (t, batch) rows::

    dW_hh = sum_t delta_t^T h_{t-1}     (H, H)
    db_hh = sum_t delta_t               (H,)
    dh_0  = delta_1 W_hh                (B, H)

(``dW_ih`` and ``db_ih`` follow from ``du`` by autograd through the input projection.)

Truncated BPTT with ``truncate = k``: the sequence is cut into chunks of k steps starting at the
first step, and the state is detached at every chunk boundary, exactly what a plain loop computes
that calls ``h = h.detach()`` before (0-based) step t whenever ``t % k == 0 and t > 0``. A gradient
therefore flows back at most k steps, never across a boundary: the carry ``delta_{t+1} W_hh`` into
``g_t`` is dropped when step t+1 starts a chunk. The weight gradients keep every step's term (the
weights are still used at every step; only the path through the detached state is cut). ``h_0`` is
never detached, so ``dh_0`` is the carry out of the first chunk.

Masks (right-padded batches): with ``mask: (T, B)`` bool, a row whose step t is padding keeps its
state, ``h_t = h_{t-1}`` (as the layer's autograd loop does with ``torch.where``). With ``m_t`` the
mask as 0/1 of shape (B, 1), the backward becomes::

    delta_t = g_t * phi'(a_t) * m_t                 # padding steps send nothing into the weights
    g_{t-1} = dL/dh_{t-1} (direct) + delta_t W_hh + (1 - m_t) * g_t   # ... but pass g_t through

The total ``g_t`` is the quantity whose norm shows vanishing and exploding gradients; the backward
pass computes it anyway, so it also writes ``||g_t||`` (Frobenius norm over (B, H)) into an optional
``norm_out`` (T,) tensor, with no second backward pass. Every step gets a value: 0 where no gradient
arrives (before a truncation boundary, when the loss reads only the final state), where the autograd
loop's hooks, which never fire there, leave the layer's NaN.

References: Werner (1990), "Backpropagation through time: what it does and how to do it";
Williams & Peng (1990) for truncated BPTT; Karpathy's min-char-rnn for the same equations in numpy.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor
from torch.autograd.function import FunctionCtx, once_differentiable

from rnn_scratch.models.bptt.common import (
    check_args,
    is_chunk_start,
    mask_factors,
    step_norms,
    tanh_from_sigmoid_,
    weight_grad,
)


class TanhRecurrence(torch.autograd.Function):
    """``hs = TanhRecurrence.apply(u, h0, weight_hh, bias_hh, truncate, norm_out, mask, relu)``.

    u: (T, B, H), h0: (B, H), weight_hh: (H, H), bias_hh: (H,) or None, truncate: int >= 1 or
    None, norm_out: (T,) tensor or None, filled with ``||dL/dh_t||`` by backward, mask: (T, B)
    bool or None, relu: False for tanh, True for ReLU. Returns hs: (T, B, H), the state after every
    step (the final state is ``hs[-1]``).
    """

    @staticmethod
    def forward(  # type: ignore[override]
        ctx: FunctionCtx,
        u: Tensor,
        h0: Tensor,
        weight_hh: Tensor,
        bias_hh: Tensor | None,
        truncate: int | None,
        norm_out: Tensor | None,
        mask: Tensor | None = None,
        relu: bool = False,
    ) -> Tensor:
        if relu:
            hs = _relu_forward(u, h0, weight_hh, bias_hh, mask)
        else:
            hs = _tanh_forward(u, h0, weight_hh, bias_hh, mask)
        ctx.save_for_backward(hs, h0, weight_hh, mask)  # type: ignore[arg-type]  # None is allowed
        ctx.truncate = truncate  # type: ignore[attr-defined]
        ctx.norm_out = norm_out  # type: ignore[attr-defined]
        ctx.has_bias = bias_hh is not None  # type: ignore[attr-defined]
        ctx.relu = relu  # type: ignore[attr-defined]
        return hs

    @staticmethod
    @once_differentiable
    def backward(ctx: Any, grad_hs: Tensor) -> tuple[Tensor | None, ...]:
        hs, h0, weight_hh, mask = ctx.saved_tensors
        truncate: int | None = ctx.truncate
        steps, _, hidden = hs.shape
        # g holds the total dL/dh_t; it starts as the direct part for every step at once.
        g = torch.empty_like(hs)
        g.copy_(grad_hs)
        # delta starts as phi'(a_t) (times m_t) for every step at once; the loop multiplies g_t in.
        # For a padding step h_t is the carried state, but m_t = 0 zeroes its factor.
        if ctx.relu:
            delta = (hs > 0).to(hs.dtype)
        else:  # tanh' = 1 - h^2
            delta = torch.addcmul(hs.new_ones(()).expand_as(hs), hs, hs, value=-1.0)
        g_steps, d_steps = g.unbind(0), delta.unbind(0)
        keep: tuple[Tensor, ...] = ()
        if mask is not None:
            _, m, not_m = mask_factors(mask, hs)
            delta.mul_(m)
            keep = not_m.unbind(0)
        for t in range(steps - 1, -1, -1):
            if t + 1 < steps and not is_chunk_start(t + 1, truncate):
                g_steps[t].addmm_(d_steps[t + 1], weight_hh)
                if keep:
                    g_steps[t].addcmul_(g_steps[t + 1], keep[t + 1])
            d_steps[t].mul_(g_steps[t])
        if ctx.norm_out is not None:
            ctx.norm_out.copy_(step_norms(g))

        need_u, need_h0, need_w, need_b = ctx.needs_input_grad[:4]
        grad_w = grad_b = grad_h0 = None
        if need_w:
            grad_w = weight_grad(delta, h0, hs)
        if need_b and ctx.has_bias:
            grad_b = delta.view(-1, hidden).sum(0)
        if need_h0:
            grad_h0 = d_steps[0].mm(weight_hh)
            if keep:
                grad_h0.addcmul_(g_steps[0], keep[0])
        return (delta if need_u else None), grad_h0, grad_w, grad_b, None, None, None, None


def _tanh_forward(
    u: Tensor, h0: Tensor, weight_hh: Tensor, bias_hh: Tensor | None, mask: Tensor | None
) -> Tensor:
    """hs: (T, B, H) of the tanh recurrence, computed in place in one output buffer."""
    hs = torch.empty(u.shape, dtype=u.dtype, device=u.device)
    # One pass adds the recurrent bias to every step; each step is then one in-place addmm and
    # the tanh, in place, on its slice of the output buffer: no allocation inside the loop. The
    # tanh is 2 sigma(2a) - 1, its argument doubled once for all steps (tanh_from_sigmoid_).
    if bias_hh is None:
        torch.mul(u, 2.0, out=hs)
    else:
        torch.add(bias_hh * 2.0, u, alpha=2.0, out=hs)
    w_t = (weight_hh * 2.0).t()
    prev = h0
    if mask is None:
        for h in hs.unbind(0):
            tanh_from_sigmoid_(h.addmm_(prev, w_t).sigmoid_())
            prev = h
    else:
        new = torch.empty_like(h0)
        for h, m in zip(hs.unbind(0), mask[:, :, None].unbind(0), strict=True):
            tanh_from_sigmoid_(torch.addmm(h, prev, w_t, out=new).sigmoid_())
            prev = torch.where(m, new, prev, out=h)
    return hs


def _relu_forward(
    u: Tensor, h0: Tensor, weight_hh: Tensor, bias_hh: Tensor | None, mask: Tensor | None
) -> Tensor:
    """hs: (T, B, H) of the ReLU recurrence, computed in place in one output buffer."""
    hs = torch.empty(u.shape, dtype=u.dtype, device=u.device)
    if bias_hh is None:
        hs.copy_(u)
    else:
        torch.add(u, bias_hh, out=hs)
    w_t = weight_hh.t()
    prev = h0
    if mask is None:
        for h in hs.unbind(0):
            h.addmm_(prev, w_t).relu_()
            prev = h
    else:
        new = torch.empty_like(h0)
        for h, m in zip(hs.unbind(0), mask[:, :, None].unbind(0), strict=True):
            torch.addmm(h, prev, w_t, out=new).relu_()
            prev = torch.where(m, new, prev, out=h)
    return hs


def tanh_recurrence(
    u: Tensor,
    h0: Tensor,
    weight_hh: Tensor,
    bias_hh: Tensor | None = None,
    truncate: int | None = None,
    norm_out: Tensor | None = None,
    mask: Tensor | None = None,
    nonlinearity: str = "tanh",
) -> Tensor:
    """The Elman recurrence with hand-derived BPTT. u: (T, B, H), h0: (B, H) -> hs: (T, B, H).

    ``truncate``: detach the state every ``truncate`` steps (None: full BPTT). ``norm_out``: an
    optional (T,) tensor that backward fills with ``||dL/dh_t||`` for every step. ``mask``:
    (T, B) bool, False where a row's step is padding (its state is carried over unchanged).
    ``nonlinearity``: ``tanh`` or ``relu``.
    """
    check_args(u, truncate, mask, (norm_out,))
    if nonlinearity not in ("tanh", "relu"):
        raise ValueError(f"nonlinearity must be tanh or relu, got {nonlinearity!r}")
    relu = nonlinearity == "relu"
    hs: Tensor = TanhRecurrence.apply(u, h0, weight_hh, bias_hh, truncate, norm_out, mask, relu)
    return hs
