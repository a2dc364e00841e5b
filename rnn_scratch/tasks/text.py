"""Next-character prediction on any UTF-8 text file, supervised at the final step of each window.

A window is ``seq_len`` consecutive characters of the file; its class is the character that follows
it. The alphabet is the file's own characters, sorted (so the indices depend only on the file). The
first ``1 - eval_fraction`` of the file trains: ``sample`` draws windows (with their next character)
wholly inside it at random. The tail is held out: ``eval_set(n)`` is every window of the tail, or
``n`` of them evenly spaced when there are more, the same on every call.

Metrics: ``loss`` (cross-entropy, nats), ``acc``, ``bpc`` (bits per character = loss / ln 2).
Baselines: ``majority_acc`` (always the training part's most frequent character), ``unigram_loss``
(the training part's add-one-smoothed character frequencies as the prediction: a model below it uses
context) and ``chance_acc`` (1 / alphabet).

``generate`` runs a trained model as a generator: it feeds its own samples back, one window at a time.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import Tensor, nn

from rnn_scratch.errors import ConfigError
from rnn_scratch.tasks.base import Batch, Task
from rnn_scratch.tasks.names import read_text
from rnn_scratch.tasks.registry import TaskConfig, fraction, register_task


@dataclass
class TextConfig(TaskConfig):
    """Next character of a UTF-8 text file (rnn_scratch/tasks/text.py)."""

    name: str = "text"
    path: str | None = None  # the file (required)
    eval_fraction: float = 0.1  # the held-out tail

    def check(self, seq_len: int) -> None:  # the file itself: when the task reads it
        fraction("task.eval_fraction", self.eval_fraction)
        if self.path is None:
            raise ConfigError("task.path", "set task.path=<a UTF-8 text file>")


@register_task(TextConfig)
@dataclass
class Text(Task):
    """Predict the next character. x: (B, seq_len) long, y: (B,) in [0, len(alphabet))."""

    path: str | None = None
    eval_fraction: float = 0.1
    _data: dict[str, Tensor] = field(default_factory=dict, init=False, repr=False)

    def __post_init__(self) -> None:
        key = "task.path"
        if self.path is None:
            raise ConfigError(key, "set task.path=<a UTF-8 text file>")
        if not 0 < self.eval_fraction < 1:
            raise ConfigError("task.eval_fraction", f"must be in (0, 1), got {self.eval_fraction}")
        path = Path(self.path).expanduser()
        if not path.is_file():
            raise ConfigError(key, f"{path} is not a file")
        text = read_text(path, key)
        if not text:
            raise ConfigError(key, f"{path} is empty")
        self.split = math.floor(len(text) * (1 - self.eval_fraction))
        need = self.seq_len + 1  # a window and the character after it
        if min(self.split, len(text) - self.split) < need:
            raise ConfigError(
                key,
                f"{path} has {len(text)} characters: too short for seq_len={self.seq_len} with "
                f"eval_fraction={self.eval_fraction} (each part needs at least {need})",
            )
        self.alphabet = "".join(sorted(set(text)))
        index = {c: i for i, c in enumerate(self.alphabet)}
        self._data["cpu"] = torch.tensor([index[c] for c in text])
        self.input_size = self.n_outputs = len(self.alphabet)
        self.chance = 1.0 / len(self.alphabet)
        self.eval_targets: Tensor | None = None

    def _on(self, device: torch.device) -> Tensor:
        key = str(device)
        if key not in self._data:
            self._data[key] = self._data["cpu"].to(device)
        return self._data[key]

    def windows(self, starts: Tensor) -> Batch:
        """The windows starting at ``starts`` (B,) and their next characters, on starts' device."""
        data = self._on(starts.device)
        steps = torch.arange(self.seq_len, device=starts.device)
        return Batch(data[starts[:, None] + steps], data[starts + self.seq_len])

    def sample(self, n: int, generator: torch.Generator) -> Batch:
        # the last window's next character is at split - 1, still in the training part
        high = self.split - self.seq_len
        return self.windows(torch.randint(high, (n,), generator=generator, device=generator.device))

    def eval_set(self, n: int, generator: torch.Generator) -> Batch:
        """Up to ``n`` windows of the held-out tail, evenly spaced; deterministic (no randomness)."""
        first, last = self.split, len(self._data["cpu"]) - self.seq_len - 1
        count = min(n, last - first + 1)
        starts = torch.linspace(first, last, count, dtype=torch.float64).round().long()
        batch = self.windows(starts.to(generator.device))
        self.eval_targets = batch.y.cpu()
        return batch

    def metrics(self, out: Tensor, y: Tensor, mask: Tensor | None = None) -> dict[str, float]:
        values = super().metrics(out, y, mask)
        return {**values, "bpc": values["loss"] / math.log(2)}

    def baselines(self) -> dict[str, float]:
        data = self._data["cpu"]
        y = self.eval_targets if self.eval_targets is not None else data[self.split + self.seq_len :]
        counts = torch.bincount(data[: self.split], minlength=self.n_outputs).double() + 1
        log_p = (counts / counts.sum()).log()
        return {
            "majority_acc": (y == counts.argmax()).double().mean().item(),
            "unigram_loss": -log_p[y].mean().item(),
            "chance_acc": self.chance,
        }


@torch.no_grad()
def generate(
    model: nn.Module,
    task: Text,
    prime: str,
    length: int,
    temperature: float = 1.0,
    generator: torch.Generator | None = None,
) -> str:
    """``prime`` continued by ``length`` characters sampled from ``model``'s own predictions.

    Each new character is drawn from softmax(logits / temperature) given the last ``seq_len``
    characters (the window size the model was trained on); temperature -> 0 is greedy decoding.
    """
    unknown = sorted(set(prime) - set(task.alphabet))
    if unknown or not prime:
        raise ValueError(f"prime must be non-empty and use the file's alphabet; unknown: {unknown}")
    device = next(model.parameters()).device
    ids = [task.alphabet.index(c) for c in prime]
    for _ in range(length):
        window = torch.tensor([ids[-task.seq_len :]], device=device)
        logits = model(window)[0][0].double()
        if temperature <= 0:
            ids.append(int(logits.argmax()))
            continue
        probs = torch.softmax(logits / temperature, dim=-1).cpu()
        ids.append(int(torch.multinomial(probs, 1, generator=generator)))
    return task.decode(torch.tensor(ids))
