"""What stacking recurrent layers adds to one layer: the state's layout across depth, the dropout between.

``torch.nn.RNN/LSTM/GRU(num_layers=L)`` feed each layer's hidden sequence to the next. For layer
l = 0..L-1 and step t::

    u_t^l = W_ih^l x_t + b_ih^l                      l = 0: the input
    u_t^l = W_ih^l d^l(h_t^{l-1}) + b_ih^l           l > 0: the layer below's output, through dropout d^l
    s_t^l = cell^l.step(u_t^l, s_{t-1}^l)

and the output is the top layer's ``h_t^{L-1}``. Dropout (``d^l``: zero each unit with probability p,
scale the rest by 1/(1-p); the identity when ``p = 0`` or in eval mode) acts between layers only, never
on the top layer's output, as in torch.nn.

The state across depth is torch.nn's: ``(L, B, H)``, or a tuple of such parts (``(h, c)`` for the LSTM),
row l being layer l's state. Backpropagation through depth is the chain rule through ``u^l``:
``dL/dh_t^{l-1} += d^l'(...) (dL/du_t^l) W_ih^l`` (autograd, one matmul per layer), added to what the
read-out gives; within a layer the gradient goes back in time by the layer's own backward (autograd
or the cell's hand-derived Function), so any cell with a hand-derived backward is stacked for free.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import Tensor

from rnn_scratch.models.base import State


def layer_suffix(layer: int, num_layers: int) -> str:
    """The suffix of layer ``layer``'s parameter names: ``""`` for a single layer (the cell's own names,
    ``weight_ih``), ``_l<layer>`` in a stack (torch.nn's ``weight_ih_l0``, ``weight_ih_l1``, ...)."""
    return "" if num_layers == 1 else f"_l{layer}"


def saved_depth(state_dict: Mapping[str, Tensor], prefix: str) -> int | None:
    """How many layers the weights under ``prefix`` in a state_dict have: 1 for the cell's own names
    (``weight_ih``), L for torch's ``weight_ih_l0 .. weight_ih_l<L-1>``; None when it holds neither."""
    if f"{prefix}weight_ih" in state_dict:
        return 1
    layers = [
        k.removeprefix(f"{prefix}weight_ih_l") for k in state_dict if k.startswith(f"{prefix}weight_ih_l")
    ]
    return max(int(i) for i in layers if i.isdigit()) + 1 if layers else None


def check_depth(state_dict: Mapping[str, Tensor], prefix: str, num_layers: int) -> None:
    """ValueError, one line naming both depths, if the weights under ``prefix`` have another depth."""
    saved = saved_depth(state_dict, prefix)
    if saved is not None and saved != num_layers:
        raise ValueError(
            f"the saved weights are {saved}-layer (model.num_layers={saved}), this model is "
            f"{num_layers}-layer (model.num_layers={num_layers}): they cannot load"
        )


def stack_norms(per_layer: list[dict[str, Tensor]]) -> dict[str, Tensor]:
    """Each layer's ``{part: (T,)}`` gradient norms -> ``{part: (L, T)}``; {} if a layer has none."""
    if not all(per_layer):
        return {}
    return {k: torch.stack([norms[k] for norms in per_layer]) for k in per_layer[0]}


def split_state(state: State | None, num_layers: int) -> list[State | None]:
    """torch.nn's stacked state -> one state per layer. (L, B, H) parts -> L states of (B, H) parts."""
    if state is None:
        return [None] * num_layers
    parts = (state,) if isinstance(state, Tensor) else state
    for part in parts:
        if part.dim() != 3 or part.shape[0] != num_layers:
            raise ValueError(
                f"a {num_layers}-layer state has parts of shape (num_layers={num_layers}, B, H), "
                f"got {tuple(part.shape)}"
            )
    if isinstance(state, Tensor):
        return list(state.unbind(0))
    return [tuple(p[layer] for p in parts) for layer in range(num_layers)]


def join_states(states: list[State]) -> State:
    """One state per layer -> torch.nn's stacked state: each part (L, B, H)."""
    first = states[0]
    if isinstance(first, Tensor):
        return torch.stack([s for s in states if isinstance(s, Tensor)])
    return tuple(torch.stack([s[i] for s in states if isinstance(s, tuple)]) for i in range(len(first)))


class LayerDropout:
    """Dropout between layers with its own generator (seeded ``seed``), so drawing its masks leaves
    torch's global stream, the model's initialisation and the data alone."""

    def __init__(self, p: float, seed: int) -> None:
        if not 0.0 <= p < 1.0 or isinstance(p, bool):
            raise ValueError(f"dropout must be a probability in [0, 1), got {p!r}")
        self.p, self.seed = float(p), seed
        self.generator: torch.Generator | None = None

    def __call__(self, h: Tensor, training: bool) -> Tensor:
        """h: (T, B, H) -> h * keep / (1 - p), keep ~ Bernoulli(1 - p) per entry; h itself when off."""
        if self.p == 0.0 or not training:
            return h
        if self.generator is None or self.generator.device != h.device:
            self.generator = torch.Generator(h.device).manual_seed(self.seed)
        keep = torch.rand(h.shape, generator=self.generator, device=h.device, dtype=h.dtype) >= self.p
        return h * keep / (1.0 - self.p)

    def get_state(self) -> Tensor | None:
        """The generator's state (for a checkpoint); None before the first draw."""
        return None if self.generator is None else self.generator.get_state()

    def set_state(self, state: Tensor | None, device: torch.device) -> None:
        """Continue the stream from a checkpoint's ``get_state``."""
        if state is not None:
            self.generator = torch.Generator(device)
            self.generator.set_state(state)
