"""Recurrent cells written by hand: one time step, built from ``nn.Parameter`` and tensor ops only.

Each cell mirrors its ``torch.nn`` counterpart exactly (constructor, parameter names and shapes,
gate order, forward semantics), so weights copy across and parity tests are one line. A cell
separates the two halves of a step, because only the second half is truly recurrent:

* ``input_projection(x)``: ``u = x W_ih^T + b_ih``. It does not depend on the state, so a layer
  computes it for all time steps at once, in one matmul, before the loop over time.
* ``step(u_t, state)``: the recurrent update from the projected input ``u_t`` and the previous
  state.

``cell(x, state) == cell.step(cell.input_projection(x), state)``.

Vanilla (Elman) RNN, as ``torch.nn.RNNCell(nonlinearity="tanh")`` (or ``"relu"``, phi = max(0, .))::

    h_t = phi(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh)          phi = tanh (default) | relu

With ``nonlinearity="relu"`` and the ``identity`` initialisation (W_hh = I, both biases 0) the cell is
the IRNN of Le, Jaitly & Hinton (2015). A tanh cell with W_hh = I is an identity-initialised tanh RNN,
not the IRNN.

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

So ``z_t`` is the GRU's keep (forget) gate: ``z_t = 1`` copies the state forward. A positive update-gate
bias ``b_iz + b_hz`` makes the GRU remember, as a positive forget bias does the LSTM.

As in torch (and cuDNN), ``b_hn`` sits inside the reset product; Cho et al. apply ``r_t`` to
``h_{t-1}`` before ``W_hn``, which differs whenever ``r_t`` is not all ones.

References: Elman (1990), "Finding structure in time"; Karpathy's min-char-rnn;
Hochreiter & Schmidhuber (1997), "Long short-term memory";
Gers, Schmidhuber & Cummins (2000), "Learning to forget: continual prediction with LSTM";
Cho et al. (2014), "Learning phrase representations using RNN encoder-decoder";
Jozefowicz, Zaremba & Sutskever (2015), "An empirical exploration of recurrent network
architectures"; Le, Jaitly & Hinton (2015), "A simple way to initialize recurrent networks of
rectified linear units"; Tallec & Ollivier (2018), "Can recurrent neural networks warp time?" (chrono
initialisation).
"""

from __future__ import annotations

import torch
from torch import Tensor

from rnn_scratch.models.base import (
    GATE_INITS,
    INITS,
    NONLINEARITIES,
    GatedCell,
    RecurrentCell,
    State,
    chrono_bias,
)

__all__ = [
    "GATE_INITS",
    "INITS",
    "NONLINEARITIES",
    "GRUCell",
    "GatedCell",
    "LSTMCell",
    "RNNCell",
    "RecurrentCell",
    "State",
    "chrono_bias",
]


class RNNCell(RecurrentCell):
    """Elman cell: ``h_t = phi(u_t + W_hh h_{t-1} + b_hh)`` with ``u_t = W_ih x_t + b_ih``.

    ``nonlinearity``: ``tanh`` (default) or ``relu``, as ``torch.nn.RNNCell``. Shapes: x (B, I),
    h (B, H) -> h' (B, H).
    """

    n_gates = 1

    def __init__(
        self, input_size: int, hidden_size: int, bias: bool = True, *, nonlinearity: str = "tanh"
    ) -> None:
        if nonlinearity not in NONLINEARITIES:
            raise ValueError(f"nonlinearity must be one of {', '.join(NONLINEARITIES)}, got {nonlinearity!r}")
        super().__init__(input_size, hidden_size, bias)
        self.nonlinearity = nonlinearity

    def init_recurrent(self, scheme: str, gain: float = 1.0) -> None:
        """As the base; ``identity`` with ReLU is Le et al.'s IRNN, so the input bias is zeroed too."""
        super().init_recurrent(scheme, gain)
        if scheme == "identity" and self.nonlinearity == "relu" and self.bias_ih is not None:
            with torch.no_grad():
                self.bias_ih.zero_()

    def step(self, u: Tensor, state: State) -> Tensor:
        """u: (B, H) projected input, state: h (B, H) -> h' (B, H)."""
        assert isinstance(state, Tensor)
        a = u + self.recurrent_projection(state)
        return torch.relu(a) if self.nonlinearity == "relu" else torch.tanh(a)

    def extra_repr(self) -> str:
        extra = "" if self.nonlinearity == "tanh" else f", nonlinearity={self.nonlinearity!r}"
        return super().extra_repr() + extra


class LSTMCell(GatedCell):
    """LSTM cell, as ``torch.nn.LSTMCell``; gate blocks stacked i, f, g, o.

    Shapes: x (B, I), state ``(h, c)`` with h, c (B, H) -> ``(h', c')``, each (B, H). Parameters:
    ``weight_ih (4H, I)``, ``weight_hh (4H, H)``, ``bias_ih (4H,)``, ``bias_hh (4H,)``.

    Gate biases (``GatedCell``): the keep gate is f. ``forget_bias``: with ``bias=True`` and a non-zero
    value, the forget-gate slice of ``bias_hh`` is set to ``forget_bias`` and that of ``bias_ih`` to 0,
    so the effective forget bias ``b_if + b_hf`` is ``forget_bias`` (Gers et al. 2000; Jozefowicz et al.
    2015 recommend 1). The default 0.0 leaves torch's initialisation untouched. ``gate_init="chrono"``:
    ``b_hf ~ log U(1, T_max - 1)``, ``b_hi = -b_hf``, ``b_if = b_ii = 0``.
    """

    n_gates = 4
    keep_gate, write_gate = 1, 0

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


class GRUCell(GatedCell):
    """GRU cell, as ``torch.nn.GRUCell``; gate blocks stacked r, z, n.

    Shapes: x (B, I), h (B, H) -> h' (B, H). Parameters: ``weight_ih (3H, I)``,
    ``weight_hh (3H, H)``, ``bias_ih (3H,)``, ``bias_hh (3H,)``.

    Gate biases (``GatedCell``): in ``h' = (1 - z) * n + z * h`` the update gate z keeps the state,
    so z is the keep gate: ``forget_bias`` sets ``b_iz + b_hz`` (``b_iz = 0``), and
    ``gate_init="chrono"`` draws ``b_hz ~ log U(1, T_max - 1)``. The default (``forget_bias=0.0``,
    constant) leaves torch's initialisation.
    """

    n_gates = 3
    keep_gate, write_gate = 1, None

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
