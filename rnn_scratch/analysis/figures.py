"""Figures of the dynamics instruments (matplotlib, Agg), shared by the monitor and scripts/analyze.py."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.axes import Axes  # noqa: E402

KIND_MARKERS = {"stable": ("o", "black"), "saddle": ("x", "red"), "unstable": ("^", "red")}


def time_axis(
    ax: Axes,
    target: np.ndarray | None,
    grad: np.ndarray | None,
    product: np.ndarray | None = None,
    chance: float | None = None,
) -> None:
    """Forward and backward on one time axis t = 1..T: the probe's accuracy of decoding the target
    from h_t (left axis) against ‖dL/dh_t‖ and ‖∂s_T/∂s_t‖ (right axis, log)."""
    if target is not None:
        t = np.arange(1, len(target) + 1)
        ax.plot(t, target, color="tab:blue", marker=".", label="target decoded from h_t (probe acc)")
        if chance is not None:
            ax.axhline(chance, color="tab:blue", ls=":", lw=1, label="chance")
        ax.set_ylim(0, 1.05)
    ax.set_xlabel("time step t (loss at t = T)")
    ax.set_ylabel("probe accuracy", color="tab:blue")
    right = ax.twinx()
    if grad is not None and np.isfinite(grad).any():
        right.semilogy(np.arange(1, len(grad) + 1), grad, color="tab:red", label="‖dL/dh_t‖ (last logged)")
    if product is not None:
        right.semilogy(
            np.arange(1, len(product) + 1), product, color="tab:orange", ls="--", label="‖∂s_T/∂s_t‖"
        )
    right.set_ylabel("backward (log)", color="tab:red")
    lines = ax.get_legend_handles_labels()[0] + right.get_legend_handles_labels()[0]
    labels = [str(line.get_label()) for line in lines]  # below the axes: no curve is hidden
    ax.legend(lines, labels, fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=2)


def memory_axis(ax: Axes, curve: np.ndarray, capacity: float) -> None:
    """The memory function r²(k): the input k steps back decoded from the state."""
    ax.plot(np.arange(len(curve)), curve, marker=".", color="tab:green")
    ax.set_xlabel("distance k (steps back)")
    ax.set_ylabel("r² of x_{t-k} from h_t")
    ax.set_ylim(0, 1.05)
    ax.set_title(f"memory function, MC = {capacity:.2f}", fontsize=9)


def memory_figure(
    target: np.ndarray | None,
    grad: np.ndarray | None,
    curve: np.ndarray,
    capacity: float,
    chance: float | None = None,
    product: np.ndarray | None = None,
) -> plt.Figure:
    fig, (left, mid) = plt.subplots(1, 2, figsize=(9, 3.9), dpi=80, gridspec_kw={"width_ratios": [3, 2]})
    time_axis(left, target, grad, product, chance)
    left.set_title("forward memory vs backward gradient", fontsize=9)
    memory_axis(mid, curve, capacity)
    fig.tight_layout()
    return fig


def trajectories_axis(
    ax: Axes,
    proj: np.ndarray,
    labels: np.ndarray | None,
    points: np.ndarray | None = None,
    kinds: list[str] | None = None,
) -> None:
    """proj: (T + 1, B, 2) states on the PCA plane, one line per sequence, coloured by label;
    points: (P, 2) fixed points, marked by kind."""
    cmap = plt.get_cmap("tab10")
    for b in range(proj.shape[1]):
        color = cmap(int(labels[b]) % 10) if labels is not None else "gray"
        ax.plot(proj[:, b, 0], proj[:, b, 1], color=color, lw=0.8, alpha=0.7)
        ax.plot(proj[-1, b, 0], proj[-1, b, 1], "o", color=color, ms=3)
    if points is not None and kinds:
        for kind in ("stable", "saddle", "unstable"):
            sel = [i for i, k in enumerate(kinds) if k == kind]
            if sel:
                marker, color = KIND_MARKERS[kind]
                ax.scatter(
                    points[sel, 0],
                    points[sel, 1],
                    marker=marker,
                    c=color,
                    s=40,
                    zorder=5,
                    label=f"{kind} ({len(sel)})",
                )
        ax.legend(fontsize=7)
    ax.set_xlabel("PC 1")
    ax.set_ylabel("PC 2")


def trajectories_figure(
    proj: np.ndarray,
    labels: np.ndarray | None,
    explained: np.ndarray,
    points: np.ndarray | None = None,
    kinds: list[str] | None = None,
) -> plt.Figure:
    fig, ax = plt.subplots(figsize=(4.5, 4), dpi=80)
    trajectories_axis(ax, proj, labels, points, kinds)
    ax.set_title(
        f"state trajectories (PCA, {100 * explained[:2].sum():.0f}% var.), colour = label", fontsize=9
    )
    fig.tight_layout()
    return fig


def lyapunov_axis(ax: Axes, exponents: np.ndarray) -> None:
    ax.plot(np.arange(1, len(exponents) + 1), exponents, marker="o", ms=3)
    ax.axhline(0, color="gray", lw=0.8)
    ax.set_xlabel("index i")
    ax.set_ylabel("λ_i (per step, ln)")
    ax.set_title(f"Lyapunov spectrum, λ_1 = {exponents[0]:.3f}", fontsize=9)
