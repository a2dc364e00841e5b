"""The sequence model: input projection, recurrent core, read-out at the final time step.

For a batch of character indices ``x: (B, T)``::

    u_t    = W_ih[:, x_t] + b_ih            the column gather, equal to one_hot(x_t) @ W_ih^T + b_ih
    h_t    = cell(u_t, h_{t-1})             t = 1..T, unrolled by the core (rnn_scratch.models.layers)
    logits = W_out h_T + b_out              (B, n_outputs): one prediction per sequence
                                            (every_step: W_out h_t + b_out for all t)

When only the last step is supervised (every shipped task), everything the model learns about early
characters reaches them through the recurrence: the gradient of the loss w.r.t. h_t for t < T flows
back through W_hh step by step. Real-valued inputs ``x: (B, T, I)`` take the matmul path ``x_t W_ih^T + b_ih``
instead. Variable-length batches are right-padded with ``lengths``: the core carries each row's
state unchanged through its padding, so the read-out at step T sees the state after its last real step.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor, nn

from rnn_scratch.models.baselines import TorchRecurrentBaseline
from rnn_scratch.models.config import ModelConfig
from rnn_scratch.models.layers import Recurrent
from rnn_scratch.models.registry import cell_class, is_baseline, model_cell


class CharClassifier(nn.Module):
    """A recurrent core with a linear read-out of its final hidden state.

    ``forward(x, lengths=None) -> (out (B, n_outputs), hidden (T, B, H))``; ``hidden`` is every
    step's state, returned so instruments can look at it without a second pass.
    """

    def __init__(self, core: Recurrent | TorchRecurrentBaseline, n_outputs: int) -> None:
        super().__init__()
        self.core: Recurrent | TorchRecurrentBaseline = core
        hidden_size = core.hidden_size
        bound = 1.0 / math.sqrt(hidden_size)  # torch's default for a linear layer
        self.weight_out = nn.Parameter(torch.empty(n_outputs, hidden_size).uniform_(-bound, bound))
        self.bias_out = nn.Parameter(torch.empty(n_outputs).uniform_(-bound, bound))

    def forward(
        self, x: Tensor, lengths: Tensor | None = None, every_step: bool = False
    ) -> tuple[Tensor, Tensor]:
        """x: (B, T) indices or (B, T, I) values; lengths: (B,) real lengths, or None for all T.

        ``every_step``: read out every step, ``out = hidden @ W_out^T + b_out`` of shape (B, T, n_outputs)
        (a task supervising several steps), instead of the final step's (B, n_outputs). The gradient
        of a loss on it reaches every h_t directly, which the core's backward (autograd or by hand) adds
        to the gradient flowing back through the recurrence.
        """
        xt = x.transpose(0, 1)  # time-major, as the core wants
        mask = None
        if lengths is not None:  # right padding: step t is real for rows with t < length
            mask = torch.arange(x.shape[1], device=x.device)[:, None] < lengths[None, :]
        if x.is_floating_point():
            hidden, state = self.core(xt, mask=mask)
        else:
            hidden, state = self.core.forward_indices(xt, mask=mask)
        if every_step:
            return (hidden @ self.weight_out.t() + self.bias_out).transpose(0, 1), hidden
        last = state[0] if isinstance(state, tuple) else state  # h after each row's last real step
        if last.dim() == 3:  # stacked (L, B, H): the read-out reads the top layer
            last = last[-1]
        return last @ self.weight_out.t() + self.bias_out, hidden


def cell_options(cfg: ModelConfig, seq_len: int | None = None) -> dict[str, Any]:
    """The cell's keyword arguments from the config, as the cell declares them (``options``): e.g.
    ``nonlinearity`` (rnn), the keep gate's bias (lstm, gru; ``forget_bias`` null is the cell's default,
    ``chrono_tmax`` null is ``seq_len``, the run's longest dependency)."""
    return cell_class(cfg.name).options(cfg, seq_len)


DROPOUT_SEED_OFFSET = 2_000_003
"""The dropout stream's seed is the run's seed plus this: disjoint from the data streams' (training:
``seed``, eval: ``seed + 1_000_003``, ``rnn_scratch.training.setup``)."""


def build_model(
    cfg: ModelConfig,
    input_size: int,
    hidden_size: int,
    n_outputs: int,
    seq_len: int | None = None,
    seed: int = 0,
) -> CharClassifier:
    """The classifier with the core ``cfg.name``: a registered cell (``rnn_scratch.models.registry``)
    unrolled by ``Recurrent``, or a ``torch_<cell>`` baseline; ``cfg.num_layers`` of them stacked.

    ``seq_len``: the run's sequence length, chrono initialisation's ``T_max`` when
    ``cfg.chrono_tmax`` is null. ``seed``: the run's, from which the dropout between layers draws
    (``seed + DROPOUT_SEED_OFFSET``)."""
    core: Recurrent | TorchRecurrentBaseline
    if is_baseline(cfg.name):
        cell = model_cell(cfg.name)
        extra_torch = {"nonlinearity": cfg.nonlinearity} if len(cell.nonlinearities) > 1 else {}
        core = TorchRecurrentBaseline(
            cell.name, input_size, hidden_size, cfg.bias, num_layers=cfg.num_layers, dropout=cfg.dropout,
            **extra_torch,
        )  # fmt: skip
    else:
        cell = cell_class(cfg.name)
        core = Recurrent(
            input_size, hidden_size, cfg.num_layers, cfg.bias, dropout=cfg.dropout,
            dropout_seed=seed + DROPOUT_SEED_OFFSET, bptt=cfg.bptt, truncate=cfg.truncate,
            cuda_graph=cfg.cuda_graph, compile_steps=cfg.compile_steps, cell_class=cell,
            **cell.options(cfg, seq_len),
        )  # fmt: skip
        for i, layer_cell in enumerate(core.cells):
            layer_cell.init_recurrent(cfg.init, cfg.init_gain, top=i == len(core.cells) - 1)
    return CharClassifier(core, n_outputs)
