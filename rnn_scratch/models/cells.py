"""Recurrent cells written by hand: one time step, built from ``nn.Parameter`` and tensor ops only.

Each cell mirrors its ``torch.nn`` counterpart exactly (constructor, parameter names and shapes,
gate order, forward semantics), so weights copy across and parity tests are one line. A cell
separates the two halves of a step, because only the second half is truly recurrent:

* ``input_projection(x)``: ``u = x W_ih^T + b_ih``. It does not depend on the state, so a layer
  computes it for all time steps at once, in one matmul, before the loop over time.
* ``step(u_t, state)``: the recurrent update from the projected input ``u_t`` and the previous
  state.

``cell(x, state) == cell.step(cell.input_projection(x), state)``.

Vanilla (Elman) RNN, as ``torch.nn.RNNCell(nonlinearity="tanh")``::

    h_t = tanh(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh)

LSTM, as ``torch.nn.LSTMCell``, gate blocks stacked in the order i, f, g, o (``*`` is elementwise,
``sigma`` the logistic sigmoid)::

    i_t = sigma(W_ii x_t + b_ii + W_hi h_{t-1} + b_hi)        input gate
    f_t = sigma(W_if x_t + b_if + W_hf h_{t-1} + b_hf)        forget gate
    g_t = tanh (W_ig x_t + b_ig + W_hg h_{t-1} + b_hg)        candidate cell value
    o_t = sigma(W_io x_t + b_io + W_ho h_{t-1} + b_ho)        output gate
    c_t = f_t * c_{t-1} + i_t * g_t
    h_t = o_t * tanh(c_t)

The cell state is updated additively: along the path ``c_{t-1} -> c_t`` the Jacobian is just
``diag(f_t)``, so the gradient survives many steps while the forget gate stays near 1 (hence a
positive forget-gate bias at initialisation, ``forget_bias``).

GRU, as ``torch.nn.GRUCell``, gate blocks stacked in the order r, z, n::

    r_t = sigma(W_ir x_t + b_ir + W_hr h_{t-1} + b_hr)          reset gate
    z_t = sigma(W_iz x_t + b_iz + W_hz h_{t-1} + b_hz)          update gate
    n_t = tanh (W_in x_t + b_in + r_t * (W_hn h_{t-1} + b_hn))  candidate state
    h_t = (1 - z_t) * n_t + z_t * h_{t-1}

As in torch (and cuDNN), ``b_hn`` sits inside the reset product; Cho et al. apply ``r_t`` to
``h_{t-1}`` before ``W_hn``, which differs whenever ``r_t`` is not all ones.

References: Elman (1990), "Finding structure in time"; Karpathy's min-char-rnn;
Hochreiter & Schmidhuber (1997), "Long short-term memory";
Gers, Schmidhuber & Cummins (2000), "Learning to forget: continual prediction with LSTM";
Cho et al. (2014), "Learning phrase representations using RNN encoder-decoder";
Jozefowicz, Zaremba & Sutskever (2015), "An empirical exploration of recurrent network
architectures".
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

INITS = ("default", "orthogonal", "identity")

State = Tensor | tuple[Tensor, Tensor]
"""A cell's state: ``h`` (B, H), or ``(h, c)`` for the LSTM."""


