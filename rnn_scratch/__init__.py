"""rnn-scratch: recurrent networks written by hand, trained by BPTT, instrumented."""

from rnn_scratch.cells import GRUCell, LSTMCell, RNNCell
from rnn_scratch.layers import GRU, LSTM, RNN

__all__ = ["GRU", "GRUCell", "LSTM", "LSTMCell", "RNN", "RNNCell"]
