"""Synthetic character tasks generated on the fly from a seed; difficulty is set by ``seq_len``.

recall
    One key character (of ``n_classes`` key symbols ``A B C ...``) sits ``lag`` steps before the end;
    every other step is a distractor from a separate alphabet ``a b c ...``. The class is the key.
    With the default ``lag = seq_len - 1`` the key is the first character, so the network must carry
    it across every step: the gradient that teaches it must flow back ``seq_len - 1`` steps.
    Chance accuracy is ``1 / n_classes``. With ``distractors = "separate"`` (the default) the key is
    the only capital letter, so the task is order-free: the class is *which* capital appeared, and a
    fixed linear integrator (W_hh = I, untrained) with a trained read-out solves it at any length
    (``rnn_scratch.tasks.order_free``). It is the vanishing-gradient demonstration, not a memory test.
    With ``distractors = "keys"`` every other step draws from the key symbols too, so the first symbol
    must be named among symbols of its own kind: counts barely give it away, order must be kept.

recall_keys
    Recall with ``distractors = "keys"``, named as a task of its own (its run folders, ``task.name``,
    TensorBoard runs and tables say ``recall_keys``); the same sequences as ``task=recall
    task.distractors=keys``, whose runs read back as the same config.

temporal_order
    Hochreiter & Schmidhuber (1997), experiment 6a. ``B`` starts and ``E`` ends the sequence,
    distractors come from ``{a, b, c, d}``, and ``X`` or ``Y`` appears at one random step in
    [10%, 20%) of the sequence and at one in [50%, 60%). Four classes by their order:
    XX, XY, YX, YY. Chance accuracy 1/4, chance NLL ln 4.
"""

from __future__ import annotations

import string
from dataclasses import dataclass
from typing import Any

import torch

from rnn_scratch.errors import ConfigError
from rnn_scratch.tasks.base import Batch, Task, balanced_labels
from rnn_scratch.tasks.registry import TaskConfig, positive, register_task

SOLVED_ACC = 0.9  # recall and temporal order count as solved at eval accuracy >= this
DISTRACTORS = ("separate", "keys")  # recall's distractor alphabets: a, b, ... or the keys A, B, ...


@dataclass
class RecallConfig(TaskConfig):
    name: str = "recall"
    n_classes: int = 8
    n_distractors: int = 8
    lag: int | None = None  # steps between the key and the end; None = seq_len - 1 (the first step)
    distractors: str = "separate"  # separate: a, b, ...; keys: drawn from the key symbols themselves

    def check(self, seq_len: int) -> None:
        if self.distractors not in DISTRACTORS:
            raise ConfigError(
                "task.distractors", f"must be one of {', '.join(DISTRACTORS)}, got {self.distractors!r}"
            )
        if self.n_classes < 2:  # one key: every answer is right, chance accuracy 1, nothing to learn
            raise ConfigError("task.n_classes", f"must be >= 2 (one key is no task), got {self.n_classes}")
        positive("task.n_distractors", self.n_distractors)
        if self.n_classes + self.n_distractors > 26 * 2 or max(self.n_classes, self.n_distractors) > 26:
            raise ConfigError("task.n_classes", "keys and distractors are letters: at most 26 each")
        if self.lag is not None and not 0 <= self.lag < seq_len:
            raise ConfigError("task.lag", f"must be in [0, seq_len) = [0, {seq_len}), got {self.lag}")


