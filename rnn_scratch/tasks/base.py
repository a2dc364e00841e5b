"""What every task gives the training loop: batches, a loss on the final step, and metrics.

A task yields ``x`` of shape (B, T) (character indices, ``torch.long``) or (B, T, I) (real values),
with targets ``y`` of shape (B,) (class indices) or (B, n_outputs) (regression). Every step draws a
fresh training batch from a ``torch.Generator``; the held-out eval set is drawn once, from its own
generator, so it is the same for every run with the same seed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor


@dataclass
class Batch:
    """``x``: (B, T) indices or (B, T, I) values; ``y``: targets; ``lengths``: (B,) or None (all T)."""

    x: Tensor
    y: Tensor
    lengths: Tensor | None = None

    def to(self, device: torch.device | str) -> Batch:
        lengths = None if self.lengths is None else self.lengths.to(device)
        return Batch(self.x.to(device), self.y.to(device), lengths)

    def __len__(self) -> int:
        return self.x.shape[0]


@dataclass
class Task:
    """Base for classification tasks supervised at the final time step.

    Subclasses set ``input_size`` (the vocabulary size for index inputs), ``n_outputs`` and
    ``alphabet``, and implement ``sample``. ``chance`` is the accuracy of guessing the majority class.
    """

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

    def loss(self, out: Tensor, y: Tensor) -> Tensor:
        """Cross-entropy of the final-step logits out: (B, C) against classes y: (B,)."""
        return F.cross_entropy(out, y)

    def metrics(self, out: Tensor, y: Tensor) -> dict[str, float]:
        """``loss`` and ``acc`` (fraction of correct argmax) of a batch."""
        return {
            "loss": self.loss(out, y).item(),
            "acc": (out.argmax(dim=-1) == y).float().mean().item(),
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


def balanced_labels(n: int, n_classes: int, generator: torch.Generator) -> Tensor:
    """n labels with every class equally often (up to n mod n_classes), in random order."""
    labels = torch.arange(n, device=generator.device) % n_classes
    return labels[torch.randperm(n, generator=generator, device=generator.device)]
