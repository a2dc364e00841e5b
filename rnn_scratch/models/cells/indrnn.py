"""The independently recurrent network (IndRNN) of Li, Li, Cook, Zhu & Gao (2018), with its BPTT by hand.

Each unit sees only its own past: the recurrent weight is a vector ``w`` (H,), applied elementwise::

    h_t = relu(W_ih x_t + b_ih + w * h_{t-1} + b_hh)            (B, H); w = weight_hh (H,)

So a step's Jacobian is diagonal, ``dh_t/dh_{t-1} = diag([a_t > 0] * w)``, and the gradient that reaches
step t from step T is, per unit, ``prod_{s=t+1..T} [a_s > 0] * w``: it neither vanishes nor explodes
over T active steps while ``|w| ~ 1``. Li et al. keep it so by bounding ``|w| <= 2^(1/T)`` (the gradient
may grow at most 2-fold over a whole sequence). Here, as the range they give: ``w ~ U(0, 2^(1/T))`` at
initialisation (``init=default``; ``identity``: ``w = gain``), and the bound is kept throughout by
using ``clamp(w, -2^(1/T), 2^(1/T))`` in the forward pass (``recurrent_max``; None: no bound), so an
update cannot carry the recurrence outside it. ``T`` is the run's ``seq_len``.

**As published** (``configs/cell/indrnn_li.yaml``): Li et al.'s code for the adding problem
(github.com/Sunnydreamrain/IndRNN_Theano_Lasagne, adding/adding.py) clips the *parameter* into
``[-2^(1/T), 2^(1/T)]`` before every batch, i.e. after every update (``model.project_recurrent``:
``project_``); the forward clamp alone leaves a weight pushed past the bound there with a zero gradient.
Its init (``init=li``): every layer but the top ``w ~ U(0, 2^(1/T))``, the top layer
``w ~ U(2^(-1/T), 2^(1/T))`` (every unit starts near a memory that keeps), input weights ``N(0, 0.001^2)``
and zero biases (Lasagne's default).

BPTT by hand (``IndRNNRecurrence``), with ``m_t`` the mask of a padded batch as 0/1 (B, 1)::

    g_t     = dL/dh_t (direct) + delta_{t+1} * w + (1 - m_{t+1}) * g_{t+1}   (total dL/dh_t)
    delta_t = g_t * [h_t > 0] * m_t                                           (dL/da_t = du_t)
    dw      = sum_t sum_b delta_t * h_{t-1},   db_hh = sum_t sum_b delta_t,   dh_0 = delta_1 * w + ...

truncation cuts the carry into step t where step t + 1 starts a chunk, as in ``rnn_scratch.models.bptt``.

Reference: Li et al. (2018), "Independently recurrent neural network (IndRNN): building a longer and
deeper RNN", CVPR.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import torch
from torch import Tensor
from torch.autograd.function import FunctionCtx, once_differentiable

from rnn_scratch.models.base import Norms, RecurrentCell, State
from rnn_scratch.models.bptt.common import check_args, is_chunk_start, mask_factors, previous, step_norms
from rnn_scratch.models.config import ModelConfig
from rnn_scratch.models.registry import register_cell


class IndRNNRecurrence(torch.autograd.Function):
    """``hs = IndRNNRecurrence.apply(u, h0, w, bias_hh, truncate, norm_out, mask)``.

    u: (T, B, H), h0: (B, H), w: (H,), bias_hh: (H,) or None, truncate: int >= 1 or None,
    norm_out: (T,) or None (filled with ``||dL/dh_t||`` by backward), mask: (T, B) bool or None.
    Returns hs: (T, B, H).
    """

    @staticmethod
    def forward(  # type: ignore[override]
        ctx: FunctionCtx,
        u: Tensor,
        h0: Tensor,
        w: Tensor,
        bias_hh: Tensor | None,
        truncate: int | None,
        norm_out: Tensor | None,
        mask: Tensor | None = None,
    ) -> Tensor:
        hs = u.clone() if bias_hh is None else u + bias_hh  # one buffer: step t fills hs[t] in place
        prev = h0
        if mask is None:
            for h in hs.unbind(0):
                prev = h.addcmul_(prev, w).relu_()
        else:
            new = torch.empty_like(h0)
            for h, m in zip(hs.unbind(0), mask[:, :, None].unbind(0), strict=True):
                torch.addcmul(h, prev, w, out=new).relu_()
                prev = torch.where(m, new, prev, out=h)  # padding carries the state over
        ctx.save_for_backward(hs, h0, w, mask)  # type: ignore[arg-type]  # None is allowed
        ctx.truncate, ctx.norm_out, ctx.has_bias = truncate, norm_out, bias_hh is not None  # type: ignore[attr-defined]
        return hs

    @staticmethod
    @once_differentiable
    def backward(ctx: Any, grad_hs: Tensor) -> tuple[Tensor | None, ...]:
        hs, h0, w, mask = ctx.saved_tensors
        g = grad_hs.clone()  # becomes the total dL/dh_t, step by step from the end
        delta = (hs > 0).to(hs.dtype)  # relu'(a_t) = [h_t > 0]; the loop multiplies g_t in
        keep: tuple[Tensor, ...] = ()
        if mask is not None:
            _, m, not_m = mask_factors(mask, hs)
            delta.mul_(m)
            keep = not_m.unbind(0)
        g_steps, d_steps = g.unbind(0), delta.unbind(0)
        for t in range(hs.shape[0] - 1, -1, -1):
            if t + 1 < hs.shape[0] and not is_chunk_start(t + 1, ctx.truncate):
                g_steps[t].addcmul_(d_steps[t + 1], w)
                if keep:
                    g_steps[t].addcmul_(g_steps[t + 1], keep[t + 1])
            d_steps[t].mul_(g_steps[t])
        if ctx.norm_out is not None:
            ctx.norm_out.copy_(step_norms(g))
        grad_w = (delta * previous(h0, hs)).sum((0, 1)) if ctx.needs_input_grad[2] else None
        grad_b = delta.sum((0, 1)) if ctx.needs_input_grad[3] and ctx.has_bias else None
        grad_h0 = None
        if ctx.needs_input_grad[1]:
            grad_h0 = d_steps[0] * w
            if keep:
                grad_h0.addcmul_(g_steps[0], keep[0])
        return delta, grad_h0, grad_w, grad_b, None, None, None


@register_cell
class IndRNNCell(RecurrentCell):
    """IndRNN cell: ``h' = relu(u + w * h + b_hh)``, ``u = W_ih x + b_ih``. Shapes: x (B, I), h (B, H)
    -> h' (B, H). Parameters: ``weight_ih (H, I)``, ``weight_hh (H,)`` (the vector w), ``bias_ih (H,)``,
    ``bias_hh (H,)``. ``recurrent_max``: the bound on ``|w|`` (None: unbounded)."""

    name, words = "indrnn", "IndRNN"
    order = 3
    nonlinearities = ("relu",)  # always ReLU: model.nonlinearity is left at its default or set to relu
    own_keys = ("nonlinearity", "project_recurrent")  # relu, its only one; tanh given is refused
    inits = ("default", "identity", "li")  # a diagonal has no orthogonal init but +-1; li: Li et al.'s
    LI_INPUT_STD = 1e-3  # init=li: W_ih ~ N(0, 0.001^2), as their adding code's W_in_to_hid

    def __init__(
        self, input_size: int, hidden_size: int, bias: bool = True, *, recurrent_max: float | None = None
    ) -> None:
        if recurrent_max is not None and not recurrent_max > 0:
            raise ValueError(f"recurrent_max must be > 0 or None, got {recurrent_max}")
        self.recurrent_max = recurrent_max  # read by reset_parameters, which the base constructor calls
        super().__init__(input_size, hidden_size, bias)

    def recurrent_shape(self, hidden_size: int) -> tuple[int, ...]:
        return (hidden_size,)

    def reset_parameters(self) -> None:
        """torch's uniform for the input weights and biases; ``w ~ U(0, recurrent_max or 1)``."""
        super().reset_parameters()
        with torch.no_grad():
            self.weight_hh.uniform_(0.0, self.recurrent_max or 1.0)

    def init_recurrent(self, scheme: str, gain: float = 1.0, top: bool = True) -> None:
        """``default``: keep ``U(0, recurrent_max)``; ``identity``: ``w = gain`` (each unit copies itself);
        ``li``: Li et al.'s (the module docstring): below the top ``U(0, m)``, the top layer
        ``U(1/m, m)`` with ``m = recurrent_max`` (2^(1/T)), ``W_ih ~ N(0, 0.001^2)``, zero biases."""
        if scheme not in self.inits:
            raise ValueError(f"unknown init {scheme!r} for the IndRNN; choose one of {', '.join(self.inits)}")
        with torch.no_grad():
            if scheme == "identity":
                self.weight_hh.fill_(gain)
            elif scheme == "li":
                high = self.recurrent_max or 1.0
                self.weight_hh.uniform_(1.0 / high if top else 0.0, high)
                self.weight_ih.normal_(0.0, self.LI_INPUT_STD)
                for bias in (self.bias_ih, self.bias_hh):
                    if bias is not None:
                        bias.zero_()

    def project_(self) -> None:
        """The parameter ``w`` clipped into ``[-recurrent_max, recurrent_max]`` in place (Li et al.'s
        constraint, applied after each optimiser step when ``model.project_recurrent``)."""
        if self.recurrent_max is not None:
            with torch.no_grad():
                self.weight_hh.clamp_(-self.recurrent_max, self.recurrent_max)

    def recurrent_weight(self, weight_hh: Tensor | None = None) -> Tensor:
        """w as the forward pass uses it: clamped to ``[-recurrent_max, recurrent_max]``. (H,)"""
        w = self.weight_hh if weight_hh is None else weight_hh
        return w if self.recurrent_max is None else w.clamp(-self.recurrent_max, self.recurrent_max)

    def recurrent_projection(self, h: Tensor) -> Tensor:
        """``w * h + b_hh``. h: (B, H) -> (B, H)."""
        w = h * self.recurrent_weight()
        return w if self.bias_hh is None else w + self.bias_hh

    def step(self, u: Tensor, state: State) -> Tensor:
        """u: (B, H) projected input, state: h (B, H) -> h' (B, H)."""
        assert isinstance(state, Tensor)
        return torch.relu(u + self.recurrent_projection(state))

    def recurrence(
        self,
        u: Tensor,
        state: State,
        weight_hh: Tensor,
        bias_hh: Tensor | None,
        truncate: int | None = None,
        mask: Tensor | None = None,
        norms: Norms | None = None,
    ) -> tuple[Tensor, State]:
        """``IndRNNRecurrence``: u (T, B, H), h0 (B, H) -> (hs (T, B, H), h_T)."""
        assert isinstance(state, Tensor)
        norm_h = None if norms is None else norms.get("h")
        check_args(u, truncate, mask, (norm_h,))
        w = self.recurrent_weight(weight_hh)  # autograd takes the clamp's gradient (0 beyond the bound)
        hs: Tensor = IndRNNRecurrence.apply(u, state, w, bias_hh, truncate, norm_h, mask)
        return hs, hs[-1]

    def jacobian_times(self, u: Tensor, s_prev: Tensor, q: Tensor) -> Tensor:
        """``dh' = [a > 0] * w * dh``: a diagonal Jacobian."""
        a = u + self.recurrent_projection(s_prev)
        return ((a > 0).to(a.dtype) * self.recurrent_weight())[:, :, None] * q.to(s_prev.dtype)

    def recurrent_block(self) -> Tensor:
        """``diag(w)``: the recurrence's matrix, whose spectral radius is ``max |w|``."""
        return torch.diag(self.recurrent_weight().detach())

    @classmethod
    def options(cls, cfg: ModelConfig, seq_len: int | None = None) -> dict[str, Any]:
        """``recurrent_max = 2^(1/T)`` with T the run's ``seq_len`` (Li et al.'s bound)."""
        return {"recurrent_max": None if seq_len is None else math.pow(2.0, 1.0 / seq_len)}

    @classmethod
    def suggest(cls, trial: Any, model: Mapping[str, Any]) -> None:
        """As the base, but ``li`` stays out of the search space (Li et al.'s init comes with the rest of
        their settings, ``cell=indrnn_li``), and a sweep at ``init=li`` keeps it."""
        if model.get("init") not in ("identity", "li"):
            trial.suggest_categorical("model.init", ["default"])

    @classmethod
    def ignores(cls, key: str, cfg: ModelConfig) -> str | None:
        """As the base, and ``init_gain`` with ``init=li`` (Li et al.'s ranges take no gain)."""
        if key == "init_gain" and cfg.init == "li":
            return "with model.init=li (Li et al.'s ranges take no gain)"
        return super().ignores(key, cfg)

    @classmethod
    def describe(cls, model: Mapping[str, Any]) -> tuple[str, list[str], bool]:
        inits = {"identity": "w = 1", "li": "Li et al.'s init"}
        init = inits.get(str(model.get("init")), "w ~ U(0, 2^(1/T))")
        layers = int(model.get("num_layers") or 1)
        stack = f"{layers} layers, " if layers > 1 else ""
        bound = "|w| <= 2^(1/T)" + (", projected after each step" if model.get("project_recurrent") else "")
        return f"IndRNN ({stack}ReLU, {init}, {bound})", [], True

    def extra_repr(self) -> str:
        return super().extra_repr() + f", recurrent_max={self.recurrent_max}"
