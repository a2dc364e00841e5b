"""rnn-scratch: recurrent networks written by hand, trained by BPTT, instrumented.

The package is layered from the bottom up; a package imports only packages below it (checked by the
import-linter contract in ``pyproject.toml``, with no cycles)::

    study, benchmark     read finished runs into the study's pages; time the code against torch.nn
    training             config and validation, the loop, monitor and TensorBoard, checkpoints, results
    analysis, tasks      pure functions on a core's dynamics; where sequences and targets come from
    models               cells, layers over time, hand-derived BPTT, the classifier, torch.nn baselines
    errors               ``ConfigError``, raised at every layer

The public names, the hand-written cells and layers, are re-exported here, loaded on first use (PEP 562):
``import rnn_scratch`` alone does not import torch, so ``scripts/train.py --help`` answers at once.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rnn_scratch.models.cells import GRUCell, LSTMCell, RNNCell
    from rnn_scratch.models.layers import GRU, LSTM, RNN

__all__ = ["GRU", "GRUCell", "LSTM", "LSTMCell", "RNN", "RNNCell"]
_HOME = {"GRUCell": "models.cells", "LSTMCell": "models.cells", "RNNCell": "models.cells",
         "GRU": "models.layers", "LSTM": "models.layers", "RNN": "models.layers"}  # fmt: skip


def __getattr__(name: str) -> Any:
    """``rnn_scratch.LSTM`` and the other public names, imported when first asked for."""
    if name not in _HOME:
        raise AttributeError(f"module 'rnn_scratch' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"rnn_scratch.{_HOME[name]}"), name)
    globals()[name] = value  # later lookups find it directly
    return value
