"""Post-hoc dynamics of a finished run, for ``scripts/analyze.py``: load the run's checkpoint, rebuild
its model and its eval set, measure everything (at full size, unlike the cheap eval-time subset),
write ``dynamics.json`` and figures, and draw several runs side by side."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import torch

from rnn_scratch.analysis.figures import (
    lyapunov_axis,
    memory_axis,
    memory_figure,
    plt,
    time_axis,
    trajectories_axis,
    trajectories_figure,
)
from rnn_scratch.analysis.fixed_points import find_fixed_points
from rnn_scratch.analysis.lyapunov import lyapunov_spectrum, product_norms
from rnn_scratch.analysis.memory import memory_capacity, memory_curve, target_decoding
from rnn_scratch.analysis.stepping import state_size
from rnn_scratch.analysis.trajectories import fit_pca
from rnn_scratch.training.checkpoint import load_trained
from rnn_scratch.training.config import ConfigError
from rnn_scratch.training.instruments import drive
from rnn_scratch.training.loop import EVAL_SEED_OFFSET
from rnn_scratch.training.monitor import layer_axis

PROBES, LYAPUNOV, K, TRAJECTORIES, STARTS = 1024, 32, 16, 24, 64


def load_run(run_dir: Path) -> tuple[Any, Any, Any, dict[str, Any]]:
    """(model, task, eval set, config dict) of a run folder, as training left them."""
    model, task, cfg = load_trained(run_dir)
    data = task.eval_set(cfg["eval_size"], torch.Generator().manual_seed(cfg["seed"] + EVAL_SEED_OFFSET))
    if data.lengths is not None:
        raise ConfigError("run_dir", f"task={cfg['task']['name']} pads sequences of different lengths; "
                          "the dynamics analysis needs aligned steps")  # fmt: skip
    return model, task, data, cfg


@torch.no_grad()
def analyze(run_dir: Path, fixed_input: str = "mean", seed: int = 0) -> dict[str, Any]:
    """Everything about one run, as arrays and numbers (``dynamics.json`` holds its lists)."""
    model, task, data, cfg = load_run(run_dir)
    cell, x, u, states = drive(model, data, PROBES)
    hidden = states[1:, :, : cell.hidden_size]
    decoded = target_decoding(hidden, data.y[: hidden.shape[1]])
    curve = memory_curve(hidden, x, max_rows=8192)
    k = min(K, state_size(cell))
    exponents = lyapunov_spectrum(cell, u[:, :LYAPUNOV], states[:, :LYAPUNOV], k, seed)
    products = product_norms(cell, u[:, :LYAPUNOV], states[:, :LYAPUNOV])
    # The autonomous cell: the input held at zero (u = b_ih) or at its mean over the eval steps.
    zero = cell.bias_ih.detach() if cell.bias_ih is not None else u.new_zeros(u.shape[-1])
    u_fixed = u.mean((0, 1)) if fixed_input == "mean" else zero
    gen = torch.Generator().manual_seed(seed)
    flat = states[1:].reshape(-1, states.shape[-1])
    starts = flat[torch.randint(len(flat), (STARTS,), generator=gen)]
    starts = starts + 0.1 * starts.std() * torch.randn(starts.shape, generator=gen)
    with torch.enable_grad():
        fixed = find_fixed_points(cell, u_fixed, starts)
    pca = fit_pca(states[1:, :TRAJECTORIES])
    metrics = (
        json.loads((run_dir / "metrics.json").read_text()) if (run_dir / "metrics.json").exists() else {}
    )
    grad = np.load(run_dir / "grad_norms.npz")["h"] if (run_dir / "grad_norms.npz").exists() else None
    by_layer = None if grad is None or not len(grad) else layer_axis(grad)[-1]  # (L, T), bottom first
    return {
        "run_dir": str(run_dir),
        "model": cfg["model"]["name"], "task": cfg["task"]["name"], "seq_len": cfg["seq_len"],
        "hidden_size": cfg["hidden_size"], "eval_acc": metrics.get("eval_acc"), "chance": task.chance or None,
        "target_score": decoded.get("acc", decoded["r2"]).numpy(),
        "target_metric": "acc" if "acc" in decoded else "r2",
        "memory_curve": curve.numpy(), "memory_capacity": memory_capacity(curve),
        "lyapunov": exponents.numpy(), "product_norms": products.numpy(),
        # the top layer's: the state the memory probes decode (stacked: every layer's, bottom first)
        "grad_profile": None if by_layer is None else by_layer[-1], "grad_profile_by_layer": by_layer,
        "fixed_points": fixed, "fixed_input": fixed_input,
        "pca": pca, "proj": pca.project(states[:, :TRAJECTORIES].double()).numpy(),
        "labels": None if data.y.is_floating_point() else data.y[:TRAJECTORIES].numpy(),
    }  # fmt: skip


def to_json(result: dict[str, Any]) -> dict[str, Any]:
    """The JSON-ready part of ``analyze``'s result."""
    out: dict[str, Any] = {}
    for key, value in result.items():
        if key in ("pca", "proj", "labels"):
            continue
        if key == "fixed_points":
            out[key] = value.summary()
        elif isinstance(value, np.ndarray):
            out[key] = value.astype(float).tolist()
        else:
            out[key] = value
    out["lyapunov_max"] = out["lyapunov"][0]
    out["pca_explained"] = [float(v) for v in result["pca"].explained]
    return out


