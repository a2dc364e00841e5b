"""The gradient across time and depth, for ``scripts/analyze.py``: runs of different depth side by side.

A run's ``grad_norms.npz`` holds the float64 gradient probe (``rnn_scratch.training.probes``): on one
fixed batch, ``||dL/dh_t^l||`` for every step t and layer l, at initialisation and at the run's end
(``probe_h``: (probes, T), or (probes, L, T) for stacked layers). With the loss at the last step of
the top layer, the gradient reaching ``h_t^l`` has come back T - t steps in time and L - 1 - l layers
down. One panel per run, one line per layer (layer 0, the bottom, darkest), solid at the end of
training and dashed at initialisation, on one log axis shared by the panels: a 1-layer and a 3-layer
run at the same distance T show how much of the decay depth adds and where the gradient vanishes first.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from rnn_scratch.analysis.figures import plt
from rnn_scratch.training.config import ConfigError
from rnn_scratch.training.monitor import layer_axis


def probe_by_layer(run_dir: Path) -> tuple[np.ndarray, list[int], dict]:  # type: ignore[type-arg]
    """(probe rows (probes, L, T), their training steps, the run's config) of a run folder."""
    path = run_dir / "grad_norms.npz"
    if not path.is_file():
        raise ConfigError("run_dir", f"no grad_norms.npz in {run_dir}")
    saved = np.load(path)
    if "probe_h" not in saved or not saved["probe_h"].size:
        raise ConfigError("run_dir", f"{path} holds no gradient probe (a torch_* baseline records none)")
    config = json.loads((run_dir / "metrics.json").read_text())["config"]
    return layer_axis(saved["probe_h"]), saved["probe_steps"].tolist(), config


def depth_figure(run_dirs: list[Path]) -> plt.Figure:
    """One panel per run: ``||dL/dh_t^l||`` against t, a line per layer, at initialisation (dashed)
    and at the end (solid); log axis shared."""
    fig, axes = plt.subplots(1, len(run_dirs), figsize=(4.6 * len(run_dirs), 3.6), dpi=90, sharey=True,
                             squeeze=False)  # fmt: skip
    for ax, run_dir in zip(axes[0], run_dirs, strict=True):
        rows, steps, config = probe_by_layer(run_dir)
        layers, length = rows.shape[1:]
        t = np.arange(1, length + 1)
        colours = plt.cm.viridis(np.linspace(0.0, 0.75, layers))
        for layer in range(layers):
            label = f"layer {layer}" + (" (read out)" if layer == layers - 1 else "")
            ax.semilogy(t, rows[-1, layer], color=colours[layer], label=f"{label}, step {steps[-1]}")
            if steps[0] == 0 and len(steps) > 1:
                ax.semilogy(t, rows[0, layer], color=colours[layer], ls="--", lw=1.0, label=f"{label}, init")
        model = config["model"]
        ax.set_title(
            f"{model['name']} ({model.get('nonlinearity', 'tanh')}), {layers} layer{'s' * (layers > 1)}, "
            f"T = {config['seq_len']}, H = {config['hidden_size']}", fontsize=9,
        )  # fmt: skip
        ax.set_xlabel("time step t (loss at t = T, top layer)")
        ax.legend(fontsize=7, loc="lower right")
    axes[0, 0].set_ylabel("||dL/dh_t|| (float64 probe)")
    fig.tight_layout()
    return fig
