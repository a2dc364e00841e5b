"""The model's settings as a plain dataclass: which core, how it is initialised and differentiated.

It belongs to the model package (``build_model`` reads it); the training harness's schema
(``rnn_scratch.training.config``) uses it as the ``model`` group, so Hydra validates it too.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class ModelConfig:
    """The recurrent core (``name``) and how it is initialised and differentiated."""

    name: str = "rnn"
    init: str = "default"  # W_hh: default (torch's uniform) | orthogonal | identity (IRNN)
    init_gain: float = 1.0
    bias: bool = True
    forget_bias: float = 1.0  # LSTM only: initial b_if + b_hf
    bptt: str = "manual"  # manual (hand-derived backward, models/bptt/) | autograd; torch_*: ignored
    truncate: int | None = None  # truncated BPTT: gradient flows back at most this many steps
    cuda_graph: bool = False  # replay the manual recurrence as CUDA graphs (device=cuda, bptt=manual)
