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
    num_layers: int = 1  # layers stacked, as torch.nn's num_layers; the read-out reads the top one
    dropout: float = 0.0  # between stacked layers while training, as torch.nn's (0: none)
    init: str = "default"  # W_hh: default (torch's uniform) | orthogonal | identity (W_hh = I)
    init_gain: float = 1.0
    bias: bool = True
    nonlinearity: str = "tanh"  # rnn, torch_rnn: tanh | relu (relu + init=identity: the IRNN)
    # LSTM and GRU: the keep gate's initial bias (LSTM f; GRU z, as h' = (1 - z) n + z h)
    gate_init: str = "constant"  # constant: forget_bias | chrono: log U(1, T_max - 1) (Tallec & Ollivier)
    # constant: initial b_if + b_hf (LSTM) or b_iz + b_hz (GRU); null: LSTM 1.0, GRU torch's init
    forget_bias: float | None = None
    chrono_tmax: float | None = None  # chrono's T_max; null: the run's seq_len
    # IndRNN: after each optimiser step, project the recurrent weights into their bound |w| <= 2^(1/T)
    # (Li et al.'s code clips the parameter itself); off: only the forward pass clamps, and a weight
    # pushed past the bound stays there, its gradient zero
    project_recurrent: bool = False
    bptt: str = "manual"  # manual (hand-derived backward, models/bptt/) | autograd; torch_*: ignored
    truncate: int | None = None  # truncated BPTT: gradient flows back at most this many steps
    cuda_graph: bool = False  # replay the manual recurrence as CUDA graphs (device=cuda, bptt=manual)
    compile_steps: bool = False  # lstm, gru, bptt=manual: each step's elementwise work one compiled kernel
