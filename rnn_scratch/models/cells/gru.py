"""The GRU cell, as ``torch.nn.GRUCell``: gate blocks stacked in the order r, z, n.

    r_t = sigma(W_ir x_t + b_ir + W_hr h_{t-1} + b_hr)          reset gate
    z_t = sigma(W_iz x_t + b_iz + W_hz h_{t-1} + b_hz)          update gate
    n_t = tanh (W_in x_t + b_in + r_t * (W_hn h_{t-1} + b_hn))  candidate state
    h_t = (1 - z_t) * n_t + z_t * h_{t-1}

So ``z_t`` is the GRU's keep (forget) gate: ``z_t = 1`` copies the state forward. A positive update-gate
bias ``b_iz + b_hz`` makes the GRU remember, as a positive forget bias does the LSTM.

As in torch (and cuDNN), ``b_hn`` sits inside the reset product; Cho et al. apply ``r_t`` to
``h_{t-1}`` before ``W_hn``, which differs whenever ``r_t`` is not all ones. Its hand-derived BPTT is
``rnn_scratch.models.bptt.gru``.

Reference: Cho et al. (2014), "Learning phrase representations using RNN encoder-decoder".
"""

from __future__ import annotations

import torch
from torch import Tensor

from rnn_scratch.models.base import Norms, State
from rnn_scratch.models.bptt.gru import gru_recurrence
from rnn_scratch.models.gated import GatedCell
from rnn_scratch.models.registry import register_cell


@register_cell
class GRUCell(GatedCell):
    """GRU cell, as ``torch.nn.GRUCell``; gate blocks stacked r, z, n.

    Shapes: x (B, I), h (B, H) -> h' (B, H). Parameters: ``weight_ih (3H, I)``,
    ``weight_hh (3H, H)``, ``bias_ih (3H,)``, ``bias_hh (3H,)``.

    Gate biases (``GatedCell``): in ``h' = (1 - z) * n + z * h`` the update gate z keeps the state,
    so z is the keep gate: ``forget_bias`` sets ``b_iz + b_hz`` (``b_iz = 0``), and
    ``gate_init="chrono"`` draws ``b_hz ~ log U(1, T_max - 1)``. The default (``forget_bias=0.0``,
    constant) leaves torch's initialisation.
    """

    name, words = "gru", "GRU"
    order = 2
    n_gates = 3
    spectral_block = 2  # n, the candidate
    torch_reference = "GRU"  # torch.nn.GRU
    keep_gate, write_gate = 1, None
    compile_steps = False  # set by the layer: the recurrence's steps as compiled kernels (bptt/fused.py)

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
        """``rnn_scratch.models.bptt.gru``: u (T, B, 3H), h0 (B, H) -> (hs (T, B, H), h_T)."""
        assert isinstance(state, Tensor)
        norm_h = (norms or {}).get("h")
        hs = gru_recurrence(u, state, weight_hh, bias_hh, truncate, mask, norm_h, self.compile_steps)
        return hs, hs[-1]

    def jacobian_times(self, u: Tensor, s_prev: Tensor, q: Tensor) -> Tensor:
        """With ``w = W_hh h + b_hh``, ``da = W_hh dh`` and sigma' = sigma (1 - sigma)::

        dr = sigma'(a_r) da_r,  dz = sigma'(a_z) da_z,  dn = (1 - n^2) (dr * w_n + r * da_n)
        dh' = (h - n) * dz + (1 - z) * dn + z * dh
        """
        q = q.to(s_prev.dtype)
        h = s_prev[:, :, None]
        u_r, u_z, u_n = u[:, :, None].chunk(3, 1)
        w_r, w_z, w_n = self.recurrent_projection(s_prev)[:, :, None].chunk(3, 1)
        da_r, da_z, da_n = (self.weight_hh @ q).chunk(3, 1)
        r, z = torch.sigmoid(u_r + w_r), torch.sigmoid(u_z + w_z)
        n = torch.tanh(u_n + r * w_n)
        dr, dz = r * (1 - r) * da_r, z * (1 - z) * da_z
        dn = (1 - n * n) * (dr * w_n + r * da_n)
        return (h - n) * dz + (1 - z) * dn + z * q
