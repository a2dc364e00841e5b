"""Timing and memory helpers for comparing the hand-written recurrences with ``torch.nn.RNN/LSTM/GRU``.

Every implementation runs the same work: a dense (T, B, I) input (one-hot rows, as characters), the
layer's forward, and for "fwd+bwd" a backward of a fixed random gradient of the output into every
parameter and the input. Implementations run side by side in one process, interleaved within each
repeat so that drifting clocks and caches hit all of them alike; the reported time is the median.

FLOPs counted (matmuls only, as is usual), G gate blocks (1 RNN, 4 LSTM, 3 GRU)::

    forward  = 2 * B * T * (I*G*H + H*G*H)
    fwd+bwd  = 3 * forward       (backward: one matmul for the input, one for the weight)

The floor (``MatmulFloor``) runs those matmuls and nothing else, into preallocated buffers: the input
projection, T recurrent matmuls (B, H) x (H, G*H) one after another, and backward T matmuls
(B, G*H) x (G*H, H) back through time plus one matmul each for dW_hh, dW_ih and dx. A recurrence
cannot beat it without changing the arithmetic; ``vs_floor`` = our time / the floor's.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import cast

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from rnn_scratch.models.base import State
from rnn_scratch.models.baselines import torch_module
from rnn_scratch.models.bptt import detach_state
from rnn_scratch.models.layers import Recurrent
from rnn_scratch.models.registry import cell_class, cell_names


@dataclass
class Case:
    """One implementation at one size: ``step(with_grad)`` runs it once."""

    name: str
    family: str  # a registered cell with a torch.nn reference (rnn, lstm, gru): what it is compared with
    module: nn.Module
    x: Tensor
    grad_out: Tensor
    fwd_bwd_ms: list[float] = field(default_factory=list)
    fwd_ms: list[float] = field(default_factory=list)

    def step(self, with_grad: bool) -> None:
        if not with_grad:
            with torch.no_grad():
                self.module(self.x)
            return
        for p in self.module.parameters():
            p.grad = None
        self.x.grad = None
        out, _ = self.module(self.x)
        out.backward(self.grad_out)


class MatmulFloor(Case):
    """The matmuls of one fwd+bwd of a G-gate recurrence alone, like ``module``'s (see the top)."""

    def __init__(self, name: str, family: str, module: Recurrent, x: Tensor, grad_out: Tensor) -> None:
        super().__init__(name, family, module, x, grad_out)
        steps, batch, inputs = x.shape
        gh, hidden = module.weight_hh.shape
        self.w_ih, self.w_hh = module.weight_ih.detach(), module.weight_hh.detach()
        new = partial(torch.empty, dtype=x.dtype, device=x.device)
        self.xs = x.detach().reshape(-1, inputs)
        self.u, self.acts = new(steps * batch, gh), new(steps, batch, gh)
        self.hs, self.g = new(steps, batch, hidden), new(steps, batch, hidden)
        self.h0 = torch.zeros(batch, hidden, dtype=x.dtype, device=x.device)
        self.dw_hh, self.dw_ih, self.dx = new(gh, hidden), new(gh, inputs), new(steps * batch, inputs)

    def step(self, with_grad: bool) -> None:
        hidden = self.hs.shape[2]
        torch.mm(self.xs, self.w_ih.t(), out=self.u)
        u = self.u.view_as(self.acts)
        h, w_t = self.h0, self.w_hh.t()
        for t in range(self.acts.shape[0]):
            h = torch.addmm(u[t], h, w_t, out=self.acts[t])[:, :hidden]
        if not with_grad:
            return
        delta = self.acts  # stands for dL/da: the elementwise work that makes it is left out
        for t in range(delta.shape[0] - 1, 0, -1):
            torch.mm(delta[t], self.w_hh, out=self.g[t - 1])
        rows = delta.view(-1, delta.shape[2])
        torch.mm(rows.t(), self.hs.view(-1, hidden), out=self.dw_hh)
        torch.mm(rows.t(), self.xs, out=self.dw_ih)
        torch.mm(rows, self.w_ih, out=self.dx)


