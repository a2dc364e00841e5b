"""rnn-scratch: recurrent networks written by hand, trained by BPTT, instrumented.

The package is layered from the bottom up; a package imports only packages below it (checked by the
import-linter contract in ``pyproject.toml``, with no cycles)::

    study, benchmark     read finished runs into the study's pages; time the code against torch.nn
    training             config and validation, the loop, monitor and TensorBoard, checkpoints, results
    analysis, tasks      pure functions on a core's dynamics; where sequences and targets come from
    models               cells, layers over time, hand-derived BPTT, the classifier, torch.nn baselines
    errors               ``ConfigError``, raised at every layer

The public names, the hand-written cells and layers, are re-exported here.
"""

from rnn_scratch.models.cells import GRUCell, LSTMCell, RNNCell
from rnn_scratch.models.layers import GRU, LSTM, RNN

__all__ = ["GRU", "GRUCell", "LSTM", "LSTMCell", "RNN", "RNNCell"]
