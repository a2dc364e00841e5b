"""Instruments: TensorBoard scalars, the per-timestep gradient profile, and the recurrence's dynamics.

Tags (docs/instruments.md says how to read them):

* ``train/loss``, ``train/acc``, ``eval/loss``, ``eval/acc``
* ``grad/norm``: global gradient norm before clipping; ``grad/clipped``: fraction of the steps since
  the last log that were clipped
* ``grad/h_first`` = ||dL/dh_1||, ``grad/h_last`` = ||dL/dh_T||, ``grad/h_ratio`` = first / last.
  The loss is computed at step T only, so dL/dh_1 is dL/dh_T carried back through T-1 Jacobians
  dh_t/dh_{t-1} = diag(1 - h_t^2) W_hh: a tiny ratio means the gradient vanished on the way, a huge
  one that it exploded (Bengio et al. 1994; Pascanu et al. 2013). ``grad/log10_h_first``,
  ``grad/log10_h_last``, ``grad/log10_h_ratio``: their log10, readable on a linear axis (1e-10 -> -10).
* ``grad/by_timestep``: heatmap image of log10 ||dL/dh_t||, training step (rows) x time step t (columns);
  its colour range is fitted per run unless ``color_range`` (config ``heatmap_range``) fixes it
* stacked layers (``model.num_layers`` > 1): ``grad/h_first``, ``grad/h_last``, ``grad/h_ratio`` (and
  their log10) per layer as ``.../layer<l>``; ``grad/by_timestep`` one panel per layer (layer 0, the
  bottom, at the bottom), the colour scale shared; ``dynamics/spectral_radius`` and ``sigma_max`` per
  layer as ``.../layer<l>``
* ``dynamics/spectral_radius`` (max |eigenvalue|) and ``dynamics/sigma_max`` (largest singular value) of
  W_hh (of its candidate block g/n for LSTM/GRU); ``dynamics/saturation``: fraction of |h| > 0.95
* ``perf/seq_per_s``; the config as text; an HParams session with the final metrics (a sweep's
  experiment summary is written once at its root: ``rnn_scratch.training.dashboard``).

The profile is also kept as a matrix (logged steps x T; stacked: logged steps x L x T, a layer axis)
and saved to ``grad_norms.npz``.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only, no display needed
import matplotlib.pyplot as plt  # noqa: E402
import matplotlib.ticker  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
from torch import Tensor  # noqa: E402
from torch.utils.tensorboard import SummaryWriter  # noqa: E402
from torch.utils.tensorboard.summary import hparams  # noqa: E402

from rnn_scratch.training.dashboard import name_session  # noqa: E402

SATURATION_THRESHOLD = 0.95


class GradientProfile:
    """||dL/ds_t|| for every time step t, one row per logged training step, for each state s (h, c);
    and the float64 probe (``rnn_scratch.training.probes``): one row per probe step (0, 1, 2, 4, ...,
    the last) on a fixed batch."""

    def __init__(self) -> None:
        self.steps: list[int] = []
        self.rows: dict[str, list[np.ndarray]] = {}
        self.probe_steps: list[int] = []
        self.probe_rows: dict[str, list[np.ndarray]] = {}

    def add(self, step: int, norms: dict[str, Tensor]) -> None:
        self.steps.append(step)
        for key, value in norms.items():
            self.rows.setdefault(key, []).append(value.detach().cpu().double().numpy())

    def add_probe(self, step: int, norms: dict[str, np.ndarray]) -> None:
        """A probe row (float64, NaN where nothing measurable arrived); a step probed twice keeps one."""
        if not norms or step in self.probe_steps:
            return
        self.probe_steps.append(step)
        for key, value in norms.items():
            self.probe_rows.setdefault(key, []).append(np.asarray(value, dtype=np.float64))

    def matrix(self, key: str = "h") -> np.ndarray:
        """(logged steps, T), stacked layers (logged steps, L, T); NaN where the core exposes no
        per-step gradient."""
        return np.stack(self.rows[key]) if self.rows.get(key) else np.empty((0, 0))

    def probe(self, key: str = "h") -> np.ndarray:
        """(probe steps, T) float64; stacked layers (probe steps, L, T)."""
        return np.stack(self.probe_rows[key]) if self.probe_rows.get(key) else np.empty((0, 0))

    def save(self, path: Path, losses: list[float]) -> None:
        """``steps`` (logged steps,), ``h`` (and ``c``): (logged steps, T), ``loss``: every step's loss;
        ``probe_steps`` (probes,), ``probe_h`` (and ``probe_c``): (probes, T) float64. Stacked layers
        add a layer axis before T: (logged steps, L, T), (probes, L, T), row l for layer l (0: bottom);
        ``layer_axis(array)`` reads either as (steps, L, T)."""
        arrays = {key: self.matrix(key) for key in self.rows}
        arrays.update({f"probe_{key}": self.probe(key) for key in self.probe_rows})
        steps = np.asarray(self.steps, dtype=np.int64)
        arrays.update(steps=steps, loss=np.asarray(losses, dtype=np.float64))
        arrays["probe_steps"] = np.asarray(self.probe_steps, dtype=np.int64)
        np.savez_compressed(path, **arrays)  # type: ignore[arg-type]  # numpy stubs: allow_pickle

    def state_dict(self) -> dict:
        probes = {k: list(v) for k, v in self.probe_rows.items()}
        return {
            "steps": list(self.steps), "rows": {k: list(v) for k, v in self.rows.items()},
            "probe_steps": list(self.probe_steps), "probe_rows": probes,
        }  # fmt: skip

    def load_state_dict(self, state: dict) -> None:
        self.steps = list(state["steps"])
        self.rows = {k: list(v) for k, v in state["rows"].items()}
        self.probe_steps = list(state.get("probe_steps", []))  # checkpoints from before the probe
        self.probe_rows = {k: list(v) for k, v in state.get("probe_rows", {}).items()}


def layer_axis(matrix: np.ndarray) -> np.ndarray:
    """A profile from ``grad_norms.npz`` or ``GradientProfile.matrix`` as (steps, L, T): a one-layer
    run's (steps, T), older files included, gets L = 1."""
    return matrix[:, None, :] if matrix.ndim == 2 else matrix


