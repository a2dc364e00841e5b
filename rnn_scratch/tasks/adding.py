"""The adding problem (Hochreiter & Schmidhuber 1997, experiment 4; Le et al. 2015, section 4.1).

Each step carries two real numbers: a value in U[0, 1] (channel 0) and a marker in {0, 1}
(channel 1). Exactly two steps are marked, one in the first half ``[0, T // 2)`` and one in the
second ``[T // 2, T)``; the target is the sum of the two marked values. The model reads the
(B, T, 2) float inputs through its real-valued input path and regresses one number at the final step.

Loss: mean squared error. The sum of two independent U[0, 1] values has mean 1 and variance
2 / 12 = 1/6, so always answering 1 scores MSE 1/6 (``baseline_mse``): a model must go below it to
show it remembers the first marked value across up to T steps. ``baseline_mse_eval`` is the same
predictor's MSE on the run's own eval set, the fair yardstick for ``eval_mse`` (sampling noise).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from rnn_scratch.errors import ConfigError
from rnn_scratch.tasks.base import Batch, Task, supervised_positions
from rnn_scratch.tasks.registry import TaskConfig, register_task

BASELINE_MSE = 1.0 / 6.0
SOLVED_MSE = 0.1 * BASELINE_MSE  # solved: eval MSE at most a tenth of the always-1 predictor's


@dataclass
class AddingConfig(TaskConfig):
    """The adding problem: regress the sum of two marked values (rnn_scratch/tasks/adding.py)."""

    name: str = "adding"

    def check(self, seq_len: int) -> None:
        if seq_len < Adding.MIN_SEQ_LEN:
            need = f"adding needs seq_len >= {Adding.MIN_SEQ_LEN} (one marker per half)"
            raise ConfigError("seq_len", f"{need}, got {seq_len}")


@register_task(AddingConfig)
@dataclass
class Adding(Task):
    """x: (B, T, 2) float (value, marker); y: (B, 1) = the sum of the two marked values."""

    words = "the adding problem"
    MIN_SEQ_LEN = 2  # one step per half

    def __post_init__(self) -> None:
        self.input_size, self.n_outputs = 2, 1
        self.eval_baseline: float | None = None
        self.solved_rule = f"eval_mse <= 0.1 x 1/6 = {SOLVED_MSE:.4g}"

    def sample(self, n: int, generator: torch.Generator) -> Batch:
        device, steps, half = generator.device, self.seq_len, self.seq_len // 2
        values = torch.rand(n, steps, generator=generator, device=device)
        first = torch.randint(0, half, (n,), generator=generator, device=device)
        second = torch.randint(half, steps, (n,), generator=generator, device=device)
        rows = torch.arange(n, device=device)
        markers = torch.zeros_like(values)
        markers[rows, first] = 1.0
        markers[rows, second] = 1.0
        y = values[rows, first] + values[rows, second]
        return Batch(torch.stack([values, markers], dim=-1), y[:, None])

    def eval_set(self, n: int, generator: torch.Generator) -> Batch:
        """n fresh samples; also measures the always-1 predictor's MSE on exactly these."""
        batch = self.sample(n, generator)
        self.eval_baseline = F.mse_loss(torch.ones_like(batch.y), batch.y).item()
        return batch

    def loss(self, out: Tensor, y: Tensor, mask: Tensor | None = None) -> Tensor:
        """Mean squared error of the final-step outputs out: (B, 1) against the sums y: (B, 1)."""
        return F.mse_loss(*supervised_positions(out, y, mask))

    def metrics(self, out: Tensor, y: Tensor, mask: Tensor | None = None) -> dict[str, float]:
        mse = self.loss(out, y, mask).item()
        return {"loss": mse, "mse": mse}

    def solved(self, metrics: dict[str, float]) -> bool | None:
        return metrics["mse"] <= SOLVED_MSE

    def baselines(self) -> dict[str, float]:
        """``baseline_mse`` = 1/6 (always 1, in expectation); ``baseline_mse_eval``: on the eval set."""
        if self.eval_baseline is None:
            return {"baseline_mse": BASELINE_MSE}
        return {"baseline_mse": BASELINE_MSE, "baseline_mse_eval": self.eval_baseline}
