"""The vanilla (Elman) cell, as ``torch.nn.RNNCell``: tanh (default) or ReLU.

    h_t = phi(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh)          phi = tanh (default) | relu

One step's Jacobian on the state (Pascanu et al. 2013), with ``a`` the pre-activation::

    dh_t/dh_{t-1} = diag(phi'(a_t)) W_hh       tanh: phi'(a) = 1 - tanh(a)^2     relu: phi'(a) = [a > 0]

With ``nonlinearity="relu"`` and the ``identity`` initialisation (W_hh = I, both biases 0) the cell is
the IRNN of Le, Jaitly & Hinton (2015). A tanh cell with W_hh = I is an identity-initialised tanh RNN,
not the IRNN. Its hand-derived BPTT is ``rnn_scratch.models.bptt.tanh``.

References: Elman (1990), "Finding structure in time"; Karpathy's min-char-rnn; Le, Jaitly & Hinton
(2015), "A simple way to initialize recurrent networks of rectified linear units".
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import Tensor

from rnn_scratch.models.base import NONLINEARITIES, Norms, RecurrentCell, State
from rnn_scratch.models.bptt.tanh import tanh_recurrence
from rnn_scratch.models.registry import register_cell


@register_cell
class RNNCell(RecurrentCell):
    """Elman cell: ``h_t = phi(u_t + W_hh h_{t-1} + b_hh)`` with ``u_t = W_ih x_t + b_ih``.

    ``nonlinearity``: ``tanh`` (default) or ``relu``, as ``torch.nn.RNNCell``. Shapes: x (B, I),
    h (B, H) -> h' (B, H).
    """

    name, words = "rnn", "tanh RNN"
    order = 0
    n_gates = 1
    nonlinearities = NONLINEARITIES
    own_keys = ("nonlinearity",)
    torch_reference = "RNN"  # torch.nn.RNN

    def __init__(
        self, input_size: int, hidden_size: int, bias: bool = True, *, nonlinearity: str = "tanh"
    ) -> None:
        if nonlinearity not in NONLINEARITIES:
            raise ValueError(f"nonlinearity must be one of {', '.join(NONLINEARITIES)}, got {nonlinearity!r}")
        super().__init__(input_size, hidden_size, bias)
        self.nonlinearity = nonlinearity

    def init_recurrent(self, scheme: str, gain: float = 1.0, top: bool = True) -> None:
        """As the base; ``identity`` with ReLU is Le et al.'s IRNN, so the input bias is zeroed too."""
        super().init_recurrent(scheme, gain, top)
        if scheme == "identity" and self.nonlinearity == "relu" and self.bias_ih is not None:
            with torch.no_grad():
                self.bias_ih.zero_()

    def step(self, u: Tensor, state: State) -> Tensor:
        """u: (B, H) projected input, state: h (B, H) -> h' (B, H)."""
        assert isinstance(state, Tensor)
        a = u + self.recurrent_projection(state)
        return torch.relu(a) if self.nonlinearity == "relu" else torch.tanh(a)

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
        """``rnn_scratch.models.bptt.tanh``: u (T, B, H), h0 (B, H) -> (hs (T, B, H), h_T)."""
        assert isinstance(state, Tensor)
        norm_h = None if norms is None else norms.get("h")
        hs = tanh_recurrence(u, state, weight_hh, bias_hh, truncate, norm_h, mask, self.nonlinearity)
        return hs, hs[-1]

    def jacobian_times(self, u: Tensor, s_prev: Tensor, q: Tensor) -> Tensor:
        """``dh' = phi'(a) * (W_hh dh)``: tanh ``1 - tanh(a)^2``, relu ``[a > 0]``."""
        a = u + self.recurrent_projection(s_prev)
        slope = (a > 0).to(a.dtype) if self.nonlinearity == "relu" else 1 - torch.tanh(a) ** 2
        return slope[:, :, None] * (self.weight_hh @ q.to(s_prev.dtype))

    @classmethod
    def settings(cls, params: Mapping[str, Any], model: Mapping[str, Any]) -> dict[str, Any]:
        """The init and the nonlinearity, which the sweep's model fixes (tanh, or the IRNN's ReLU)."""
        return {**super().settings(params, model), "nonlinearity": model.get("nonlinearity", "tanh")}

    @classmethod
    def describe(cls, model: Mapping[str, Any]) -> tuple[str, list[str], bool]:
        """ "tanh RNN", "ReLU RNN", or "IRNN (ReLU, W_hh = I)", which names its init."""
        if model.get("nonlinearity") != "relu":
            return cls.words, [], False
        if model.get("init") == "identity":
            return "IRNN (ReLU, W_hh = I)", [], True
        return "ReLU RNN", [], False

    def extra_repr(self) -> str:
        extra = "" if self.nonlinearity == "tanh" else f", nonlinearity={self.nonlinearity!r}"
        return super().extra_repr() + extra