def write_run(result: dict[str, Any], out_dir: Path) -> list[Path]:
    """``dynamics.json``, ``memory.png``, ``lyapunov.png``, ``trajectories.png`` in out_dir."""
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "dynamics.json").write_text(json.dumps(to_json(result), indent=2) + "\n")
    r = result
    figs = {
        "memory.png": memory_figure(r["target_score"], r["grad_profile"], r["memory_curve"],
                                    r["memory_capacity"], r["chance"], r["product_norms"]),
        "trajectories.png": trajectories_figure(r["proj"], r["labels"], r["pca"].explained.numpy(),
                                                *_fixed_on_plane(r)),
    }  # fmt: skip
    fig, ax = plt.subplots(figsize=(4, 3), dpi=80)
    lyapunov_axis(ax, r["lyapunov"])
    fig.tight_layout()
    figs["lyapunov.png"] = fig
    paths = []
    for name, fig in figs.items():
        fig.savefig(out_dir / name)
        plt.close(fig)
        paths.append(out_dir / name)
    return [out_dir / "dynamics.json", *paths]


def _fixed_on_plane(r: dict[str, Any]) -> tuple[np.ndarray, list[str]]:
    fixed = r["fixed_points"]
    return r["pca"].project(fixed.points.double()).numpy(), fixed.kind


def compare_figure(results: list[dict[str, Any]]) -> plt.Figure:
    """One row per run: forward memory vs backward gradient on one time axis, the memory function,
    the Lyapunov spectrum, the trajectories with the fixed points."""
    fig, axes = plt.subplots(len(results), 4, figsize=(17, 4.0 * len(results)), dpi=70, squeeze=False,
                             gridspec_kw={"width_ratios": [3, 2, 2, 2]})  # fmt: skip
    for row, r in zip(axes, results, strict=True):
        time_axis(row[0], r["target_score"], r["grad_profile"], r["product_norms"], r["chance"])
        acc = f"{r['eval_acc']:.2f}" if r["eval_acc"] is not None else "?"
        row[0].set_title(f"{r['model']} seq_len={r['seq_len']}: eval acc {acc}", fontsize=9)
        memory_axis(row[1], r["memory_curve"], r["memory_capacity"])
        lyapunov_axis(row[2], r["lyapunov"])
        trajectories_axis(row[3], r["proj"], r["labels"], *_fixed_on_plane(r))
        summary = r["fixed_points"].summary()
        title = (
            f"{summary['count']} fixed points ({r['fixed_input']} input), min q {summary['min_speed']:.0e}"
        )
        row[3].set_title(title, fontsize=9)
    fig.tight_layout()
    return fig
