"""The model, the part a learner reads first: recurrent cells written by hand and what unrolls them.

* ``cells/``: one module per cell (RNN (tanh or ReLU), LSTM, GRU, IndRNN), one time step from
  ``nn.Parameter`` only, with torch's names; each declares what the rest of the code needs of it
* ``base``, ``gated``: what every cell shares (parameters, inits, the declarations), the keep gate's bias
* ``registry``: the one list of cells (``register_cell``, ``cell_class``, ``model_names``)
* ``layers``: a cell unrolled over time (``RNN``, ``LSTM``, ``GRU``, any registered cell), autograd or
  hand-derived BPTT
* ``bptt/``: the backward pass derived by hand, one ``autograd.Function`` per cell
* ``classifier``: input projection by gather, the core, a read-out at the final step; ``build_model``
* ``baselines``: ``torch.nn.RNN/LSTM/GRU`` behind the same interface, the reference
* ``config``: ``ModelConfig``, the model's settings

May import: ``rnn_scratch.errors`` only (and torch). Everything else in the package builds on this.
"""

from rnn_scratch.models.cells import GRUCell, LSTMCell, RNNCell
from rnn_scratch.models.classifier import CharClassifier, build_model
from rnn_scratch.models.config import ModelConfig
from rnn_scratch.models.layers import GRU, LSTM, RNN

__all__ = [
    "GRU",
    "LSTM",
    "RNN",
    "CharClassifier",
    "GRUCell",
    "LSTMCell",
    "ModelConfig",
    "RNNCell",
    "build_model",
]
