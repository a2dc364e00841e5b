"""Order-free baselines: what a task's answer costs without remembering the order of its inputs.

A memory task is only as hard as its best memoryless shortcut. Two read-outs that keep no order, each a
multinomial logistic regression (softmax read-out) trained on sequences of the task and scored on fresh ones:

**Fixed integrator.** The RNN h_t = h_{t-1} + W_in e(x_t) with W_hh = I and untrained random Gaussian
input weights W_in: (H, V) (H = 64), read out by a trained softmax layer at each supervised step (one
read-out shared over steps, as the networks' is). It is where the IRNN starts (ReLU, W_hh = I) when its
state stays positive, so a task it solves measures how trainable an accumulator is, not memory.

**Bag of symbols.** The read-out sees the symbol counts up to the supervised step, c_t = sum_{s <= t}
e(x_s): (V,). Since h_t = W_in c_t, the integrator sees a random projection of the same counts: with
H >= V the two read-outs span the same functions and score alike; they are reported side by side so a
reader sees both the network-shaped and the plain-statistics form of the shortcut.

Neither can tell XY from YX (temporal order: its order-free ceiling is 3/4, ``Task.order_free_ceiling``),
nor which recalled symbol comes first (copy), nor which of the key symbols came first when the
distractors are keys too (recall, ``distractors=keys``). They do solve recall with separate distractors
(the key is the only capital letter, so its count names it) at any length.

Fit: features standardised on the training set, L-BFGS on the mean cross-entropy plus ``RIDGE`` |W|^2 / 2,
float64, deterministic from ``seed``. Cost: counts by ``scatter_add`` (no (B, T, V) one-hot), so T = 1000
takes about a second.

    python -m rnn_scratch.tasks.order_free temporal_order 50 200   # a table for some lengths
"""

from __future__ import annotations

import argparse
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from rnn_scratch.errors import ConfigError
from rnn_scratch.tasks.base import Batch, Task
from rnn_scratch.tasks.registry import TASKS, make_task

HIDDEN = 64  # the integrator's width, the horizon presets' hidden_size
RIDGE = 1e-4
N_TRAIN = 4096
N_EVAL = 4096
F64 = torch.float64


def counts_at_supervised_steps(task: Task, batch: Batch) -> tuple[Tensor, Tensor]:
    """Symbol counts up to each supervised step and that step's target.

    x: (B, T) long -> counts (N, V) float64 and targets (N,): N = B for a final-step task (counts over the
    whole sequence), N = mask.sum() for a per-step task (counts over x[:, :t + 1] at each supervised t)."""
    x, V = batch.x, task.input_size
    if batch.mask is None:
        return _counts(x, V), batch.y
    rows, targets = [], []
    for t in torch.nonzero(batch.mask.any(dim=0)).flatten().tolist():
        picked = batch.mask[:, t]
        rows.append(_counts(x[picked, : t + 1], V))
        targets.append(batch.y[picked, t])
    return torch.cat(rows), torch.cat(targets)


def _counts(x: Tensor, V: int) -> Tensor:
    """x: (B, t) long -> (B, V) float64, how often each symbol occurs in each row."""
    return torch.zeros(x.shape[0], V, dtype=F64).scatter_add_(1, x.cpu(), torch.ones(x.shape, dtype=F64))


def fit_readout(X: Tensor, y: Tensor, n_classes: int) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """Softmax read-out p(k | x) = softmax(W z + b)_k on standardised features z = (x - mu) / sd.

    X: (N, F) float64, y: (N,) long -> (W: (K, F), b: (K,), mu: (F,), sd: (F,)), minimising
    mean CE + RIDGE |W|^2 / 2 with L-BFGS (convex: the optimum does not depend on the start)."""
    mu, sd = X.mean(0), X.std(0).clamp_min(1e-8)
    Z = (X - mu) / sd
    W = torch.zeros(n_classes, X.shape[1], dtype=F64, requires_grad=True)
    b = torch.zeros(n_classes, dtype=F64, requires_grad=True)
    opt = torch.optim.LBFGS([W, b], max_iter=500, tolerance_grad=1e-9, line_search_fn="strong_wolfe")

    def closure() -> Tensor:
        opt.zero_grad()
        loss = F.cross_entropy(Z @ W.T + b, y) + RIDGE * (W**2).sum() / 2
        loss.backward()
        return loss

    opt.step(closure)
    return W.detach(), b.detach(), mu, sd


