"""Optional compiled step kernels for the LSTM's and GRU's hand-derived BPTT (``compile_steps``, off).

Each function here is the elementwise part of one step, forward or backward, between two matmuls:
the expressions of ``rnn_scratch.models.bptt.lstm`` and ``.gru`` (the g and n blocks doubled, tanh as
``2 sigma(2a) - 1``), written into the caller's (B, k H) rows of its per-sequence buffers. Compiled,
each becomes one fused C++ kernel (inductor on the CPU) where eager mode runs 5 to 16 small ops, each
paying the dispatcher's few microseconds. They are compiled straight from their FX graph by inductor
(``torch._inductor.compile_fx.compile_fx``, a private API): a ``torch.compile``d function pays dynamo's
frame evaluation and guards, about 20 us a call, as much as the step's work. Compiled once per
(function, shapes, dtype, device); that key is the only guard and the size asserts are off, so callers
pass contiguous rows of the shapes compiled for. Only unmasked passes with grad use them; a failed
compile prints one line and the recurrences run eager (docs/models.md, "Compiled steps", has the
measurements).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import cast

import torch
import torch.fx
from torch import Tensor

_CACHE: dict[tuple, Callable[..., object] | None] = {}
_FAILED: list[str] = []


def lstm_forward_step(
    a: Tensor, c: Tensor, h_out: Tensor, c_out: Tensor, p_out: Tensor, hp_out: Tensor, f_out: Tensor
) -> tuple[()]:
    """a: (B, 4H) pre-activations, g block doubled; c: (B, H), 2 c_{t-1}. Writes h_t, 2 c_t, the
    backward's factors (B, 4H), ``o_t (1 - tanh(c_t)^2)`` and f_t into the ``*_out`` (see lstm.py)."""
    s = torch.sigmoid(a)
    i, f, g2, o = torch.chunk(s, 4, 1)
    g = 2.0 * g2 - 1.0  # tanh(a^g) = 2 sigma(2 a^g) - 1
    c_new = f * c + 2.0 * (i * g)
    tc = 2.0 * torch.sigmoid(c_new) - 1.0
    h = o * tc
    p_f = 0.5 * c * (f * (1.0 - f))  # c_{t-1} = (2 c_{t-1}) / 2
    p_out.copy_(torch.cat([i * (1.0 - i) * g, p_f, (g + 1.0) * (1.0 - g) * i, o * (1.0 - o) * tc], 1))
    h_out.copy_(h)
    c_out.copy_(c_new)
    hp_out.copy_(o - h * tc)
    f_out.copy_(f)
    return ()


def lstm_backward_step(
    gh: Tensor, carry: Tensor, h_path: Tensor, factors: Tensor, f: Tensor, gc_out: Tensor, d_out: Tensor
) -> tuple[()]:
    """gh, carry, h_path, f: (B, H), factors: (B, 4H). Writes gc_t, delta_t (B, 4H) and, into
    carry, ``gc_t f_t``."""
    hidden = gh.shape[1]
    gc = carry + gh * h_path
    ifg = factors[:, : 3 * hidden].view(-1, 3, hidden) * gc[:, None]
    d_out.copy_(torch.cat([ifg.view(-1, 3 * hidden), gh * factors[:, 3 * hidden :]], 1))
    gc_out.copy_(gc)
    carry.copy_(gc * f)
    return ()


def gru_forward_step(
    u: Tensor, rec: Tensor, h: Tensor, h_out: Tensor, q_out: Tensor, pn_out: Tensor, z_out: Tensor
) -> tuple[()]:
    """u, rec: (B, 3H), n blocks doubled; h: (B, H). Writes h_t, Q_t (B, 3H), p_n and z_t (see gru.py)."""
    hidden = h.shape[1]
    rz = torch.sigmoid(u[:, : 2 * hidden] + rec[:, : 2 * hidden])
    r, z = rz[:, :hidden], rz[:, hidden:]
    rec_n = rec[:, 2 * hidden :]
    n = 2.0 * torch.sigmoid(u[:, 2 * hidden :] + r * rec_n) - 1.0
    one_z = 1.0 - z
    pn = (1.0 - n * n) * one_z
    q_r = (r - r * r) * (0.5 * rec_n) * pn  # 0.5: the n block of rec was doubled
    q_out.copy_(torch.cat([q_r, (h - n) * z * one_z, pn * r], 1))
    h_out.copy_(torch.lerp(n, h, z))
    pn_out.copy_(pn)
    z_out.copy_(z)
    return ()


def gru_backward_step(gh: Tensor, q: Tensor, z: Tensor, gh_prev: Tensor, e_out: Tensor) -> tuple[()]:
    """gh, z, gh_prev: (B, H), q: (B, 3, H). Writes e_t = gh_t Q_t into e_out and adds gh_t z_t to gh_prev."""
    e_out.copy_(gh[:, None] * q)
    gh_prev.copy_(gh_prev + gh * z)
    return ()


def compiled(fn: Callable[..., tuple[()]], *example: Tensor) -> Callable[..., object] | None:
    """``fn`` compiled by inductor for ``example``'s shapes, dtype and device, or None (said once)."""
    key = (fn.__name__, example[0].dtype, example[0].device, *(tuple(x.shape) for x in example))
    if key in _CACHE:
        return _CACHE[key]
    try:
        from torch._inductor.compile_fx import compile_fx

        t0 = time.perf_counter()
        # No size asserts: the key above is the guard, and callers pass contiguous rows of buffers
        # they allocated; the asserts cost a few us a call.
        with torch.no_grad(), torch._inductor.config.patch(size_asserts=False):
            graph = torch.fx.symbolic_trace(fn)
            kernel = cast(Callable[..., object], compile_fx(graph, list(example)))
            kernel(*(x.clone() for x in example))
        compile_seconds[key] = time.perf_counter() - t0
    except Exception as err:  # noqa: BLE001 - any compiler failure: run eager, say so once
        if not _FAILED:
            first = str(err).strip().splitlines()[0][:160] if str(err).strip() else ""
            print(f"compile_steps: compilation failed, running eager ({type(err).__name__}: {first})")
        _FAILED.append(str(err))
        kernel = None
    _CACHE[key] = kernel
    return kernel


def examples(like: Tensor, blocks: list[int]) -> list[Tensor]:
    """Distinct (B, k H) example tensors for ``compiled``, k from ``blocks``.

    like: (T, B, G H) with G = blocks[0]."""
    batch, hidden = like.shape[1], like.shape[2] // blocks[0]
    return [like.new_zeros(batch, k * hidden) for k in blocks]


compile_seconds: dict[tuple, float] = {}
"""Seconds each compiled kernel took to build (key as in the cache): for the benchmark's report."""


def compiled_keys() -> list[bool]:
    """For every kernel asked for so far: whether it compiled (False: it runs eager)."""
    return [kernel is not None for kernel in _CACHE.values()]
