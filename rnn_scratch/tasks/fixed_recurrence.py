"""The null that matters: the best *fixed* recurrence with a trained read-out.

A memory task needs *learned* memory at length T only where no recurrence left untrained does the job
once its read-out is trained. ``rnn_scratch.tasks.order_free`` holds the order-free end (a perfect
integrator, W_hh = I, and the symbol counts); this module adds the two fixed recurrences the field uses,
each read out by the same softmax layer (``order_free.fit_readout``: standardised features, L-BFGS,
ridge), trained on ``n_train`` sequences and scored on ``n_eval`` fresh ones:

**Leaky-integrator bank.** K exponential filters of the one-hot input e(x_t): (V,), one per decay
lambda_k, spaced evenly in ln(timescale) from lambda = 1 - 1/T (a timescale of T steps) down to 0.5::

    h^k_t = lambda_k h^k_{t-1} + e(x_t),      features [h^1_t, ..., h^K_t]: (K V,)

Each filter is a stable linear system (|lambda| < 1) that weighs a symbol by how long ago it came: a
symbol early in the sequence and one late in it leave different traces, which counts cannot. Reported
per decay (``leaky``, one filter) and as the whole bank (``leaky_bank``).

**Echo state network** (Jaeger 2001; the leaky form of Jaeger et al. 2007)::

    x_t = (1 - a) x_{t-1} + a tanh(W x_{t-1} + W_in e(x_t)),       x_0 = 0,   x: (N,)

W: (N, N) Gaussian, rescaled to spectral radius rho <= 1; W_in: (N, V) uniform in [-1, 1]; neither is
trained. Settings: rho in ``RHOS``, leak a in ``LEAKS``.

Written in torch, not with ``reservoirpy``: reservoirpy steps one sequence at a time through its nodes
and fits a ridge-regression read-out on every state, while this null must run thousands of sequences in
one batch and be read out the way the networks are, by a softmax at the supervised steps only (the
last step, or copy's ten recall steps). Features are gathered at the supervised steps (per-step tasks:
each supervised step a row, the read-out shared over steps, as the networks' is).

    python -m rnn_scratch.tasks.fixed_recurrence --out docs/study/memory/fixed_recurrence.csv
"""

from __future__ import annotations

import argparse
import csv
import math
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from rnn_scratch.tasks.base import Batch, Task
from rnn_scratch.tasks.order_free import F64, fit_readout, order_free_scores, score
from rnn_scratch.tasks.registry import make_task

N_DECAYS = 8  # the bank: decays from 1 - 1/T to 0.5, evenly in ln(timescale)
RESERVOIR = 100  # the ESN's units: the networks' 64 and more, cheap enough for T = 1000 on one core
RHOS = (0.5, 0.9, 1.0)
LEAKS = (1.0, 0.1, 0.03)  # 1: the plain ESN; small: a timescale of ~1/a steps
N_TRAIN = 2048
N_EVAL = 2048
TASKS = {"temporal_order": {}, "recall_keys": {"distractors": "keys"}, "copy": {}}
LENGTHS = (10, 20, 50, 100, 200, 500, 1000)
LONG, N_LONG = 500, 1024  # from this length on, 1,024 training and 1,024 fresh sequences (one core's cost)
COLUMNS = (
    "task",
    "T",
    "baseline",
    "setting",
    "accuracy",
    "solved_rule_pass",
    "n_train",
    "features",
    "seconds",
)
Step = Callable[[Tensor, Tensor], Tensor]  # (state (B, S), one-hot input (B, V)) -> new state


def decays(T: int, k: int = N_DECAYS) -> list[float]:
    """k decays spaced evenly in ln(1 / (1 - lambda)) from 1 - 1/T (timescale T) to 0.5 (timescale 2)."""
    hi = max(float(T), 2.0)
    return [
        1.0 - 1.0 / math.exp(math.log(hi) + (math.log(2.0) - math.log(hi)) * i / max(k - 1, 1))
        for i in range(k)
    ]


def run_fixed(task: Task, batch: Batch, step: Step, width: int) -> tuple[Tensor, Tensor]:
    """Drive a fixed recurrence over ``batch`` and gather its state at the supervised steps.

    x: (B, T) long -> features (N, width) float64 and targets (N,): N = B for a final-step task (the
    state after the last step), N = mask.sum() for a per-step task (the state after each supervised t)."""
    x = batch.x.cpu()
    B, T = x.shape
    eye = torch.eye(task.input_size, dtype=F64)
    state = torch.zeros(B, width, dtype=F64)
    keep = set(range(T)) if batch.mask is None else set(torch.nonzero(batch.mask.any(0)).flatten().tolist())
    rows, targets = [], []
    for t in range(T):
        state = step(state, eye[x[:, t]])
        if batch.mask is not None and t in keep:
            picked = batch.mask[:, t].cpu()
            rows.append(state[picked])
            targets.append(batch.y[picked, t].cpu())
    if batch.mask is None:
        return state, batch.y.cpu()
    return torch.cat(rows), torch.cat(targets)


def leaky_step(lams: list[float], V: int) -> tuple[Step, int]:
    """The bank's step: h^k <- lambda_k h^k + e(x_t), the K filters side by side in one (B, K V) state."""
    lam = torch.tensor(lams, dtype=F64).repeat_interleave(V)  # (K V,)

    def step(h: Tensor, e: Tensor) -> Tensor:
        return lam * h + e.repeat(1, len(lams))

    return step, len(lams) * V