def score(X: Tensor, y: Tensor, readout: tuple[Tensor, Tensor, Tensor, Tensor]) -> tuple[float, float]:
    """(accuracy, mean cross-entropy in nats) of a fitted read-out on features X: (N, F), targets y: (N,)."""
    W, b, mu, sd = readout
    logits = ((X - mu) / sd) @ W.T + b
    return (logits.argmax(1) == y).double().mean().item(), F.cross_entropy(logits, y).item()


def order_free_scores(
    task: Task, n_train: int = N_TRAIN, n_eval: int = N_EVAL, seed: int = 0
) -> dict[str, float]:
    """The two order-free read-outs of ``task`` at its ``seq_len``, trained on ``n_train`` sequences and
    scored on ``n_eval`` fresh ones: ``integrator_acc``, ``integrator_loss``, ``counts_acc``,
    ``counts_loss`` (and ``ceiling_acc`` where the task states one). Classification tasks only."""
    gen = torch.Generator().manual_seed(seed)
    W_in = torch.randn(HIDDEN, task.input_size, generator=gen, dtype=F64)  # the integrator's input weights
    train = counts_at_supervised_steps(task, task.sample(n_train, gen))
    test = counts_at_supervised_steps(task, task.sample(n_eval, gen))
    out: dict[str, float] = {}
    for name, view in (("integrator", lambda c: c @ W_in.T), ("counts", lambda c: c)):
        readout = fit_readout(view(train[0]), train[1], task.n_outputs)
        out[f"{name}_acc"], out[f"{name}_loss"] = score(view(test[0]), test[1], readout)
    if task.order_free_ceiling is not None:
        out["ceiling_acc"] = task.order_free_ceiling
    return out


def table(name: str, lengths: list[int], **options: Any) -> str:
    """A markdown table of ``order_free_scores`` for task ``name`` at each length."""
    lines = ["| T | integrator acc | counts acc | chance | solved rule |", "|---|---|---|---|---|"]
    for T in lengths:
        task = make_task(name, T, **options)
        s = order_free_scores(task)
        scores = f"{s['integrator_acc']:.3f} | {s['counts_acc']:.3f} | {task.chance:.3f}"
        lines.append(f"| {T} | {scores} | {task.solved_rule} |")
    return "\n".join(lines)


def _value(text: str) -> Any:
    """A ``--option`` value as the command line means it: null, true, false, an integer, a number, or text."""
    words = {"null": None, "true": True, "false": False}
    if text.lower() in words:
        return words[text.lower()]
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def main(argv: list[str] | None = None) -> None:
    """``python -m rnn_scratch.tasks.order_free <task> <T> ...``: any task name ``task=`` takes (the
    registry's), its options as ``key=value``; a task it cannot score, or a bad option, is one line."""
    parser = argparse.ArgumentParser(description="Order-free baselines of a task at some lengths.")
    parser.add_argument("task", choices=sorted(TASKS), metavar="task", help=", ".join(sorted(TASKS)))
    parser.add_argument("lengths", type=int, nargs="+")
    parser.add_argument("--distractors", default=None, help="recall: separate or keys")
    parser.add_argument("--option", action="append", default=[], metavar="KEY=VALUE", help="a task option")
    args = parser.parse_args(argv)
    options: dict[str, Any] = {} if args.distractors is None else {"distractors": args.distractors}
    for item in args.option:
        key, sep, value = item.partition("=")
        if not sep:
            parser.error(f"--option {item}: give KEY=VALUE")
        options[key.removeprefix("task.")] = _value(value)
    try:
        if not make_task(args.task, max(args.lengths), **options).alphabet:
            parser.exit(2, f"error: task={args.task} reads real values, not symbols: no counts to read out\n")
        print(table(args.task, args.lengths, **options))
    except (ConfigError, TypeError, ValueError) as error:  # a bad option, or data the task cannot find
        parser.exit(2, f"error: {error}\n")


if __name__ == "__main__":
    main()