class RecurrentCell(nn.Module):
    """Base: ``weight_ih (G*H, I)``, ``weight_hh (G*H, H)``, ``bias_ih`` and ``bias_hh (G*H,)``.

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
        * ``orthogonal``: a random orthogonal matrix times ``gain`` (Saxe et al. 2014): every
          singular value is ``gain``, so a linearised recurrence neither shrinks nor grows the
          gradient.
        * ``identity``: ``gain * I`` with zero recurrent bias, the IRNN of Le et al. (2015): the
          state is copied forward until learning says otherwise.
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
        if self.bias_ih is None:
            return x @ self.weight_ih.t()
        # one fused op (and one allocation) for all rows: x is (T, B, I) in a layer
        rows = torch.addmm(self.bias_ih, x.reshape(-1, x.shape[-1]), self.weight_ih.t())
        return rows.view(*x.shape[:-1], rows.shape[-1])

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


class LSTMCell(RecurrentCell):
    """LSTM cell, as ``torch.nn.LSTMCell``; gate blocks stacked i, f, g, o.

    Shapes: x (B, I), state ``(h, c)`` with h, c (B, H) -> ``(h', c')``, each (B, H). Parameters:
    ``weight_ih (4H, I)``, ``weight_hh (4H, H)``, ``bias_ih (4H,)``, ``bias_hh (4H,)``.

    ``forget_bias``: with ``bias=True`` and a non-zero value, after torch's initialisation the
    forget-gate slice of ``bias_hh`` is set to ``forget_bias`` and that of ``bias_ih`` to 0, so the
    effective forget bias ``b_if + b_hf`` is ``forget_bias`` (Gers et al. 2000; Jozefowicz et al.
    2015 recommend 1). The default 0.0 leaves torch's initialisation untouched.
    """

    n_gates = 4

    def __init__(
        self, input_size: int, hidden_size: int, bias: bool = True, *, forget_bias: float = 0.0
    ) -> None:
        super().__init__(input_size, hidden_size, bias)
        self.forget_bias = float(forget_bias)
        self._init_forget_bias()

    def reset_parameters(self) -> None:
        """torch's default, then the forget-gate bias (unset while the base constructor runs)."""
        super().reset_parameters()
        if hasattr(self, "forget_bias"):
            self._init_forget_bias()

    def _init_forget_bias(self) -> None:
        if self.forget_bias == 0.0 or self.bias_ih is None or self.bias_hh is None:
            return
        forget = slice(self.hidden_size, 2 * self.hidden_size)
        with torch.no_grad():
            self.bias_ih[forget] = 0.0
            self.bias_hh[forget] = self.forget_bias

    def initial_state(self, batch_size: int, like: Tensor) -> tuple[Tensor, Tensor]:
        """Zero ``(h, c)``, each (B, H)."""
        zeros = torch.zeros(batch_size, self.hidden_size, dtype=like.dtype, device=like.device)
        return zeros, zeros.clone()

    @staticmethod
    def state_parts(state: State) -> dict[str, Tensor]:
        assert isinstance(state, tuple)
        h, c = state
        return {"h": h, "c": c}

    @staticmethod
    def hidden(state: State) -> Tensor:
        assert isinstance(state, tuple)
        return state[0]

    def step(self, u: Tensor, state: State) -> tuple[Tensor, Tensor]:
        """u: (B, 4H) projected input, state: (h, c) each (B, H) -> (h', c')."""
        assert isinstance(state, tuple)
        h, c = state
        i, f, g, o = (u + self.recurrent_projection(h)).chunk(4, dim=-1)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        h = torch.sigmoid(o) * torch.tanh(c)
        return h, c


class GRUCell(RecurrentCell):
    """GRU cell, as ``torch.nn.GRUCell``; gate blocks stacked r, z, n.

    Shapes: x (B, I), h (B, H) -> h' (B, H). Parameters: ``weight_ih (3H, I)``,
    ``weight_hh (3H, H)``, ``bias_ih (3H,)``, ``bias_hh (3H,)``.
    """

    n_gates = 3

    def step(self, u: Tensor, state: State) -> Tensor:
        """u: (B, 3H) projected input, state: h (B, H) -> h' (B, H)."""
        assert isinstance(state, Tensor)
        u_r, u_z, u_n = u.chunk(3, dim=-1)
        # The recurrent half of the candidate must stay separate: the reset gate multiplies it.
        w_r, w_z, w_n = self.recurrent_projection(state).chunk(3, dim=-1)
        r = torch.sigmoid(u_r + w_r)
        z = torch.sigmoid(u_z + w_z)
        n = torch.tanh(u_n + r * w_n)
        return (1 - z) * n + z * state
