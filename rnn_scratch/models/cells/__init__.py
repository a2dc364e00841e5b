"""Recurrent cells written by hand: one time step each, built from ``nn.Parameter`` and tensor ops only.

One module per cell, each registering its class (``rnn_scratch.models.registry``): ``rnn`` (Elman, tanh
or ReLU; the IRNN), ``lstm``, ``gru``, ``indrnn``. This package imports every module in its folder, so
a cell is added by adding its file.

Each cell mirrors its ``torch.nn`` counterpart where one exists (constructor, parameter names and
shapes, gate order, forward semantics), so weights copy across and parity tests are one line. A cell
separates the two halves of a step, because only the second half is truly recurrent:

* ``input_projection(x)``: ``u = x W_ih^T + b_ih``. It does not depend on the state, so a layer
  computes it for all time steps at once, in one matmul, before the loop over time.
* ``step(u_t, state)``: the recurrent update from the projected input ``u_t`` and the previous
  state.

``cell(x, state) == cell.step(cell.input_projection(x), state)``.
"""

from __future__ import annotations

import importlib
import pkgutil

from rnn_scratch.models.base import GATE_INITS, INITS, NONLINEARITIES, RecurrentCell, State
from rnn_scratch.models.cells.gru import GRUCell
from rnn_scratch.models.cells.lstm import LSTMCell
from rnn_scratch.models.cells.rnn import RNNCell
from rnn_scratch.models.gated import GatedCell, chrono_bias

for _module in pkgutil.iter_modules(__path__):  # every other cell of this folder registers itself
    importlib.import_module(f"{__name__}.{_module.name}")

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
