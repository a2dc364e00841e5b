"""A stack of layers stepped as one cell, so the analysis (trajectories, Jacobians, Lyapunov exponents,
memory probes) works at any depth.

The stack's flat state is its layers' flat states, **top layer first**::

    s_t = [s_t^{L-1}; ...; s_t^1; s_t^0]        (n = sum_l n_l; s[:H] is the top layer's h_t, read out)

and one step runs the layers bottom-up, each layer's new ``h`` projected into the next one's input::

    s_t^0 = F^0(s_{t-1}^0, u_t)                  u_t = W_ih^0 x_t + b_ih^0
    s_t^l = F^l(s_{t-1}^l, W_ih^l h_t^{l-1} + b_ih^l)

Its Jacobian ``dF/ds`` is block triangular: a layer's own step Jacobian ``J^l`` on the diagonal (each
cell's hand-derived ``jacobian_times``) and, below it, how layer l moves with the layer under it::

    ds_t^l = J^l ds_{t-1}^l + (dF^l/du) W_ih^l dh_t^{l-1}

where ``(dF^l/du) v`` is a forward-mode derivative (``torch.func.jvp``) of the cell's step: cells declare
their Jacobian in the state only. The Lyapunov spectrum of the stack is that of this map; with one
layer everything here is the cell's own.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from rnn_scratch.models.base import RecurrentCell, State


def _flat(state: State) -> Tensor:
    return torch.cat(state, dim=-1) if isinstance(state, tuple) else state


class StackedCell(nn.Module):
    """The layers' cells (bottom first, as ``Recurrent.cells``) behind the interface the analysis
    steps: ``step``, ``unflatten``, ``jacobian_times``, ``state_size``, ``hidden_size``, the bottom
    layer's input projection (``weight_ih``, ``bias_ih``, ``input_projection``, ``n_gates``). A module
    holding the cells themselves (not copies), so ``.double()`` and ``.parameters()`` reach them."""

    def __init__(self, cells: tuple[RecurrentCell, ...]) -> None:
        super().__init__()
        self.layers = nn.ModuleList(cells)
        bottom = cells[0]
        self.hidden_size, self.n_gates = bottom.hidden_size, bottom.n_gates
        self.sizes = [c.state_size for c in reversed(cells)]  # top first, as the flat state
        self.state_size = sum(self.sizes)

    @property
    def cells(self) -> tuple[RecurrentCell, ...]:
        return tuple(self.layers)  # type: ignore[arg-type]

    @property
    def weight_ih(self) -> Tensor:
        return self.cells[0].weight_ih

    @property
    def bias_ih(self) -> Tensor | None:
        return self.cells[0].bias_ih

    def input_projection(self, x: Tensor) -> Tensor:
        """The bottom layer's ``u = x W_ih^T + b_ih``: (..., I) -> (..., G*H)."""
        return self.cells[0].input_projection(x)

    def unflatten(self, s: Tensor) -> tuple[Tensor, ...]:
        """Flat ``s`` (..., n) -> each layer's flat state, top first."""
        return tuple(s.split(self.sizes, dim=-1))

    def _layer_states(self, s: Tensor) -> list[Tensor]:
        """Flat s -> each layer's flat state, bottom first."""
        return list(reversed(self.unflatten(s)))

    def step(self, u: Tensor, state: State) -> tuple[Tensor, ...]:
        """One step of every layer, bottom-up. u: (B, G*H) the bottom layer's projected input; state: a
        flat (B, n) or its ``unflatten`` -> the new state as ``unflatten`` gives it."""
        flat = state if isinstance(state, Tensor) else torch.cat(state, dim=-1)
        new: list[Tensor] = []
        for layer, (cell, s) in enumerate(zip(self.cells, self._layer_states(flat), strict=True)):
            if layer > 0:
                u = cell.input_projection(new[-1][..., : cell.hidden_size])
            new.append(_flat(cell.step(u, cell.unflatten(s))))
        return tuple(reversed(new))

    def jacobian_times(self, u: Tensor, s_prev: Tensor, q: Tensor) -> Tensor:
        """``J q`` for the stack's step at each of B points (see the module docstring).

        u: (B, G*H), s_prev: (B, n), q: (B, n, k) -> (B, n, k)."""
        states = self._layer_states(s_prev)
        tangents = list(reversed(q.split(self.sizes, dim=1)))  # per layer (B, n_l, k), bottom first
        out: list[Tensor] = []
        for layer, (cell, s, dq) in enumerate(zip(self.cells, states, tangents, strict=True)):
            moved = cell.jacobian_times(u, s, dq)
            if layer > 0:
                dh = out[-1][:, : cell.hidden_size].to(s.dtype)  # (B, H, k): the layer below's dh_t
                du = torch.einsum("gh,bhk->bkg", cell.weight_ih, dh)  # (B, k, G*H)
                state = cell.unflatten(s)

                def along(v: Tensor, cell: RecurrentCell = cell, uu: Tensor = u, st: State = state) -> Tensor:
                    return torch.func.jvp(lambda a: _flat(cell.step(a, st)), (uu,), (v,))[1]

                coupled = torch.stack([along(du[:, i]) for i in range(du.shape[1])], dim=-1)
                moved = moved + coupled.to(moved.dtype)
            out.append(moved)
            if layer + 1 < len(self.cells):  # the next layer's input comes from this layer's new h
                h = _flat(cell.step(u, cell.unflatten(s)))[..., : cell.hidden_size]
                u = self.cells[layer + 1].input_projection(h)
        return torch.cat(list(reversed(out)), dim=1)

    def recurrent_block(self) -> list[Tensor]:
        """Each layer's (H, H) block of ``W_hh`` that the instruments read, bottom first."""
        return [cell.recurrent_block() for cell in self.cells]