def recurrent_dynamics(block: Tensor) -> dict[str, float]:
    """Spectral radius and largest singular value of the (H, H) block that drives the state.

    The cell declares which block that is (``rnn_scratch.analysis.stepping.recurrent_block``): for the
    vanilla RNN W_hh itself; for LSTM (i, f, g, o) and GRU (r, z, n) the candidate block (g or n), which
    plays W_hh's role in the cell's update; for the IndRNN the diagonal matrix of its weights u.
    """
    block = block.detach().float()
    return {
        "spectral_radius": torch.linalg.eigvals(block).abs().max().item(),
        "sigma_max": torch.linalg.matrix_norm(block, ord=2).item(),
    }


def saturation(hidden: Tensor) -> float:
    """Fraction of hidden units with |h| > 0.95, where tanh's slope 1 - h^2 < 0.1 blocks gradient."""
    return (hidden.detach().abs() > SATURATION_THRESHOLD).float().mean().item()


def _draw(ax: plt.Axes, matrix: np.ndarray, steps: list[int], vmin: float | None, vmax: float | None) -> Any:
    """log10 of ``matrix`` (training steps x time steps) on ``ax``, rows centred on their step."""
    with np.errstate(divide="ignore", invalid="ignore"):
        data = np.log10(matrix)
    half_row = (steps[-1] - steps[0]) / max(len(steps) - 1, 1) / 2 or 0.5  # rows centred on their step
    extent = (0.5, matrix.shape[1] + 0.5, steps[-1] + half_row, steps[0] - half_row)
    im = ax.imshow(
        data, aspect="auto", cmap="viridis", extent=extent, interpolation="nearest", vmin=vmin, vmax=vmax
    )
    ax.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))  # time steps are whole
    ax.set_ylabel("training step")
    return im


def heatmap(
    matrix: np.ndarray, steps: list[int], title: str, color_range: tuple[float, float] | None = None
) -> plt.Figure:
    """log10 of a (training steps x time steps) matrix of gradient norms; ``color_range``: (lo, hi) of
    the log10 colour scale, the same for every run (None: fitted to this run)."""
    fig, ax = plt.subplots(figsize=(8, 4.5), dpi=100)
    vmin, vmax = color_range if color_range else (None, None)
    im = _draw(ax, matrix, steps, vmin, vmax)
    ax.set_xlabel("time step t (loss at t = T)")
    ax.set_title(title)
    fig.colorbar(im, ax=ax, label="log10 ||dL/dh_t||")
    fig.tight_layout()
    return fig


def layer_heatmaps(
    matrix: np.ndarray, steps: list[int], title: str, color_range: tuple[float, float] | None = None
) -> plt.Figure:
    """A (training steps, L, T) profile of stacked layers: one ``heatmap`` panel per layer, the top
    layer on top, on one log10 colour scale (``color_range``, or fitted to all layers)."""
    layers = matrix.shape[1]
    with np.errstate(divide="ignore", invalid="ignore"):
        logs = np.log10(matrix[np.isfinite(matrix) & (matrix > 0)])
    vmin, vmax = color_range if color_range else (logs.min(), logs.max()) if logs.size else (None, None)
    fig, axes = plt.subplots(layers, 1, figsize=(8, 1.2 + 1.6 * layers), dpi=100, sharex=True, squeeze=False)
    im: Any = None
    for row, ax in enumerate(axes[:, 0]):
        layer = layers - 1 - row  # the top layer drawn on top
        im = _draw(ax, matrix[:, layer], steps, vmin, vmax)
        ax.set_title(f"layer {layer}" + (" (read out)" if layer == layers - 1 else ""), fontsize=9)
    axes[-1, 0].set_xlabel("time step t (loss at t = T)")
    fig.suptitle(title)
    fig.colorbar(im, ax=axes[:, 0].tolist(), label="log10 ||dL/dh_t||")
    return fig


