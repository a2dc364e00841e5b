"""What every task gives the training loop: batches, a loss on its supervised steps, and metrics.

A task yields ``x`` of shape (B, T) (character indices, ``torch.long``) or (B, T, I) (real values).
Which steps are supervised is part of the contract (``Task.per_step``):

* the final step only (the default): targets ``y`` of shape (B,) (class indices) or (B, n_outputs)
  (regression); the model reads out h_T alone and ``out`` is (B, C);
* several steps (``per_step = True``): per-step targets ``y`` of shape (B, T) (or (B, T, n_outputs))
  and ``Batch.mask`` (B, T) bool, True where step t of a row carries a target; the model reads out
  every step, ``out`` is (B, T, C), and the loss and metrics are means over the supervised positions
  only: L = (1 / N) sum_{(b, t): mask} CE(out[b, t], y[b, t]), N = mask.sum(). The gradient reaches
  each supervised h_t directly (dL/dh_t), and the hand-derived BPTT takes it at every step.

Every step draws a fresh training batch from a ``torch.Generator``; the held-out eval set is drawn
once, from its own generator, so it is the same for every run with the same seed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import Tensor


@dataclass
class Batch:
    """``x``: (B, T) indices or (B, T, I) values; ``y``: targets; ``lengths``: (B,) or None (all T);
    ``mask``: (B, T) bool, the supervised steps of a per-step task (None: the final step's target)."""

    x: Tensor
    y: Tensor
    lengths: Tensor | None = None
    mask: Tensor | None = None

    def to(self, device: torch.device | str) -> Batch:
        lengths = None if self.lengths is None else self.lengths.to(device)
        mask = None if self.mask is None else self.mask.to(device)
        return Batch(self.x.to(device), self.y.to(device), lengths, mask)

    def __len__(self) -> int:
        return self.x.shape[0]


@dataclass
class Task:
    """Base for classification tasks, supervised at the final time step unless ``per_step``.

    Subclasses set ``input_size`` (the vocabulary size for index inputs), ``n_outputs`` and
    ``alphabet``, and implement ``sample``. ``chance`` is the accuracy of guessing the majority class.
    A task module also defines its config dataclass and registers the class with it
    (``rnn_scratch.tasks.registry.register_task``), and states its solved rule (``solved``).

    Supervised steps: with ``per_step = False`` (the default) only the final step carries a target,
    ``y``: (B,). A task that sets ``per_step = True`` returns per-step targets ``y``: (B, T) and a
    ``mask``: (B, T) bool in every batch (never None; all True when every step is supervised); the
    loop then asks the model for every step's read-out, ``out``: (B, T, C), and ``loss`` and
    ``metrics`` average over the positions where ``mask`` is True (``supervised_positions``).
    """

    # Which steps carry a target: False, the final step only; True, those of each batch's ``mask``.
    per_step: ClassVar[bool] = False
    # The best accuracy any read-out that ignores order can reach, where it is known exactly
    # (temporal order: 3/4); the measured order-free baselines are ``rnn_scratch.tasks.order_free``.
    order_free_ceiling: ClassVar[float | None] = None
    # What the pages call the task ("temporal order (H&S 1997, 6a)"), and its shortest sequence: the
    # study reads both from here (``rnn_scratch.tasks.registry.task_words``, ``min_length``).
    words: ClassVar[str] = ""
    MIN_SEQ_LEN: ClassVar[int] = 1

    seq_len: int
    input_size: int = 0
    n_outputs: int = 0
    alphabet: str = ""
    chance: float = 0.0
    info: dict[str, float] = field(default_factory=dict)

    def sample(self, n: int, generator: torch.Generator) -> Batch:
        """n sequences with their targets, drawn with ``generator`` on its device."""
        raise NotImplementedError

    def eval_set(self, n: int, generator: torch.Generator) -> Batch:
        """The held-out set: n fresh samples here; tasks with a fixed data set return their split."""
        return self.sample(n, generator)

    def loss(self, out: Tensor, y: Tensor, mask: Tensor | None = None) -> Tensor:
        """Mean cross-entropy over the supervised positions: out (B, C) and classes y (B,) at the final
        step, or out (B, T, C), y (B, T) and ``mask`` (B, T) for a per-step task."""
        return F.cross_entropy(*supervised_positions(out, y, mask))

    def metrics(self, out: Tensor, y: Tensor, mask: Tensor | None = None) -> dict[str, float]:
        """``loss`` and ``acc`` (fraction of correct argmax) over the supervised positions of a batch."""
        picked, target = supervised_positions(out, y, mask)
        return {
            "loss": self.loss(out, y, mask).item(),
            "acc": (picked.argmax(dim=-1) == target).float().mean().item(),
        }

    def baselines(self) -> dict[str, float]:
        """Reference scores a trained model must beat, for metrics.json and the report."""
        return {"chance_acc": self.chance}

    solved_rule: str | None = None  # the rule ``solved`` applies, in words, for metrics.json and docs

    def solved(self, metrics: dict[str, float]) -> bool | None:
        """Whether eval ``metrics`` meet the task's solved threshold; None: the task defines none
        (names, text: the metric is reported, never a success)."""
        return None

    def figures(self, out: Tensor, y: Tensor) -> dict[str, Any]:
        """Task-specific matplotlib figures of the eval outputs, by TensorBoard tag (none here)."""
        return {}

    def decode(self, x: Tensor) -> str:
        """Character indices (T,) -> the string they stand for."""
        return "".join(self.alphabet[i] for i in x.tolist())


def supervised_positions(out: Tensor, y: Tensor, mask: Tensor | None) -> tuple[Tensor, Tensor]:
    """The outputs and targets the loss sees, one row per supervised position: (N, C) and (N,) (or
    (N, n_outputs)). Final step (``mask`` None): ``out`` and ``y`` as they are, N = B. Per step:
    out (B, T, C), y (B, T[, n_outputs]) and mask (B, T) -> the N = mask.sum() positions where it is True."""
    if mask is None:
        return out, y
    return out[mask], y[mask]


def balanced_labels(n: int, n_classes: int, generator: torch.Generator) -> Tensor:
    """n labels with every class equally often (up to n mod n_classes), in random order."""
    labels = torch.arange(n, device=generator.device) % n_classes
    return labels[torch.randperm(n, generator=generator, device=generator.device)]