@register_task(RecallConfig)
@dataclass
class Recall(Task):
    """Remember the key seen ``lag`` steps before the end. x: (B, T) long, y: (B,) in [0, n_classes)."""

    words = "recall"

    n_classes: int = 8
    n_distractors: int = 8
    lag: int | None = None
    distractors: str = "separate"

    def __post_init__(self) -> None:
        if self.lag is None:
            self.lag = self.seq_len - 1
        keys = string.ascii_uppercase[: self.n_classes]
        distractors = string.ascii_lowercase[: self.n_distractors] if self.distractors == "separate" else ""
        self.alphabet = keys + distractors
        self.input_size = len(self.alphabet)
        self.n_outputs = self.n_classes
        self.chance = 1.0 / self.n_classes
        self.solved_rule = f"eval_acc >= {SOLVED_ACC}"

    def solved(self, metrics: dict[str, float]) -> bool | None:
        return metrics["acc"] >= SOLVED_ACC

    def sample(self, n: int, generator: torch.Generator) -> Batch:
        assert self.lag is not None
        device = generator.device
        low = self.n_classes if self.distractors == "separate" else 0  # keys: distractors are keys too
        x = torch.randint(low, self.input_size, (n, self.seq_len), generator=generator, device=device)
        y = balanced_labels(n, self.n_classes, generator)
        x[:, self.seq_len - 1 - self.lag] = y
        return Batch(x, y)


@dataclass
class RecallKeysConfig(RecallConfig):
    name: str = "recall_keys"
    distractors: str = "keys"
    # the distractors are the keys (that is the variant); so n_distractors is never read
    ignored = ("distractors", "n_distractors")

    def check(self, seq_len: int) -> None:
        if self.distractors != "keys":
            raise ConfigError("task.distractors", "does nothing for task=recall_keys (task=recall takes it)")
        super().check(seq_len)

    @classmethod
    def claims(cls, saved: dict[str, Any]) -> bool:
        """A run saved as ``recall`` with ``distractors=keys`` (before this name existed) is this task."""
        return saved.get("name") == "recall" and saved.get("distractors") == "keys"


@register_task(RecallKeysConfig)
@dataclass
class RecallKeys(Recall):
    """Recall among distractors drawn from the keys. x: (B, T) long, y: (B,) in [0, n_classes)."""

    words = "recall among key distractors"

    distractors: str = "keys"


def order_windows(seq_len: int) -> tuple[range, range]:
    """The steps where the first and second symbol may sit: [10%, 20%) and [50%, 60%) of seq_len."""
    return range(seq_len // 10, seq_len // 5), range(seq_len // 2, (6 * seq_len) // 10)


@dataclass
class TemporalOrderConfig(TaskConfig):
    name: str = "temporal_order"

    def check(self, seq_len: int) -> None:
        if seq_len < TemporalOrder.MIN_SEQ_LEN:
            raise ConfigError(
                "seq_len", f"temporal_order needs seq_len >= {TemporalOrder.MIN_SEQ_LEN}, got {seq_len}"
            )


@register_task(TemporalOrderConfig)
@dataclass
class TemporalOrder(Task):
    """Classify the order of two X/Y symbols among distractors. x: (B, T) long, y: (B,) in [0, 4)."""

    words = "temporal order (H&S 1997, 6a)"
    MIN_SEQ_LEN = 10  # below this the [10%, 20%) window is empty or collides with the start marker
    # Counts tell XX and YY apart; XY and YX have the same counts: an order-free read-out gets 1/2 of them.
    order_free_ceiling = 0.75

    def __post_init__(self) -> None:
        self.alphabet = "abcdBEXY"
        self.input_size = len(self.alphabet)
        self.n_outputs = 4
        self.chance = 0.25
        self.solved_rule = f"eval_acc >= {SOLVED_ACC}"

    def solved(self, metrics: dict[str, float]) -> bool | None:
        return metrics["acc"] >= SOLVED_ACC

    def sample(self, n: int, generator: torch.Generator) -> Batch:
        device = generator.device
        start, end, sym_x = (self.alphabet.index(c) for c in "BEX")
        x = torch.randint(0, 4, (n, self.seq_len), generator=generator, device=device)
        x[:, 0], x[:, -1] = start, end
        y = balanced_labels(n, 4, generator)
        rows = torch.arange(n, device=device)
        for i, window in enumerate(order_windows(self.seq_len)):
            pos = torch.randint(window.start, window.stop, (n,), generator=generator, device=device)
            # class = 2 * first + second, with X = 0 and Y = 1; the symbol is X + bit
            bit = (y >> (1 - i)) & 1
            x[rows, pos] = sym_x + bit
        return Batch(x, y)
