"""rnn-scratch: recurrent networks written by hand, trained by BPTT, instrumented."""

from rnn_scratch.cells import RNNCell
from rnn_scratch.layers import RNN

__all__ = ["RNN", "RNNCell"]
