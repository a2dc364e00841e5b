"""Forecasting a real time series: a window of ``seq_len`` values -> the value ``horizon`` steps later.

The series is one numeric column of a CSV file (``path``, ``column``; an optional ``date_column`` only
labels the figure; rows must be in time order). With no ``path`` it is the monthly sunspot numbers
1749-2008 shipped in ``rnn_scratch/data/`` (NOAA, public domain; see PROVENANCE.md there).

No leakage. The first ``split = floor(N * (1 - eval_fraction))`` values train: a training window and
its target lie wholly before ``split``. The eval windows are every window whose target lies at or
after ``split`` (their inputs may reach back into the training part, as a forecaster's would): each
held-out value is forecast once, up to ``eval_size`` evenly spaced. The normalisation

    z = (v - mean) / std        mean, std over the observed training values only

and the AR(p) baseline are fitted on the training part alone. The model reads x: (B, T, 1) of z
through its real-valued input path and regresses y: (B, 1), the target's z, at the final step (MSE).

Missing values (empty fields, NA, nan) are never interpolated: a window whose values or target touch
one is dropped, and the counts are reported (``windows_train_dropped``, ``windows_eval_dropped``).

Metrics: ``mse`` (= ``loss``, normalised units), ``mse_units`` = mse * std^2 and ``rmse_units`` (the
series' own units); on the eval set also each baseline's ``baseline_<name>_mse`` (and ``_units``) on
the same windows: persistence, seasonal naive (when the window reaches one ``season`` back), AR(p)
(see rnn_scratch/tasks/forecast.py). A model must beat all of them to claim anything.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from rnn_scratch.errors import ConfigError
from rnn_scratch.tasks.base import Batch, Task, supervised_positions
from rnn_scratch.tasks.forecast import baseline_forecasts, fit_ar, gather, read_column, window_starts
from rnn_scratch.tasks.registry import TaskConfig, fraction, positive, register_task

SHIPPED = Path(__file__).resolve().parents[1] / "data" / "sunspots_monthly.csv"
SHIPPED_DATES = "month"
FIGURE_POINTS = 240  # the eval tail drawn in eval/forecast


def _check(key: str, ok: bool, problem: str) -> None:
    if not ok:
        raise ConfigError(key, problem)


@dataclass
class SeriesConfig(TaskConfig):
    """Forecast one column of a CSV file (rnn_scratch/tasks/series.py); default: the shipped sunspots."""

    name: str = "series"
    path: str | None = None  # the CSV file; None: the monthly sunspot numbers shipped in rnn_scratch/data
    column: str | None = None  # the value column; None: the header's last column
    date_column: str | None = None  # optional, only labels the figure (shipped series: month)
    horizon: int = 1  # the target is the value this many steps after the window's end
    season: int = 132  # steps in a season, for the seasonal naive baseline (sunspots: ~11 years)
    ar_order: int | None = None  # p of the AR(p) baseline; None: seq_len (the whole window)
    eval_fraction: float = 0.2  # the held-out tail (chronological split)

    def check(self, seq_len: int) -> None:  # the file and the lengths: when the task reads it
        for key in ("horizon", "season", "ar_order"):
            positive(f"task.{key}", getattr(self, key), allow_none=key == "ar_order")
        fraction("task.eval_fraction", self.eval_fraction)


@register_task(SeriesConfig)
@dataclass
class Series(Task):
    """x: (B, seq_len, 1) float, the normalised window; y: (B, 1), the normalised value ``horizon`` later."""

    path: str | None = None
    column: str | None = None
    date_column: str | None = None
    horizon: int = 1
    season: int = 132
    ar_order: int | None = None
    eval_fraction: float = 0.2
    _data: dict[str, Tensor] = field(default_factory=dict, init=False, repr=False)

    def __post_init__(self) -> None:
        _check("task.horizon", self.horizon >= 1, f"must be >= 1, got {self.horizon}")
        _check("task.season", self.season >= 1, f"must be >= 1, got {self.season}")
        _check(
            "task.eval_fraction", 0 < self.eval_fraction < 1, f"must be in (0, 1), got {self.eval_fraction}"
        )
        order = self.seq_len if self.ar_order is None else self.ar_order
        _check(
            "task.ar_order",
            1 <= order <= self.seq_len,
            f"must be in [1, seq_len={self.seq_len}], got {order}",
        )
        path = SHIPPED if self.path is None else Path(self.path).expanduser()
        dates_key = SHIPPED_DATES if self.path is None and self.date_column is None else self.date_column
        _check("task.path", path.is_file(), f"{path} is not a file")
        raw, self.dates = read_column(path, self.column, dates_key)
        n, reach = len(raw), self.seq_len - 1 + self.horizon
        self.split = math.floor(n * (1 - self.eval_fraction))
        need = f"seq_len + horizon = {reach + 1} training values and at least one held-out value"
        too_short = f"{path} has {n} values: too short for eval_fraction={self.eval_fraction} ({need})"
        _check("task.path", self.split > reach and n > self.split, too_short)
        observed = ~np.isnan(raw)
        train_part = raw[: self.split][observed[: self.split]]
        flat = f"{path}: the training part has no spread to normalise by"
        _check("task.path", train_part.size > 1 and train_part.std() > 0, flat)
        self.mean, self.std = float(train_part.mean()), float(train_part.std())
        z = (raw - self.mean) / self.std
        self.train_starts = window_starts(observed, self.seq_len, self.horizon, reach, self.split - 1)
        self.eval_starts = window_starts(observed, self.seq_len, self.horizon, self.split, n - 1)
        self.info = {
            "series_length": n, "missing_values": int((~observed).sum()), "split_index": self.split,
            "windows_train": len(self.train_starts),
            "windows_train_dropped": self.split - reach - len(self.train_starts),
            "windows_eval": len(self.eval_starts),
            "windows_eval_dropped": n - self.split - len(self.eval_starts), "ar_order": order,
        }  # fmt: skip
        few = (
            f"{path}: {len(self.train_starts)} training and {len(self.eval_starts)} eval windows without "
            f"a gap: too few for seq_len={self.seq_len} and AR order {order}"
        )
        _check("task.path", len(self.train_starts) > order and len(self.eval_starts) > 0, few)
        windows = gather(z, self.train_starts, self.seq_len)
        self.ar_coef = fit_ar(windows, z[self.train_starts + reach], order)
        self.values = z  # NaN at gaps: only gap-free windows are ever gathered
        self._data["values"] = torch.from_numpy(np.nan_to_num(z)).float()
        self._data["starts"] = torch.from_numpy(self.train_starts)
        self.input_size, self.n_outputs = 1, 1
        self._eval_y: Tensor | None = None
        self._eval_starts_used = self.eval_starts

    def _on(self, device: torch.device, name: str = "values") -> Tensor:
        """A tensor of ``_data`` (the values, or ``starts``: the training window starts) on ``device``."""
        key = f"{name}@{device}"
        if key not in self._data:
            self._data[key] = self._data[name].to(device)
        return self._data[key]

    def windows(self, starts: Tensor) -> Batch:
        """The windows starting at ``starts`` (B,), x: (B, T, 1), and their targets y: (B, 1)."""
        data = self._on(starts.device)
        steps = torch.arange(self.seq_len, device=starts.device)
        target = data[starts + self.seq_len - 1 + self.horizon]
        return Batch(data[starts[:, None] + steps][..., None], target[:, None])

    def sample(self, n: int, generator: torch.Generator) -> Batch:
        device = generator.device
        pick = torch.randint(len(self.train_starts), (n,), generator=generator, device=device)
        return self.windows(self._on(device, "starts")[pick])

    def eval_set(self, n: int, generator: torch.Generator) -> Batch:
        """Up to ``n`` of the eval windows, evenly spaced, in time order; deterministic."""
        count = min(n, len(self.eval_starts))
        pick = np.linspace(0, len(self.eval_starts) - 1, count).round().astype(np.int64)
        self._eval_starts_used = self.eval_starts[pick]
        batch = self.windows(torch.as_tensor(self._eval_starts_used, device=generator.device))
        self._eval_y = batch.y
        return batch

    def loss(self, out: Tensor, y: Tensor, mask: Tensor | None = None) -> Tensor:
        """Mean squared error of the final-step outputs out: (B, 1) against the targets y: (B, 1)."""
        return F.mse_loss(*supervised_positions(out, y, mask))

    def metrics(self, out: Tensor, y: Tensor, mask: Tensor | None = None) -> dict[str, float]:
        """``loss`` = ``mse`` (normalised), ``mse_units``, ``rmse_units``; on the eval set (the very
        tensor ``eval_set`` returned) also each baseline's MSE on the same windows."""
        mse = self.loss(out, y, mask).item()
        values = {
            "loss": mse,
            "mse": mse,
            "mse_units": mse * self.std**2,
            "rmse_units": math.sqrt(mse) * self.std,
        }
        if y is self._eval_y:
            for name, mse_b in self.baseline_mse().items():
                values[f"baseline_{name}_mse"] = mse_b
                values[f"baseline_{name}_mse_units"] = mse_b * self.std**2
        return values

    def baseline_mse(self) -> dict[str, float]:
        """Each baseline's MSE (normalised units) on the eval windows in use."""
        starts, reach = self._eval_starts_used, self.seq_len - 1 + self.horizon
        truth = self.values[starts + reach]
        forecasts = baseline_forecasts(
            self.values, starts, self.seq_len, self.horizon, self.season, self.ar_coef
        )
        return {name: float(np.mean((f - truth) ** 2)) for name, f in forecasts.items()}

    def baselines(self) -> dict[str, Any]:
        """The window and gap counts, the normalisation, and whether the seasonal naive was available."""
        seasonal = self.horizon <= self.season <= self.seq_len - 1 + self.horizon
        return {**self.info, "norm_mean": self.mean, "norm_std": self.std, "seasonal_in_window": seasonal}

    def figures(self, out: Tensor, y: Tensor) -> dict[str, Any]:
        if y is not self._eval_y:
            return {}
        return {"eval/forecast": self.forecast_figure(out.detach().double().cpu().numpy()[:, 0])}

    def forecast_figure(self, pred: np.ndarray) -> Any:
        """The eval tail in the series' units: truth, the model's forecast and the best baseline."""
        from matplotlib.figure import Figure  # not pyplot: no backend is chosen for the caller

        starts, reach = self._eval_starts_used[-FIGURE_POINTS:], self.seq_len - 1 + self.horizon
        t = starts + reach
        units = lambda z: z * self.std + self.mean  # noqa: E731
        scores = self.baseline_mse()
        best = min(scores, key=scores.__getitem__)
        forecasts = baseline_forecasts(
            self.values, starts, self.seq_len, self.horizon, self.season, self.ar_coef
        )
        model_mse = float(np.mean((pred - self.values[self._eval_starts_used + reach]) ** 2))
        fig = Figure(figsize=(8, 3.2), dpi=80)
        ax = fig.subplots()
        ax.plot(t, units(self.values[t]), color="black", lw=1.2, label="truth")
        ax.plot(t, units(pred[-len(t) :]), color="tab:red", lw=1, label=f"model (MSE {model_mse:.3g})")
        ax.plot(t, units(forecasts[best]), color="tab:blue", lw=1, ls="--",
                label=f"{best} (MSE {scores[best]:.3g})")  # fmt: skip
        if self.dates:
            ticks = t[:: max(len(t) // 6, 1)]
            ax.set_xticks(ticks, [self.dates[i] for i in ticks])
        ax.set_xlabel("time step" if not self.dates else "")
        ax.set_title(f"eval tail: {self.horizon}-step forecasts, window {self.seq_len} (MSE normalised)")
        ax.legend(loc="upper left", fontsize=8)
        fig.tight_layout()
        return fig
