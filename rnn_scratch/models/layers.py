"""A recurrent layer: a cell unrolled over time in a Python loop; ``num_layers`` of them stacked.

Time-major, as ``torch.nn.RNN/LSTM/GRU``: ``forward(x: (T, B, I), state=None) -> (output, final_state)``
with ``output: (T, B, H)`` the hidden state after every step and ``final_state`` in the cell's structure
(``h: (B, H)``, or ``(h, c)`` for the LSTM). The layer's parameters carry the cell's names
(``weight_ih``, ``weight_hh``, ``bias_ih``, ``bias_hh``); ``layer.cell`` is the cell that owns them.

With ``num_layers = L > 1`` the layer is a stack of L such layers (``layer.layers``, one cell each in
``layer.cells``), each one's hidden sequence the next one's input (``rnn_scratch.models.stack``), as
``torch.nn.RNN/LSTM/GRU(num_layers=L)``: parameters named, ordered and shaped as torch's
(``weight_ih_l0, weight_hh_l0, bias_ih_l0, bias_hh_l0, weight_ih_l1, ...``), the state stacked as
``(L, B, H)`` (a tuple of such parts for the LSTM), optional dropout between layers.

The loop, for every step t = 1..T::

    u_t = W_ih x_t + b_ih            (hoisted: all T steps in one matmul before the loop)
    s_t = cell.step(u_t, s_{t-1})    (the only sequential part)

Backpropagation through time is autograd running back through this loop. With
``record_state_grads = True`` the layer also records ``||dL/dh_t||`` (and ``||dL/dc_t||`` for the LSTM)
for every step during that backward pass: the norm of the total gradient reaching the state of step t,
over the whole batch, of shape (T,) (stacked: (L, T), row l for layer l). That profile is how vanishing
and exploding gradients are seen, back in time and down in depth.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar, cast

import torch
from torch import Tensor, nn

from rnn_scratch.models.base import RecurrentCell, State
from rnn_scratch.models.bptt import BPTT_MODES, detach_state, is_chunk_start
from rnn_scratch.models.bptt.graphed import graph_key, graph_recurrence
from rnn_scratch.models.cells import GRUCell, LSTMCell, RNNCell
from rnn_scratch.models.stack import (
    LayerDropout,
    check_depth,
    join_states,
    layer_suffix,
    split_state,
    stack_norms,
)


def float64_norm(g: Tensor) -> Tensor:
    """||g|| (Frobenius), accumulated in float64 so tiny float32 gradients do not underflow to 0."""
    return torch.linalg.vector_norm(g, dtype=torch.float64)


def carry_over(keep_new: Tensor, new: State, old: State) -> State:
    """Per batch row, the new state where ``keep_new`` (B,) is True, else the old one."""
    if isinstance(new, Tensor):
        assert isinstance(old, Tensor)
        return torch.where(keep_new[:, None], new, old)
    return tuple(torch.where(keep_new[:, None], n, o) for n, o in zip(new, old, strict=True))  # type: ignore[return-value]


class Recurrent(nn.Module):
    """A cell unrolled over the first dimension: the base of ``RNN``, ``LSTM`` and ``GRU``, and the layer
    of any registered cell (``Recurrent(I, H, cell_class=IndRNNCell)``); ``num_layers`` of them stacked."""

    cell_class: ClassVar[type[RecurrentCell]]

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        *,
        dropout: float = 0.0,
        dropout_seed: int = 0,
        bptt: str = "autograd",
        truncate: int | None = None,
        cuda_graph: bool = False,
        compile_steps: bool = False,
        cell_class: type[RecurrentCell] | None = None,
        **cell_kwargs: Any,
    ):
        """``bptt``: ``autograd`` (autograd runs back through the loop) or ``manual`` (the
        hand-derived backward of ``rnn_scratch.models.bptt``: same values and gradients, faster, first
        derivatives only). ``truncate``: the state is
        detached every ``truncate`` steps, so the gradient flows back at most that far (None: full
        BPTT); the same chunks in both modes, see ``rnn_scratch.models.bptt``. ``cuda_graph``: with
        ``bptt='manual'`` on a GPU, replay the recurrence as CUDA graphs
        (``rnn_scratch.models.bptt.graphed``). ``compile_steps``: with ``bptt='manual'`` and a cell
        that offers it (LSTM, GRU), each step's elementwise work runs as one kernel compiled by
        inductor (``rnn_scratch.models.bptt.fused``); eager, with one printed line, if compiling
        fails. ``cell_class``: the cell to unroll (default: the
        subclass's, e.g. ``RNNCell`` for ``RNN``); its other keyword arguments go to the cell (to each
        layer's). ``num_layers``: layers stacked, as torch.nn's; ``dropout``: the probability of zeroing
        a unit of each layer's output but the top one's while training (torch.nn's ``dropout``), drawn
        from a generator of its own seeded ``dropout_seed``."""
        super().__init__()
        if isinstance(num_layers, bool) or not isinstance(num_layers, int) or num_layers < 1:
            raise ValueError(f"num_layers must be an int >= 1, got {num_layers!r}")
        if bptt not in BPTT_MODES:
            raise ValueError(f"bptt must be one of {', '.join(BPTT_MODES)}, got {bptt!r}")
        if truncate is not None and (
            isinstance(truncate, bool) or not isinstance(truncate, int) or truncate < 1
        ):
            raise ValueError(f"truncate must be an int >= 1 or None, got {truncate!r}")
        if cuda_graph and bptt != "manual":
            raise ValueError("cuda_graph=True replays the hand-derived recurrence: it needs bptt='manual'")
        self.bptt, self.truncate, self.cuda_graph = bptt, truncate, cuda_graph
        self._graphs: dict[tuple, Callable[..., object]] = {}  # type: ignore[type-arg]
        cls = cell_class or self.cell_class
        if compile_steps and (bptt != "manual" or not hasattr(cls, "compile_steps")):
            raise ValueError("compile_steps=True needs bptt='manual' and an LSTM or GRU cell")
        self.num_layers, self.dropout = num_layers, LayerDropout(dropout, dropout_seed)
        # Stacked, each layer is a one-layer Recurrent (not a submodule: the stack registers its
        # parameters under torch's stacked names); a single layer is its own only layer.
        layers: list[Recurrent] = [self]
        if num_layers > 1:
            layers = [
                Recurrent(
                    input_size if i == 0 else hidden_size, hidden_size, 1, bias, bptt=bptt,
                    truncate=truncate, cuda_graph=cuda_graph, compile_steps=compile_steps,
                    cell_class=cls, **cell_kwargs,
                )
                for i in range(num_layers)
            ]  # fmt: skip
        else:
            cell = cls(input_size, hidden_size, bias, **cell_kwargs)
            if compile_steps:
                cell.compile_steps = True  # type: ignore[assignment]  # a flag the recurrence reads
            self.__dict__["_cell"] = cell
        self.__dict__["layers"] = tuple(layers)
        # The cells are not submodules: their parameters are registered on the layer under the cell's
        # own names (stacked: with torch's suffix _l<i>), so the state_dict reads like torch's.
        for i, layer in enumerate(layers):
            for name, param in layer.cell.named_parameters():
                self.register_parameter(name + layer_suffix(i, num_layers), param)
        self.input_size, self.hidden_size, self.bias = input_size, hidden_size, bias
        self.record_state_grads = False
        self._norms: dict[str, Tensor] = {}

    @property
    def cell(self) -> RecurrentCell:
        """The cell of a single layer (stacked: each layer's own, ``cells``)."""
        if self.num_layers > 1:
            raise AttributeError(f"a {self.num_layers}-layer stack has a cell per layer: use .cells[i]")
        return cast(RecurrentCell, self.__dict__["_cell"])

    @property
    def cells(self) -> tuple[RecurrentCell, ...]:
        """Every layer's cell, bottom (layer 0, reading the input) to top (read out)."""
        return tuple(layer.cell for layer in self.layers)

    def project_(self) -> None:
        """Every layer's cell back into its constraint (``RecurrentCell.project_``), in place."""
        for cell in self.cells:
            cell.project_()

    @property
    def state_grad_norms(self) -> dict[str, Tensor]:
        """``||dL/ds_t||`` per state part, filled by backward: (T,) for one layer; stacked, (L, T)
        with row l for layer l (rows of the layers' own, gathered when read, after backward)."""
        if self.num_layers == 1:
            return self._norms
        return stack_norms([layer.state_grad_norms for layer in self.layers])

    layers: tuple[Recurrent, ...]
    # registered in __init__ from the cell, under the cell's names:
    weight_ih: nn.Parameter
    weight_hh: nn.Parameter
    bias_ih: nn.Parameter | None
    bias_hh: nn.Parameter | None

    def _apply(self, fn, recurse=True):  # type: ignore[no-untyped-def]
        # .to(), .double(), .cuda() may replace parameters; keep the cell looking at the layer's.
        super()._apply(fn, recurse)
        for i, layer in enumerate(self.layers):
            for name, _ in layer.cell.named_parameters():
                param = getattr(self, name + layer_suffix(i, self.num_layers))
                setattr(layer.cell, name, param)
                if layer is not self:
                    setattr(layer, name, param)
        return self

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):  # type: ignore[no-untyped-def]
        check_depth(state_dict, prefix, self.num_layers)  # one line naming both depths, not torch's list
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def forward(
        self, x: Tensor, state: State | None = None, mask: Tensor | None = None
    ) -> tuple[Tensor, State]:
        """x: (T, B, I) -> (output (T, B, H), final state). ``mask``: see ``forward_projected``."""
        return self.forward_projected(self.cells[0].input_projection(x), state, mask)

    def forward_indices(
        self, idx: Tensor, state: State | None = None, mask: Tensor | None = None
    ) -> tuple[Tensor, State]:
        """Like ``forward(one_hot(idx))`` without building the one-hot. idx: (T, B) integers < I.

        ``one_hot(idx) @ W_ih^T`` selects column ``idx`` of ``W_ih``, so the input projection of a
        character is a gather: ``u_t = W_ih[:, idx_t] + b_ih``.
        """
        cell = self.cells[0]
        u = cell.weight_ih.t()[idx]
        if cell.bias_ih is not None:
            u = u + cell.bias_ih
        return self.forward_projected(u, state, mask)

    def forward_projected(
        self, u: Tensor, state: State | None = None, mask: Tensor | None = None
    ) -> tuple[Tensor, State]:
        """The loop over time. u: (T, B, G*H) projected inputs -> (output (T, B, H), final state).

        With ``bptt='manual'`` the loop is the cell's Function in ``rnn_scratch.models.bptt``, whose
        backward is derived by hand; otherwise autograd records the loop below and runs back through it.

        ``mask: (T, B)`` bool, for right-padded batches of different lengths: where it is False the
        state is carried over unchanged (``s_t = s_{t-1}``), so the final state is each sequence's
        state after its last real step, and padding changes neither outputs nor gradients.

        Stacked, ``u`` is the bottom layer's projection and ``state`` torch.nn's ``(L, B, H)`` parts; each
        layer above projects the (dropped-out) output of the one below; mask and truncation apply to
        every layer alike.
        """
        if self.num_layers > 1:
            return self._forward_stack(u, state, mask)
        steps, batch = u.shape[:2]
        if state is None:
            state = self.cell.initial_state(batch, u)
        record = self.record_state_grads and torch.is_grad_enabled()
        if record:
            self._norms = {
                # zero until backward reaches step t: a step no gradient reaches has gradient 0
                # float64: a vanished gradient of 1e-30 is a number to plot, not an underflowed 0
                k: u.new_zeros(steps, dtype=torch.float64)
                for k in self.cell.state_parts(state)
            }
        if self.bptt == "manual":
            return self._forward_manual(u, state, mask, record)
        outputs = []
        for t in range(steps):
            if is_chunk_start(t, self.truncate):  # truncated BPTT: no gradient back across here
                state = detach_state(state)
            new = self.cell.step(u[t], state)
            state = new if mask is None else carry_over(mask[t], new, state)
            if record:
                self._record_grad_norms(t, state)
            outputs.append(self.cell.hidden(state))
        return torch.stack(outputs), state

    def _forward_stack(self, u: Tensor, state: State | None, mask: Tensor | None) -> tuple[Tensor, State]:
        """The layers one after the other, each over the whole sequence (``rnn_scratch.models.stack``)."""
        finals: list[State] = []
        hs = u
        for i, (layer, s) in enumerate(zip(self.layers, split_state(state, self.num_layers), strict=True)):
            # settings changed on the stack after construction (a probe, the benchmark) hold for each layer
            layer.record_state_grads, layer.truncate = self.record_state_grads, self.truncate
            layer.bptt, layer.cuda_graph = self.bptt, self.cuda_graph
            if i > 0:
                u = layer.cell.input_projection(self.dropout(hs, self.training))
            hs, final = layer.forward_projected(u, s, mask)
            finals.append(final)
        return hs, join_states(finals)

    def _forward_manual(
        self, u: Tensor, state: State, mask: Tensor | None, record: bool
    ) -> tuple[Tensor, State]:
        """The recurrence as the cell's autograd Function, whose backward is derived by hand.

        Its backward computes every ``dL/dh_t`` (and ``dL/dc_t``) anyway and writes their norms
        straight into ``state_grad_norms`` when recording.
        """
        cell = self.cell
        if self.cuda_graph and mask is None and not record and torch.is_grad_enabled():
            return self._forward_graphed(u, state)
        norms = self._norms if record else None
        return cell.recurrence(u, state, cell.weight_hh, cell.bias_hh, self.truncate, mask, norms)

    def _forward_graphed(self, u: Tensor, state: State) -> tuple[Tensor, State]:
        """The manual recurrence as CUDA graphs, one per input signature, recorded on first use.

        A graph takes and returns flat tuples of tensors: ``(u, *state parts, W_hh[, b_hh])`` in,
        ``(hs, *final state parts but h)`` out (the final ``h`` is ``hs[-1]``, not a second output)."""
        cell, k = self.cell, self.truncate
        parts = (state,) if isinstance(state, Tensor) else state
        n = len(parts)
        args = (u, *parts, cell.weight_hh, *([] if cell.bias_hh is None else [cell.bias_hh]))
        key = graph_key(*args)
        if key not in self._graphs:
            has_b = cell.bias_hh is not None

            def run(u: Tensor, *rest: Tensor) -> tuple[Tensor, ...]:
                s = rest[0] if n == 1 else tuple(rest[:n])
                hs, final = cell.recurrence(u, s, rest[n], rest[n + 1] if has_b else None, k)
                return (hs, *(() if isinstance(final, Tensor) else final[1:]))

            self._graphs[key] = graph_recurrence(run, args)
        out = cast(Tensor | tuple[Tensor, ...], self._graphs[key](*args))
        hs, rest = (out[0], out[1:]) if isinstance(out, tuple) else (out, ())
        return hs, (hs[-1] if n == 1 else (hs[-1], *rest))

    def _record_grad_norms(self, t: int, state: State) -> None:
        """Hook each state tensor of step t: when backward reaches it, store ``||dL/ds_t||``."""
        for key, s in self.cell.state_parts(state).items():
            if s.requires_grad:
                norms = self.state_grad_norms[key]
                s.register_hook(lambda g, norms=norms, t=t: norms.__setitem__(t, float64_norm(g)))

    def extra_repr(self) -> str:
        extra = "" if self.bptt == "autograd" else f", bptt={self.bptt!r}"
        if self.truncate is not None:
            extra += f", truncate={self.truncate}"
        layers = "" if self.num_layers == 1 else f", num_layers={self.num_layers}"
        if self.dropout.p:
            extra += f", dropout={self.dropout.p}"
        return f"{self.input_size}, {self.hidden_size}{layers}, bias={self.bias}{extra}"


class RNN(Recurrent):
    """Vanilla (Elman) RNN layer, equal in value to ``torch.nn.RNN(I, H, nonlinearity=...)``; takes
    ``nonlinearity="tanh"`` (default) or ``"relu"``."""

    cell_class = RNNCell


class LSTM(Recurrent):
    """LSTM layer, equal in value to ``torch.nn.LSTM(I, H)``; also takes ``forget_bias``, ``gate_init``
    and ``chrono_tmax`` (``rnn_scratch.models.base.GatedCell``)."""

    cell_class = LSTMCell


class GRU(Recurrent):
    """GRU layer, equal in value to ``torch.nn.GRU(I, H)``; also takes ``forget_bias`` (the update
    gate's), ``gate_init`` and ``chrono_tmax`` (``rnn_scratch.models.base.GatedCell``)."""

    cell_class = GRUCell
