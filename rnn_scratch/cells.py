"""Recurrent cells written by hand: one time step, built from ``nn.Parameter`` and tensor ops only.

Each cell mirrors its ``torch.nn`` counterpart exactly (constructor, parameter names and shapes, gate
order, forward semantics), so weights copy across and parity tests are one line. A cell separates the
two halves of a step, because only the second half is truly recurrent:

* ``input_projection(x)``: ``u = x W_ih^T + b_ih``. It does not depend on the state, so a layer
  computes it for all time steps at once, in one matmul, before the loop over time.
* ``step(u_t, state)``: the recurrent update from the projected input ``u_t`` and the previous state.

``cell(x, state) == cell.step(cell.input_projection(x), state)``.

Vanilla (Elman) RNN, as ``torch.nn.RNNCell(nonlinearity="tanh")``::

    h_t = tanh(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh)

References: Elman (1990), "Finding structure in time"; Karpathy's min-char-rnn.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

INITS = ("default", "orthogonal", "identity")

State = Tensor | tuple[Tensor, Tensor]
"""A cell's state: ``h`` (B, H), or ``(h, c)`` for the LSTM."""


class RecurrentCell(nn.Module):
    """Base class: parameters ``weight_ih (G*H, I)``, ``weight_hh (G*H, H)``, ``bias_ih``, ``bias_hh (G*H,)``.

    ``G`` is the number of gate blocks (1 for the vanilla RNN, 4 for LSTM, 3 for GRU), stacked in
    torch's order. Default initialisation is torch's: every entry from U(-1/sqrt(H), 1/sqrt(H)).
    """

    n_gates: int = 1

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True) -> None:
        super().__init__()
        if input_size <= 0 or hidden_size <= 0:
            raise ValueError(f"input_size and hidden_size must be > 0, got {input_size}, {hidden_size}")
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.bias = bias
        gh = self.n_gates * hidden_size
        self.weight_ih = nn.Parameter(torch.empty(gh, input_size))
        self.weight_hh = nn.Parameter(torch.empty(gh, hidden_size))
        if bias:
            self.bias_ih: nn.Parameter | None = nn.Parameter(torch.empty(gh))
            self.bias_hh: nn.Parameter | None = nn.Parameter(torch.empty(gh))
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """torch's default: U(-1/sqrt(H), 1/sqrt(H)) for every weight and bias."""
        bound = 1.0 / math.sqrt(self.hidden_size)
        for p in self.parameters():
            nn.init.uniform_(p, -bound, bound)

    def init_recurrent(self, scheme: str, gain: float = 1.0) -> None:
        """Re-initialise each (H, H) block of ``weight_hh``.

        * ``default``: leave torch's uniform initialisation.
        * ``orthogonal``: a random orthogonal matrix times ``gain`` (Saxe et al. 2014): every singular
          value is ``gain``, so a linearised recurrence neither shrinks nor grows the gradient.
        * ``identity``: ``gain * I`` with zero recurrent bias, the IRNN of Le et al. (2015): the state
          is copied forward until learning says otherwise.
        """
        if scheme not in INITS:
            raise ValueError(f"unknown init {scheme!r}; choose one of {', '.join(INITS)}")
        if scheme == "default":
            return
        with torch.no_grad():
            for block in self.weight_hh.split(self.hidden_size):
                if scheme == "orthogonal":
                    nn.init.orthogonal_(block, gain=gain)
                else:
                    block.copy_(gain * torch.eye(self.hidden_size, dtype=block.dtype))
            if scheme == "identity" and self.bias_hh is not None:
                self.bias_hh.zero_()

    def input_projection(self, x: Tensor) -> Tensor:
        """``u = x W_ih^T + b_ih``. x: (..., I) -> (..., G*H)."""
        u = x @ self.weight_ih.t()
        return u if self.bias_ih is None else u + self.bias_ih

    def recurrent_projection(self, h: Tensor) -> Tensor:
        """``W_hh h + b_hh``. h: (B, H) -> (B, G*H)."""
        w = h @ self.weight_hh.t()
        return w if self.bias_hh is None else w + self.bias_hh

    def initial_state(self, batch_size: int, like: Tensor) -> State:
        """The zero state, as torch uses when none is given."""
        return torch.zeros(batch_size, self.hidden_size, dtype=like.dtype, device=like.device)

    @staticmethod
    def state_parts(state: State) -> dict[str, Tensor]:
        """The state's tensors by name (``h``; the LSTM adds ``c``), for instruments."""
        assert isinstance(state, Tensor)
        return {"h": state}

    @staticmethod
    def hidden(state: State) -> Tensor:
        """The part of the state the layer outputs: ``h`` (B, H)."""
        assert isinstance(state, Tensor)
        return state

    def step(self, u: Tensor, state: State) -> State:
        """The recurrent update. u: (B, G*H) projected input; state as ``initial_state``."""
        raise NotImplementedError

    def forward(self, x: Tensor, state: State | None = None) -> State:
        """One time step. x: (B, I); state: (B, H) (or a tuple for LSTM); None means zeros."""
        if state is None:
            state = self.initial_state(x.shape[0], x)
        return self.step(self.input_projection(x), state)

    def extra_repr(self) -> str:
        return f"{self.input_size}, {self.hidden_size}, bias={self.bias}"


class RNNCell(RecurrentCell):
    """Elman tanh cell: ``h_t = tanh(u_t + W_hh h_{t-1} + b_hh)`` with ``u_t = W_ih x_t + b_ih``.

    Shapes: x (B, I), h (B, H) -> h' (B, H).
    """

    n_gates = 1

    def step(self, u: Tensor, state: State) -> Tensor:
        """u: (B, H) projected input, state: h (B, H) -> h' (B, H)."""
        assert isinstance(state, Tensor)
        return torch.tanh(u + self.recurrent_projection(state))
