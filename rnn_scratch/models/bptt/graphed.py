"""The hand-derived recurrences replayed as CUDA graphs: one launch per pass instead of one per op.

On a GPU the hand-written loop launches several small kernels per step, and at the default size
the launches, not the arithmetic, take the time. ``torch.cuda.make_graphed_callables`` records
the forward and the backward pass of a recurrence (``rnn_scratch.models.bptt``) once, for fixed shapes,
and replays each as a single CUDA graph. The graph runs the very kernels of the eager pass, so its
values and gradients equal the eager ones.

Limits: CUDA tensors only; fixed shapes (a graph per (T, B, dtype), recorded on first use);
no mask and no gradient-norm recording (those calls run eagerly); first derivatives only.
Unmeasured: written and tested on a CPU-only machine, where it refuses clearly.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor


def graph_recurrence(fn: Callable[..., object], args: tuple[Tensor, ...]) -> Callable[..., object]:
    """``fn(*args)`` recorded as CUDA graphs (forward and backward) for args shaped like ``args``.

    ``args`` are sample inputs: their shapes, dtypes and ``requires_grad`` flags fix the graph's.
    ValueError if any is not on a CUDA device.
    """
    if not all(a.is_cuda for a in args):
        raise ValueError("cuda_graph=True needs CUDA tensors (device=cuda); this input is on the CPU")
    samples = tuple(a.detach().clone().requires_grad_(a.requires_grad) for a in args)
    return torch.cuda.make_graphed_callables(fn, samples)  # type: ignore[no-any-return]


def graph_key(*args: Tensor | None) -> tuple:  # type: ignore[type-arg]
    """What a recorded graph is specific to: each argument's shape, dtype, device and grad flag."""
    return tuple(
        None if a is None else (tuple(a.shape), a.dtype, str(a.device), a.requires_grad) for a in args
    )
