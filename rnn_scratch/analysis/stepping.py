"""Stepping a core's cell by hand: state trajectories and step Jacobians, for any of our cores.

The analysis works on the *flat state* ``s``: ``h`` (H,) for the RNN and GRU, ``[h; c]`` (2H,) for the
LSTM, whose memory lives in ``c`` as much as in ``h``. One step is the map ``s_t = F(s_{t-1}, u_t)``
with ``u_t = W_ih x_t + b_ih`` the projected input, and its Jacobian ``J_t = dF/ds (s_{t-1}, u_t)``:

    RNN:   J_t = diag(phi'(a_t)) W_hh     tanh: 1 - h_t^2, relu: [a_t > 0]     (Pascanu et al. 2013)
    LSTM, GRU, IndRNN, ...: derived by hand too, each in its cell's module (``jacobian_times``),
    and checked against autograd by tests parametrised over every registered cell

Usually only the products ``J_t Q`` with a few directions Q are needed, never J_t itself.

The torch.nn baselines (``torch_rnn`` ...) fuse their loop, so they cannot be stepped; ``as_cell``
copies their weights (same names and shapes, ``weight_ih_l0`` -> ``weight_ih``) into one of our cells,
which computes the same function (the parity tests check it), and the analysis steps that.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from rnn_scratch.analysis.stacked import StackedCell
from rnn_scratch.models.base import RecurrentCell, State
from rnn_scratch.models.baselines import TorchRecurrentBaseline
from rnn_scratch.models.layers import Recurrent
from rnn_scratch.models.registry import cell_class


def layer_cells(core: nn.Module) -> tuple[RecurrentCell, ...]:
    """The cell of each layer of ``core``, bottom first: its own, or copies of a torch.nn baseline's
    weights (``weight_ih_l<i>`` -> ``weight_ih``); a cell is its own only layer."""
    if isinstance(core, Recurrent):
        return core.cells
    if isinstance(core, TorchRecurrentBaseline):
        rnn, weight = core.rnn, core.weight_hh
        # torch.nn.RNN's nonlinearity (tanh or relu) is the cell's; LSTM and GRU have none
        extra = {"nonlinearity": rnn.nonlinearity} if hasattr(rnn, "nonlinearity") else {}
        cells = []
        for layer in range(core.num_layers):
            size = core.input_size if layer == 0 else core.hidden_size
            cell = cell_class(core.kind)(size, core.hidden_size, rnn.bias, **extra)
            cell = cell.to(device=weight.device, dtype=weight.dtype)
            with torch.no_grad():
                for name, param in cell.named_parameters():
                    param.copy_(getattr(rnn, f"{name}_l{layer}"))
            cells.append(cell)
        return tuple(cells)
    if isinstance(core, RecurrentCell):
        return (core,)
    raise TypeError(f"cannot step a {type(core).__name__}: expected one of our cores or a torch_* baseline")


def as_cell(core: nn.Module) -> RecurrentCell:
    """The cell that computes one step of ``core``: its own, or a copy of a torch.nn baseline's
    weights; a stack of layers as one ``StackedCell`` (``rnn_scratch.analysis.stacked``: the flat
    state is the layers' flat states, top layer first, so ``s[:H]`` is the h that is read out)."""
    cells = layer_cells(core)
    # the stack duck-types the cell's stepping interface (step, unflatten, jacobian_times, ...)
    return cells[0] if len(cells) == 1 else StackedCell(cells)  # type: ignore[return-value]


def recurrent_blocks(core: nn.Module) -> list[Tensor]:
    """Each layer's (H, H) block of its recurrent weights whose spectrum the instruments read, as its
    cell declares it (``RecurrentCell.recurrent_block``): W_hh (RNN), the candidate's block (LSTM g,
    GRU n); bottom layer first."""
    return [cell.recurrent_block() for cell in layer_cells(core)]


def recurrent_block(core: nn.Module) -> Tensor:
    """The (H, H) block of a one-layer core's recurrent weights whose spectrum the instruments read
    (stacked: ``recurrent_blocks``, one per layer)."""
    blocks = recurrent_blocks(core)
    if len(blocks) > 1:
        raise ValueError(f"a {len(blocks)}-layer core has a block per layer: use recurrent_blocks")
    return blocks[0]


def state_size(cell: RecurrentCell) -> int:
    """n, the size of the flat state: H per part of the cell's state (2H for the LSTM's (h, c))."""
    return cell.state_size


def flatten(state: State) -> Tensor:
    """The cell's state -> flat ``s`` (B, n)."""
    return torch.cat(state, dim=-1) if isinstance(state, tuple) else state


def unflatten(cell: RecurrentCell, s: Tensor) -> State:
    """Flat ``s`` (..., n) -> the cell's state."""
    return cell.unflatten(s)


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
    """``J q`` with ``J = dF/ds (s_prev, u)`` at each of B points, derived by hand (no autograd): the
    cell's own ``jacobian_times``, whose docstring gives its equations.

    u: (B, G*H), s_prev: (B, n), q: (B, n, k) k tangent directions -> (B, n, k).
    """
    return cell.jacobian_times(u, s_prev, q)


def jacobians(cell: RecurrentCell, u: Tensor, s_prev: Tensor) -> Tensor:
    """``J = dF/ds`` at each of B points: ``J I``. u: (B, G*H), s_prev: (B, n) -> (B, n, n)."""
    n = s_prev.shape[1]
    eye = torch.eye(n, dtype=s_prev.dtype, device=s_prev.device)
    return jacobian_times(cell, u, s_prev, eye.expand(s_prev.shape[0], n, n))


def step_jacobians(cell: RecurrentCell, u: Tensor, states: Tensor) -> Tensor:
    """``J_t`` along a trajectory. u: (T, B, G*H), states: (T + 1, B, n) from ``run`` -> (T, B, n, n)."""
    return torch.stack([jacobians(cell, u[t], states[t]) for t in range(u.shape[0])])