def esn_step(rho: float, leak: float, V: int, n: int, gen: torch.Generator) -> tuple[Step, int]:
    """The reservoir's step, its weights drawn from ``gen`` and W rescaled to spectral radius ``rho``."""
    W = torch.randn(n, n, generator=gen, dtype=F64)
    W *= rho / torch.linalg.eigvals(W).abs().max().item()
    W_in = torch.rand(n, V, generator=gen, dtype=F64) * 2 - 1

    def step(x: Tensor, e: Tensor) -> Tensor:
        return (1 - leak) * x + leak * torch.tanh(x @ W.T + e @ W_in.T)

    return step, n


def settings(T: int, V: int, seed: int) -> Iterator[tuple[str, str, Step, int]]:
    """(baseline, setting, step, width) of every fixed recurrence scored at length T."""
    lams = decays(T)
    for lam in lams:
        yield ("leaky", f"lambda={lam:.4g}", *leaky_step([lam], V))
    yield ("leaky_bank", f"K={len(lams)}, lambda {lams[0]:.4g}..{lams[-1]:.4g}", *leaky_step(lams, V))
    gen = torch.Generator().manual_seed(seed)
    for rho in RHOS:
        for leak in LEAKS:
            yield ("esn", f"N={RESERVOIR}, rho={rho}, leak={leak}", *esn_step(rho, leak, V, RESERVOIR, gen))


def fixed_scores(
    task: Task, n_train: int = N_TRAIN, n_eval: int = N_EVAL, seed: int = 0
) -> list[dict[str, Any]]:
    """Every fixed recurrence's read-out accuracy on ``task`` at its length, and the order-free
    read-outs (``integrator``: W_hh = I; ``counts``), as rows of ``COLUMNS``."""
    gen = torch.Generator().manual_seed(seed)
    train, test = task.sample(n_train, gen), task.sample(n_eval, gen)
    rows = []
    started = time.perf_counter()
    free = order_free_scores(task, n_train, n_eval, seed)
    for name in ("integrator", "counts"):
        setting = "W_hh = I" if name == "integrator" else "symbol counts"
        rows.append(_row(task, name, setting, free[f"{name}_acc"], 0, started) | {"n_train": n_train})
    for baseline, setting, step, width in settings(task.seq_len, task.input_size, seed):
        started = time.perf_counter()
        X, y = run_fixed(task, train, step, width)
        Xt, yt = run_fixed(task, test, step, width)
        if not (torch.isfinite(X).all() and torch.isfinite(Xt).all()):
            continue
        acc, _ = score(Xt, yt, fit_readout(X, y, task.n_outputs))
        rows.append(_row(task, baseline, setting, acc, width, started) | {"n_train": n_train})
    return rows


def _row(task: Task, baseline: str, setting: str, acc: float, width: int, started: float) -> dict[str, Any]:
    return {
        "T": task.seq_len, "baseline": baseline, "setting": setting, "accuracy": round(acc, 4),
        "solved_rule_pass": bool(task.solved({"acc": acc})), "features": width,
        "seconds": round(time.perf_counter() - started, 2),
    }  # fmt: skip


def lengths_of(name: str, lengths: tuple[int, ...] = LENGTHS) -> list[int]:
    """The lengths a task takes (copy: seq_len >= 21, its 10 symbols, a blank, the marker, 10 recalls)."""
    return [T for T in lengths if name != "copy" or T >= 21]


def write_csv(
    path: Path, tasks: dict[str, dict[str, Any]], lengths: tuple[int, ...], n_train: int = N_TRAIN,
    n_eval: int = N_EVAL,
) -> None:  # fmt: skip
    """Score every task at every length it takes into ``path``, a (task, T) at a time; the (task, T)
    already in ``path`` are kept, not re-run (an interrupted run resumes). From ``LONG`` on, at most
    ``N_LONG`` training and fresh sequences each (the ``n_train`` column says which)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    done: set[tuple[str, str]] = set()
    if path.exists():
        with path.open() as f:
            done = {(r["task"], r["T"]) for r in csv.DictReader(f)}
    with path.open("a" if done else "w", newline="") as f:
        out = csv.DictWriter(f, COLUMNS)
        if not done:
            out.writeheader()
        for name, task_options in tasks.items():
            for T in lengths_of(name, lengths):
                if (name, str(T)) in done:
                    continue
                n, m = (min(n_train, N_LONG), min(n_eval, N_LONG)) if T >= LONG else (n_train, n_eval)
                task = make_task(name.replace("recall_keys", "recall"), T, **task_options)
                out.writerows({"task": name, **row} for row in fixed_scores(task, n, m))
                f.flush()


def main() -> None:
    parser = argparse.ArgumentParser(description="Fixed-recurrence baselines of the memory tasks.")
    parser.add_argument("--out", type=Path, default=Path("docs/study/memory/fixed_recurrence.csv"))
    parser.add_argument("--tasks", nargs="+", default=list(TASKS), choices=list(TASKS))
    parser.add_argument("--lengths", type=int, nargs="+", default=list(LENGTHS))
    parser.add_argument("--n-train", type=int, default=N_TRAIN)
    args = parser.parse_args()
    torch.set_num_threads(1)
    write_csv(
        args.out, {t: TASKS[t] for t in args.tasks}, tuple(args.lengths), n_train=args.n_train, n_eval=N_EVAL
    )


if __name__ == "__main__":
    main()