def one_hot_input(steps: int, batch: int, vocab: int, device: str, dtype: torch.dtype) -> Tensor:
    """(T, B, I) one-hot rows of random characters, as a dense float tensor that requires grad."""
    idx = torch.randint(0, vocab, (steps, batch), device=device)
    return F.one_hot(idx, vocab).to(dtype).requires_grad_()


def hand_written(
    family: str,
    vocab: int,
    hidden: int,
    bptt: str = "autograd",
    num_layers: int = 1,
    compile_steps: bool = False,
) -> Recurrent:
    """The registered cell ``family`` unrolled by our layer: ``rnn_scratch.RNN/LSTM/GRU(vocab, hidden,
    num_layers)``."""
    return Recurrent(
        vocab, hidden, num_layers, bptt=bptt, compile_steps=compile_steps, cell_class=cell_class(family)
    )


def torch_layer(family: str, like: Recurrent) -> nn.RNNBase:
    """``torch.nn.RNN/LSTM/GRU`` with ``like``'s weights copied (and its depth), so both compute the
    same thing; a stack's parameter names are torch's already, a single layer's gain ``_l0``."""
    layer = torch_module(family)(like.input_size, like.hidden_size, like.num_layers)
    suffix = "_l0" if like.num_layers == 1 else ""
    layer.load_state_dict({f"{n}{suffix}": p for n, p in like.state_dict().items()})
    return layer


def available_families() -> list[str]:
    """The registered cells that declare a torch.nn reference: the ones a ratio can be measured for."""
    return [name for name in cell_names() if cell_class(name).torch_reference is not None]


def make_sync(device: str) -> Callable[[], None]:
    return torch.cuda.synchronize if device.startswith("cuda") else (lambda: None)


def time_once(fn: Callable[[], None], device: str, clock: str = "wall") -> float:
    """Milliseconds for one call; CUDA events on a GPU, perf_counter on the CPU, or with
    ``clock="process"`` the CPU time of this process (``time.process_time``): on a shared machine
    it does not count the time other processes hold the cores (meaningful with one thread)."""
    if device.startswith("cuda"):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        fn()
        end.record()
        torch.cuda.synchronize()
        return float(start.elapsed_time(end))
    now = time.process_time if clock == "process" else time.perf_counter
    t0 = now()
    fn()
    return (now() - t0) * 1e3


def run_interleaved(cases: list[Case], repeats: int, warmup: int, device: str, clock: str = "wall") -> None:
    """Warm every case up, then time each repeat for every case in turn (fwd+bwd, then fwd)."""
    sync = make_sync(device)
    for _ in range(warmup):
        for case in cases:
            case.step(True)
            case.step(False)
    sync()
    for _ in range(repeats):
        for case in cases:
            case.fwd_bwd_ms.append(time_once(partial(case.step, True), device, clock))
            case.fwd_ms.append(time_once(partial(case.step, False), device, clock))


def compile_module(module: nn.Module, x: Tensor, grad_out: Tensor) -> tuple[nn.Module | None, float, str]:
    """``torch.compile(module)``, compiled now for both grad modes so the timings exclude it.

    Returns (compiled module or None, compile seconds, error message or "").
    """
    torch._dynamo.reset()  # a fresh cache per size: no silent fallback to eager after recompiles
    try:
        t0 = time.perf_counter()
        compiled = cast(nn.Module, torch.compile(module))
        probe = Case("compile", "", compiled, x, grad_out)
        probe.step(True)
        probe.step(False)
        return compiled, time.perf_counter() - t0, ""
    except Exception as err:  # noqa: BLE001 - any compiler failure means "skip and say so"
        return None, float("nan"), f"{type(err).__name__}: {str(err).strip().splitlines()[0][:200]}"


def forward_flops(family: str, batch: int, steps: int, vocab: int, hidden: int) -> int:
    g = cell_class(family).n_gates
    return 2 * batch * steps * (vocab * g * hidden + hidden * g * hidden)


