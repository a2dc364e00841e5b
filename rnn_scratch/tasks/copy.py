"""The copy-memory task of Arjovsky, Shah & Bengio (2016), "Unitary evolution recurrent neural networks".

A sequence of ``seq_len`` steps (the paper's T + 20, with T = seq_len - 20)::

    s_1 ... s_10   _ _ ... _   :   _ _ ... _        x: (B, seq_len) long
    10 symbols     T - 1       go  10 blanks
    from 8         blanks      marker

The targets are the 10 symbols, in order, at the last 10 steps: y[:, seq_len - 10 + i] = s_{i+1}. Only
those steps are supervised (the task contract's ``per_step`` with a ``mask`` (B, seq_len), True at the
last 10 steps), so the network must hold an ordered list of 10 symbols across T blanks, and read it out
one symbol a step after the marker. Counts cannot do it: they say which symbols appeared, not where.

**Memoryless baseline.** A network that forgets the symbols can only guess: ln 8 = 2.079 nats per
supervised step (accuracy 1/8). Our loss averages over the 10 supervised steps, so that is the baseline
our ``eval_loss`` is read against. The paper's loss averages over all T + 20 steps, with the blank
predicted for free at the other T + 10, which gives its 10 ln 8 / (T + 20): the same baseline, divided
by a different count.

**Solved rule: per-symbol accuracy >= 0.9** over the 10 recalled symbols on the eval set. It needs
order: the order-free read-outs (a fixed integrator, symbol counts; ``rnn_scratch.tasks.order_free``)
know the multiset of the symbols but not their positions and score about a quarter at most, and the
memoryless baseline 1/8; the same 0.9 as recall and temporal order, so "solved" reads alike on every
classification task.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from rnn_scratch.errors import ConfigError
from rnn_scratch.tasks.base import Batch, Task
from rnn_scratch.tasks.registry import TaskConfig, register_task

SOLVED_ACC = 0.9  # per recalled symbol, over the 10 supervised steps
N_COPY = 10  # symbols to remember
N_SYMBOLS = 8  # drawn from this many


@dataclass
class CopyConfig(TaskConfig):
    name: str = "copy"

    def check(self, seq_len: int) -> None:
        if seq_len < Copy.MIN_SEQ_LEN:
            raise ConfigError(
                "seq_len", f"copy needs seq_len >= {Copy.MIN_SEQ_LEN} (10 symbols, a blank, the marker, "
                f"10 recall steps), got {seq_len}",
            )  # fmt: skip


@register_task(CopyConfig)
@dataclass
class Copy(Task):
    """Reproduce 10 symbols after T = seq_len - 20 blanks and a marker.

    x: (B, seq_len) long in [0, 10): symbols 0..7 (``a``-``h``), blank 8 (``_``), marker 9 (``:``);
    y: (B, seq_len) long, the symbols at the last 10 steps (0 elsewhere, never read);
    mask: (B, seq_len) bool, True at the last 10 steps."""

    words = "copy memory (Arjovsky et al. 2016; seq_len = T + 20)"
    MIN_SEQ_LEN = 2 * N_COPY + 1  # T >= 1: at least the marker's step between the symbols and the recall
    per_step = True

    def __post_init__(self) -> None:
        self.alphabet = "abcdefgh_:"
        self.input_size = len(self.alphabet)
        self.n_outputs = N_SYMBOLS
        self.chance = 1.0 / N_SYMBOLS
        self.info = {"blanks_T": float(self.seq_len - 2 * N_COPY), "memoryless_loss": math.log(N_SYMBOLS)}
        self.solved_rule = f"eval_acc >= {SOLVED_ACC} (per symbol, over the {N_COPY} recalled symbols)"

    def solved(self, metrics: dict[str, float]) -> bool | None:
        return metrics["acc"] >= SOLVED_ACC

    def baselines(self) -> dict[str, float]:
        return {"chance_acc": self.chance, "memoryless_loss": math.log(N_SYMBOLS)}

    def sample(self, n: int, generator: torch.Generator) -> Batch:
        device = generator.device
        blank, marker = N_SYMBOLS, N_SYMBOLS + 1
        symbols = torch.randint(0, N_SYMBOLS, (n, N_COPY), generator=generator, device=device)
        x = torch.full((n, self.seq_len), blank, dtype=torch.long, device=device)
        x[:, :N_COPY] = symbols
        x[:, -N_COPY - 1] = marker
        y = torch.zeros((n, self.seq_len), dtype=torch.long, device=device)
        y[:, -N_COPY:] = symbols
        mask = torch.zeros((n, self.seq_len), dtype=torch.bool, device=device)
        mask[:, -N_COPY:] = True
        return Batch(x, y, mask=mask)
