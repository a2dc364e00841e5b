"""The LSTM cell, as ``torch.nn.LSTMCell``: gate blocks stacked in the order i, f, g, o.

``*`` is elementwise, ``sigma`` the logistic sigmoid::

    i_t = sigma(W_ii x_t + b_ii + W_hi h_{t-1} + b_hi)        input gate
    f_t = sigma(W_if x_t + b_if + W_hf h_{t-1} + b_hf)        forget gate
    g_t = tanh (W_ig x_t + b_ig + W_hg h_{t-1} + b_hg)        candidate cell value
    o_t = sigma(W_io x_t + b_io + W_ho h_{t-1} + b_ho)        output gate
    c_t = f_t * c_{t-1} + i_t * g_t
    h_t = o_t * tanh(c_t)

The cell state is updated additively: along the path ``c_{t-1} -> c_t`` the Jacobian is just
``diag(f_t)``, so the gradient survives many steps while the forget gate stays near 1 (hence a
positive forget-gate bias at initialisation, ``forget_bias``). Its state is ``(h, c)``; the analysis
steps the flat ``[h; c]`` (2H,). Its hand-derived BPTT is ``rnn_scratch.models.bptt.lstm``.

References: Hochreiter & Schmidhuber (1997), "Long short-term memory"; Gers, Schmidhuber & Cummins
(2000), "Learning to forget"; Jozefowicz, Zaremba & Sutskever (2015), "An empirical exploration of
recurrent network architectures".
"""

from __future__ import annotations

import torch
from torch import Tensor

from rnn_scratch.models.base import Norms, State
from rnn_scratch.models.bptt.lstm import lstm_recurrence
from rnn_scratch.models.gated import GatedCell
from rnn_scratch.models.registry import register_cell


@register_cell
class LSTMCell(GatedCell):
    """LSTM cell, as ``torch.nn.LSTMCell``; gate blocks stacked i, f, g, o.

    Shapes: x (B, I), state ``(h, c)`` with h, c (B, H) -> ``(h', c')``, each (B, H). Parameters:
    ``weight_ih (4H, I)``, ``weight_hh (4H, H)``, ``bias_ih (4H,)``, ``bias_hh (4H,)``.

    Gate biases (``GatedCell``): the keep gate is f. ``forget_bias``: with ``bias=True`` and a non-zero
    value, the forget-gate slice of ``bias_hh`` is set to ``forget_bias`` and that of ``bias_ih`` to 0,
    so the effective forget bias ``b_if + b_hf`` is ``forget_bias`` (Gers et al. 2000; Jozefowicz et al.
    2015 recommend 1, the config's default). The constructor's default 0.0 leaves torch's initialisation
    untouched. ``gate_init="chrono"``: ``b_hf ~ log U(1, T_max - 1)``, ``b_hi = -b_hf``, ``b_if = b_ii = 0``.
    """

    name, words = "lstm", "LSTM"
    order = 1
    n_gates = 4
    state_names = ("h", "c")
    spectral_block = 2  # g, the candidate: the block that acts as the recurrence's matrix
    torch_reference = "LSTM"  # torch.nn.LSTM
    keep_gate, write_gate = 1, 0
    default_forget_bias = 1.0  # model.forget_bias null (Jozefowicz et al. 2015)
    compile_steps = False  # set by the layer: the recurrence's steps as compiled kernels (bptt/fused.py)

    def step(self, u: Tensor, state: State) -> tuple[Tensor, Tensor]:
        """u: (B, 4H) projected input, state: (h, c) each (B, H) -> (h', c')."""
        assert isinstance(state, tuple)
        h, c = state
        i, f, g, o = (u + self.recurrent_projection(h)).chunk(4, dim=-1)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        h = torch.sigmoid(o) * torch.tanh(c)
        return h, c

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
        """``rnn_scratch.models.bptt.lstm``: u (T, B, 4H), (h0, c0) -> (hs (T, B, H), (h_T, c_T))."""
        assert isinstance(state, tuple)
        (h0, c0), norms = state, norms or {}
        hs, c = lstm_recurrence(
            u, h0, c0, weight_hh, bias_hh, truncate, mask, norms.get("h"), norms.get("c"), self.compile_steps
        )
        return hs, (hs[-1], c)

    def jacobian_times(self, u: Tensor, s_prev: Tensor, q: Tensor) -> Tensor:
        """With ``a = u + W_hh h + b_hh``, ``da = W_hh dh`` and sigma' = sigma (1 - sigma)::

        dc' = sigma'(a_f) da_f * c + f * dc + sigma'(a_i) da_i * g + i * (1 - g^2) da_g
        dh' = sigma'(a_o) da_o * tanh(c') + o * (1 - tanh(c')^2) * dc'
        """
        hs = self.hidden_size
        q = q.to(s_prev.dtype)
        a = u[:, :, None] + self.recurrent_projection(s_prev[:, :hs])[:, :, None]
        da = self.weight_hh @ q[:, :hs]  # (B, 4H, k)
        c, dc = s_prev[:, hs:, None], q[:, hs:]
        (a_i, a_f, a_g, a_o), (da_i, da_f, da_g, da_o) = a.chunk(4, 1), da.chunk(4, 1)
        i, f, g, o = torch.sigmoid(a_i), torch.sigmoid(a_f), torch.tanh(a_g), torch.sigmoid(a_o)
        tc = torch.tanh(f * c + i * g)
        dc_new = f * (1 - f) * da_f * c + f * dc + i * (1 - i) * da_i * g + i * (1 - g * g) * da_g
        dh_new = o * (1 - o) * da_o * tc + o * (1 - tc * tc) * dc_new
        return torch.cat([dh_new, dc_new], dim=1)