def paired_ratio(num: list[float], den: list[float]) -> tuple[float, float, float]:
    """(median, first quartile, third quartile) of ``num_i / den_i`` over the repeats.

    The cases run interleaved, so repeat i of both met the same machine: the ratio of each pair
    cancels what drifted between repeats (load, clock, caches), and its spread is the noise left.
    """
    ratios = [a / b for a, b in zip(num, den, strict=True)]
    if len(ratios) < 2:
        return ratios[0], ratios[0], ratios[0]
    q1, med, q3 = statistics.quantiles(ratios, n=4, method="inclusive")
    return med, q1, q3


def summarise(cases: list[Case], batch: int, steps: int, vocab: int, hidden: int) -> list[dict]:
    """One row per case: median times, paired ratios to the torch.nn layer of its family (with their
    quartiles) and to the family's matmul floor, GFLOP/s."""
    by_name = {c.name: c for c in cases}
    nan3 = (float("nan"),) * 3
    rows = []
    for c in cases:
        fb, fw = statistics.median(c.fwd_bwd_ms), statistics.median(c.fwd_ms)
        ref, floor = by_name.get(f"torch.nn.{c.family.upper()}"), by_name.get(f"{c.family} matmul floor")
        speed = paired_ratio(ref.fwd_bwd_ms, c.fwd_bwd_ms) if ref else nan3
        flops = forward_flops(c.family, batch, steps, vocab, hidden)
        rows.append(
            {
                "impl": c.name,
                "family": c.family,
                "B": batch,
                "I": vocab,
                "H": hidden,
                "T": steps,
                "fwd_bwd_ms": fb,
                "fwd_ms": fw,
                "speedup_fwd_bwd": speed[0],
                "speedup_q1": speed[1],
                "speedup_q3": speed[2],
                "speedup_fwd": paired_ratio(ref.fwd_ms, c.fwd_ms)[0] if ref else nan3[0],
                "vs_floor": paired_ratio(c.fwd_bwd_ms, floor.fwd_bwd_ms)[0] if floor else nan3[0],
                "vs_floor_fwd": paired_ratio(c.fwd_ms, floor.fwd_ms)[0] if floor else nan3[0],
                "gflops_fwd_bwd": 3 * flops / fb / 1e6,
                "gflops_fwd": flops / fw / 1e6,
                "repeats": len(c.fwd_ms),
            }
        )
    return rows


def held_bytes(fn: Callable[[], Tensor], exclude: list[Tensor]) -> int:
    """Bytes that ``out = fn()`` keeps alive until backward: the distinct storages of the tensors
    autograd saves (found with ``saved_tensors_hooks``, so torch's C++ layers count too) and of
    ``out`` itself, less those of ``exclude`` (the input and the parameters, held anyway)."""
    storages: dict[int, int] = {}

    def pack(t: Tensor) -> Tensor:
        s = t.untyped_storage()
        storages[s.data_ptr()] = s.nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        out = fn()
    pack(out)
    for t in exclude:
        storages.pop(t.untyped_storage().data_ptr(), None)
    return sum(storages.values())


def peak_memory_bytes(fn: Callable[[], Tensor], layer: nn.Module, x: Tensor, device: str) -> int:
    """Memory for backward: ``held_bytes`` on the CPU, peak allocation growth on CUDA (fwd+bwd)."""
    if not device.startswith("cuda"):
        return held_bytes(fn, [x, *layer.parameters()])
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    base = torch.cuda.memory_allocated()
    out = fn()
    out.sum().backward()
    torch.cuda.synchronize()
    return int(torch.cuda.max_memory_allocated() - base)


def chunked_peak_bytes(layer: Recurrent, x: Tensor, k: int, device: str) -> int:
    """Truncated BPTT streamed chunk by chunk (forward k steps, backward, carry the state detached):
    the memory held for backward is that of one chunk, bounded by k whatever T is."""
    state: State | None = None
    peak = 0
    for start in range(0, x.shape[0], k):

        def chunk(start: int = start) -> Tensor:
            nonlocal state
            out, new_state = layer(x[start : start + k], state)
            state = detach_state(new_state)
            return out

        peak = max(peak, peak_memory_bytes(chunk, layer, x, device))
    return peak
