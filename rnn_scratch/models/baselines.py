"""The framework's own recurrent modules (``torch.nn.RNN/LSTM/GRU``, cuDNN on a GPU) as a baseline.

They stand behind the same interface as the hand-written layers, so the same classifier, tasks and
instruments run on both and differences are the implementation's alone. This is the only module of
the library that uses ``torch.nn``'s recurrent layers, and only as a reference.

What the baseline cannot give: ``||dL/dh_t||`` per step. torch.nn.RNN fuses the loop, so the
gradient w.r.t. its output holds only the direct part (from the read-out), never the total that flows
back through time; the profile is therefore reported as unavailable (NaN), never as zeros.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import cast

import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from rnn_scratch.models.base import State
from rnn_scratch.models.registry import cell_class


def torch_module(kind: str) -> Callable[..., nn.RNNBase]:
    """The ``torch.nn`` module a registered cell declares as its reference (``torch_reference``)."""
    name = cell_class(kind).torch_reference
    if name is None:
        raise ValueError(f"cell {kind!r} declares no torch.nn reference")
    return cast(Callable[..., nn.RNNBase], getattr(nn, name))


class TorchRecurrentBaseline(nn.Module):
    """The ``torch.nn`` reference of the cell ``kind`` (``torch.nn.RNN`` (tanh or relu) / ``LSTM`` /
    ``GRU``), time-major, with our layer interface. ``nonlinearity`` is the RNN's
    (``torch.nn.RNN(nonlinearity=...)``); the others take none. ``num_layers`` and ``dropout`` are
    torch's; one layer's state is (B, H) parts, a stack's torch's (L, B, H), as our layers'."""

    def __init__(
        self,
        kind: str,
        input_size: int,
        hidden_size: int,
        bias: bool = True,
        nonlinearity: str = "tanh",
        num_layers: int = 1,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        self.kind, self.input_size, self.hidden_size = kind, input_size, hidden_size
        self.num_layers = num_layers
        module = torch_module(kind)
        extra = {"nonlinearity": nonlinearity} if module is nn.RNN else {}
        self.rnn = module(input_size, hidden_size, num_layers, bias=bias, dropout=dropout, **extra)
        self.record_state_grads = False
        self.state_grad_norms: dict[str, Tensor] = {}  # unavailable: see the module docstring

    @property
    def weight_hh(self) -> Tensor:
        """W_hh, shaped as the hand-written layers' (G*H, H)."""
        return cast(Tensor, self.rnn.weight_hh_l0)

    def project_(self) -> None:
        """torch.nn's cells carry no constraint: nothing to project (``Recurrent.project_``)."""

    def forward(
        self, x: Tensor, state: State | None = None, mask: Tensor | None = None
    ) -> tuple[Tensor, State]:
        """x: (T, B, I) -> (output (T, B, H), final state (B, H) or ((B, H), (B, H))).

        ``mask`` (T, B) marks right-padded batches: torch runs them as a packed sequence, so the final
        state is each row's state after its last real step (the output is zero past it).
        """
        one = self.num_layers == 1  # a stack's state is torch's already: (L, B, H) parts
        if isinstance(state, tuple) and one:  # torch wants a leading layer dimension
            state = (state[0].unsqueeze(0), state[1].unsqueeze(0))
        elif isinstance(state, Tensor) and one:
            state = state.unsqueeze(0)
        if mask is None:
            out, final = self.rnn(x, state)
        else:
            lengths = mask.sum(dim=0).cpu()
            packed = pack_padded_sequence(x, lengths, enforce_sorted=False)
            packed_out, final = self.rnn(packed, state)
            out, _ = pad_packed_sequence(packed_out, total_length=x.shape[0])
        if not one:
            return out, final
        if isinstance(final, tuple):
            return out, (final[0][0], final[1][0])
        return out, final[0]

    def forward_indices(
        self, idx: Tensor, state: State | None = None, mask: Tensor | None = None
    ) -> tuple[Tensor, State]:
        """idx: (T, B) integers: fed to torch as one-hot vectors (torch has no gather path)."""
        return self(F.one_hot(idx, self.input_size).to(self.weight_hh.dtype), state, mask)
