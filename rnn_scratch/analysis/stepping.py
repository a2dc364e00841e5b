"""Stepping a core's cell by hand: state trajectories and step Jacobians, for any of our cores.

The analysis works on the *flat state* ``s``: ``h`` (H,) for the RNN and GRU, ``[h; c]`` (2H,) for the
LSTM, whose memory lives in ``c`` as much as in ``h``. One step is the map ``s_t = F(s_{t-1}, u_t)``
with ``u_t = W_ih x_t + b_ih`` the projected input, and its Jacobian ``J_t = dF/ds (s_{t-1}, u_t)``:

    RNN:   J_t = diag(1 - h_t^2) W_hh                        (Pascanu et al. 2013)
    LSTM, GRU: derived by hand too, see ``jacobian_times``  (tests check them against autograd)

Usually only the products ``J_t Q`` with a few directions Q are needed, never J_t itself.

The torch.nn baselines (``torch_rnn`` ...) fuse their loop, so they cannot be stepped; ``as_cell``
copies their weights (same names and shapes, ``weight_ih_l0`` -> ``weight_ih``) into one of our cells,
which computes the same function (the parity tests check it), and the analysis steps that.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from rnn_scratch.models.baselines import TorchRecurrentBaseline
from rnn_scratch.models.cells import GRUCell, LSTMCell, RecurrentCell, RNNCell, State
from rnn_scratch.models.layers import Recurrent

CELLS: dict[str, type[RecurrentCell]] = {"rnn": RNNCell, "lstm": LSTMCell, "gru": GRUCell}


def as_cell(core: nn.Module) -> RecurrentCell:
    """The cell that computes one step of ``core``: its own, or a copy of a torch.nn baseline's weights."""
    if isinstance(core, Recurrent):
        return core.cell
    if isinstance(core, TorchRecurrentBaseline):
        rnn, weight = core.rnn, core.weight_hh
        extra = {"nonlinearity": rnn.nonlinearity} if core.kind == "rnn" else {}
        cell = CELLS[core.kind](core.input_size, core.hidden_size, rnn.bias, **extra)
        cell = cell.to(device=weight.device, dtype=weight.dtype)
        with torch.no_grad():
            for name, param in cell.named_parameters():
                param.copy_(getattr(rnn, f"{name}_l0"))
        return cell
    if isinstance(core, RecurrentCell):
        return core
    raise TypeError(f"cannot step a {type(core).__name__}: expected one of our cores or a torch_* baseline")


def state_size(cell: RecurrentCell) -> int:
    """n, the size of the flat state: 2H for the LSTM, H otherwise."""
    return 2 * cell.hidden_size if isinstance(cell, LSTMCell) else cell.hidden_size


def flatten(state: State) -> Tensor:
    """The cell's state -> flat ``s`` (B, n)."""
    return torch.cat(state, dim=-1) if isinstance(state, tuple) else state


def unflatten(cell: RecurrentCell, s: Tensor) -> State:
    """Flat ``s`` (..., n) -> the cell's state."""
    if isinstance(cell, LSTMCell):
        h, c = s.split(cell.hidden_size, dim=-1)
        return h, c
    return s


def step_flat(cell: RecurrentCell, u: Tensor, s: Tensor) -> Tensor:
    """``F(s, u)``: one step on flat states. u: (B, G*H), s: (B, n) -> (B, n)."""
    return flatten(cell.step(u, unflatten(cell, s)))


def project(cell: RecurrentCell, x: Tensor) -> Tensor:
    """Inputs -> projected inputs u: (T, B, G*H). x: (T, B, I) values, or (T, B) character indices
    (the column gather ``W_ih[:, x_t] + b_ih`` that the model uses, equal to the one-hot product)."""
    if x.is_floating_point():
        return cell.input_projection(x)
    u = cell.weight_ih.t()[x]
    return u if cell.bias_ih is None else u + cell.bias_ih


@torch.no_grad()
def run(cell: RecurrentCell, u: Tensor, s0: Tensor | None = None) -> Tensor:
    """The flat states of every step. u: (T, B, G*H), s0: (B, n) or None (zeros) -> (T + 1, B, n),
    row 0 being s0."""
    if s0 is None:
        s0 = u.new_zeros(u.shape[1], state_size(cell))
    states = [s0]
    for t in range(u.shape[0]):
        states.append(step_flat(cell, u[t], states[-1]))
    return torch.stack(states)