class Monitor:
    """Writes one run's TensorBoard events under ``log_dir`` and keeps its gradient profile."""

    def __init__(
        self, log_dir: Path, purge_step: int | None = None, color_range: tuple[float, float] | None = None
    ) -> None:
        # purge_step: a resumed run hides the events its interrupted self logged after the checkpoint
        self.writer = SummaryWriter(log_dir=str(log_dir), purge_step=purge_step)
        self.profile = GradientProfile()
        self.color_range = color_range

    def scalars(self, step: int, values: dict[str, float]) -> None:
        for tag, value in values.items():
            self.writer.add_scalar(tag, value, step)

    def text(self, tag: str, text: str) -> None:
        # Markdown: indent by four spaces so YAML keeps its layout.
        self.writer.add_text(tag, "    " + text.replace("\n", "\n    "))

    def gradient_profile(self, step: int, norms: dict[str, Tensor]) -> None:
        """Record ||dL/ds_t|| of this step; log first, last and their ratio when available (stacked
        layers: per layer, tags ending ``/layer<l>``)."""
        if not norms:
            return
        self.profile.add(step, norms)
        h = norms["h"].detach()
        rows = [("", h)] if h.dim() == 1 else [(f"/layer{i}", row) for i, row in enumerate(h)]
        for suffix, row in rows:
            first, last = row[0].item(), row[-1].item()
            if not (math.isfinite(first) and math.isfinite(last)):
                continue
            ratio = first / last if last > 0 else float("inf")
            logs = {"first": first, "last": last, "ratio": ratio}
            self.scalars(step, {f"grad/h_{k}{suffix}": v for k, v in logs.items()})
            self.scalars(step, {
                f"grad/log10_h_{k}{suffix}": math.log10(v) for k, v in logs.items() if 0 < v < math.inf
            })  # fmt: skip

    def log_train(
        self, step: int, metrics: dict[str, float], norms: dict[str, Tensor], hidden: Tensor,
        grad_norm: float, clipped: float, seq_per_s: float,
    ) -> None:  # fmt: skip
        """A logged training step: its metrics, the gradient evidence, saturation, speed, the profile."""
        self.scalars(step, {f"train/{k}": v for k, v in metrics.items()})
        self.scalars(step, {
            "grad/norm": grad_norm, "grad/clipped": clipped,
            "dynamics/saturation": saturation(hidden), "perf/seq_per_s": seq_per_s,
        })  # fmt: skip
        self.gradient_profile(step, norms)

    def log_eval(self, step: int, metrics: dict[str, float], blocks: list[Tensor]) -> None:
        """An eval: its metrics, the spectral radius and sigma_max of W_hh's driving block (H, H) of
        each layer (``blocks``, bottom first; stacked: tags ``.../layer<l>``), the heatmap so far."""
        self.scalars(step, {f"eval/{k}": v for k, v in metrics.items()})
        for i, block in enumerate(blocks):
            suffix = "" if len(blocks) == 1 else f"/layer{i}"
            dynamics = recurrent_dynamics(block)
            self.scalars(step, {f"dynamics/{k}{suffix}": v for k, v in dynamics.items()})
        self.gradient_heatmap(step)

    def gradient_heatmap(self, step: int) -> None:
        matrix = self.profile.matrix("h")
        if not (matrix.size and np.isfinite(matrix).any()):
            return
        title = "gradient reaching each time step"
        if matrix.ndim == 2:
            fig = heatmap(matrix, self.profile.steps, title, self.color_range)
        else:
            fig = layer_heatmaps(matrix, self.profile.steps, title, self.color_range)
        self.writer.add_figure("grad/by_timestep", fig, step, close=True)

    def figures(self, step: int, figures: dict[str, plt.Figure]) -> None:
        for tag, fig in figures.items():
            self.writer.add_figure(tag, fig, step, close=True)

    def hparams(
        self, params: dict[str, float | int | str | bool], metrics: dict[str, float], name: str | None = None
    ) -> None:
        """The run's keys and final metrics, for TensorBoard's HParams dashboard (same event file).

        A session only: the experiment (which keys and metrics) is the sweep's, which each of its jobs
        adds to its ``tb/`` (``rnn_scratch.training.dashboard``); for lone runs TensorBoard derives it
        from their sessions.
        ``name``: the session's "Trial ID" in the dashboard (default: the run's path).
        """
        _, session_start, session_end = hparams(params, metrics)
        if name:
            session_start = name_session(session_start, name)
        file_writer = self.writer._get_file_writer()
        for summary in (session_start, session_end):
            file_writer.add_summary(summary)

    def close(self) -> None:
        self.writer.flush()
        self.writer.close()
