"""Backpropagation through time derived by hand: one ``torch.autograd.Function`` per cell.

Each runs the recurrence over the whole sequence in its forward pass and the hand-derived
backward in its backward pass, with truncation, masks for padded batches, and the per-step norms
``||dL/dh_t||`` (and ``||dL/dc_t||``) written for free. The derivations are in the modules'
docstrings: ``tanh`` (vanilla RNN), ``lstm``, ``gru``.
"""

from rnn_scratch.models.bptt.common import BPTT_MODES, detach_state, is_chunk_start
from rnn_scratch.models.bptt.gru import GRURecurrence, gru_recurrence
from rnn_scratch.models.bptt.lstm import LSTMRecurrence, lstm_recurrence
from rnn_scratch.models.bptt.tanh import TanhRecurrence, tanh_recurrence

__all__ = [
    "BPTT_MODES",
    "GRURecurrence",
    "LSTMRecurrence",
    "TanhRecurrence",
    "detach_state",
    "gru_recurrence",
    "is_chunk_start",
    "lstm_recurrence",
    "tanh_recurrence",
]