@torch.no_grad()
def jacobian_times(cell: RecurrentCell, u: Tensor, s_prev: Tensor, q: Tensor) -> Tensor:
    """``J q`` with ``J = dF/ds (s_prev, u)`` at each of B points, derived by hand (no autograd).

    u: (B, G*H), s_prev: (B, n), q: (B, n, k) k tangent directions -> (B, n, k). With
    ``a = u + W_hh h + b_hh`` the gates' pre-activations, ``da = W_hh dh``, σ' = σ(1 - σ)::

        RNN:  dh' = (1 - h'^2) * da  (tanh),   dh' = [a > 0] * da  (relu)
        LSTM: dc' = σ'(a_f) da_f * c + f * dc + σ'(a_i) da_i * g + i * (1 - g^2) da_g
              dh' = σ'(a_o) da_o * tanh(c') + o * (1 - tanh(c')^2) * dc'
        GRU:  dr = σ'(a_r) da_r,  dz = σ'(a_z) da_z,  dn = (1 - n^2) (dr * w_n + r * da_n)
              dh' = (h - n) * dz + (1 - z) * dn + z * dh          (w_n = W_hn h + b_hn)
    """
    hs = cell.hidden_size
    q = q.to(s_prev.dtype)
    w = cell.recurrent_projection(s_prev[:, :hs])[:, :, None]  # (B, G*H, 1)
    a = u[:, :, None] + w
    da = cell.weight_hh @ q[:, :hs]  # (B, G*H, k)
    if isinstance(cell, RNNCell):
        if cell.nonlinearity == "relu":  # relu'(a) = [a > 0]: the IRNN's Jacobian is W_hh on the active units
            return (a > 0).to(da.dtype) * da
        return (1 - torch.tanh(a) ** 2) * da
    if isinstance(cell, LSTMCell):
        c, dc = s_prev[:, hs:, None], q[:, hs:]
        (a_i, a_f, a_g, a_o), (da_i, da_f, da_g, da_o) = a.chunk(4, 1), da.chunk(4, 1)
        i, f, g, o = torch.sigmoid(a_i), torch.sigmoid(a_f), torch.tanh(a_g), torch.sigmoid(a_o)
        c_new = f * c + i * g
        tc = torch.tanh(c_new)
        dc_new = f * (1 - f) * da_f * c + f * dc + i * (1 - i) * da_i * g + i * (1 - g * g) * da_g
        dh_new = o * (1 - o) * da_o * tc + o * (1 - tc * tc) * dc_new
        return torch.cat([dh_new, dc_new], dim=1)
    if isinstance(cell, GRUCell):
        h = s_prev[:, :, None]
        u_r, u_z, u_n = u[:, :, None].chunk(3, 1)
        w_r, w_z, w_n = w.chunk(3, 1)
        da_r, da_z, da_n = da.chunk(3, 1)
        r, z = torch.sigmoid(u_r + w_r), torch.sigmoid(u_z + w_z)
        n = torch.tanh(u_n + r * w_n)
        dr, dz = r * (1 - r) * da_r, z * (1 - z) * da_z
        dn = (1 - n * n) * (dr * w_n + r * da_n)
        return (h - n) * dz + (1 - z) * dn + z * q
    raise TypeError(f"no Jacobian for {type(cell).__name__}")


def jacobians(cell: RecurrentCell, u: Tensor, s_prev: Tensor) -> Tensor:
    """``J = dF/ds`` at each of B points: ``J I``. u: (B, G*H), s_prev: (B, n) -> (B, n, n)."""
    n = s_prev.shape[1]
    eye = torch.eye(n, dtype=s_prev.dtype, device=s_prev.device)
    return jacobian_times(cell, u, s_prev, eye.expand(s_prev.shape[0], n, n))


def step_jacobians(cell: RecurrentCell, u: Tensor, states: Tensor) -> Tensor:
    """``J_t`` along a trajectory. u: (T, B, G*H), states: (T + 1, B, n) from ``run`` -> (T, B, n, n)."""
    return torch.stack([jacobians(cell, u[t], states[t]) for t in range(u.shape[0])])
