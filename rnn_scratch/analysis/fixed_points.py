"""Fixed and slow points of the autonomous cell (Sussillo & Barak 2013; Golub & Sussillo 2018).

With the input held constant at ``u`` (zero input: ``u = b_ih``; or the mean projected input), the
cell is a map ``s -> F(s, u)``. Its fixed points and slow points minimise the speed

    q(s) = ½ ‖F(s, u) - s‖²

Starting from many states (taken from real trajectories, jittered), Adam descends q for all of them
at once; the minima with q below ``tol`` are kept, near-duplicates merged, and each is classified by
the eigenvalues λ of the step Jacobian ``J = dF/ds`` there: a discrete-time map is stable along a
direction when |λ| < 1. ``stable`` (all |λ| < 1), ``saddle`` (some > 1) or ``unstable`` (all > 1).
An attractor per class is how a trained network can hold a key indefinitely; a single stable point
at the origin means every input is forgotten at the rate of its largest |λ|.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from rnn_scratch.analysis.stepping import jacobians, step_flat
from rnn_scratch.models.cells import RecurrentCell


@dataclass
class FixedPoints:
    """``points`` (P, n); ``speed`` q at each (P,); ``eigenvalues`` (P, n) complex, by |λ| descending;
    ``kind``: stable | saddle | unstable for each; ``min_speed``: the lowest q any start reached
    (above ``tol`` when none was kept: then the search found slow points only)."""

    points: Tensor
    speed: Tensor
    eigenvalues: Tensor
    kind: list[str]
    min_speed: float = float("nan")

    def summary(self) -> dict[str, object]:
        """Counts and the largest |λ| of each point, as JSON-ready values."""
        return {
            "count": len(self.kind),
            "stable": self.kind.count("stable"),
            "saddle": self.kind.count("saddle"),
            "unstable": self.kind.count("unstable"),
            "max_abs_eigenvalue": [round(float(v), 6) for v in self.eigenvalues.abs()[:, 0]]
            if len(self.kind)
            else [],
            "speed": [float(v) for v in self.speed],
            "min_speed": self.min_speed,
        }


def classify(eigenvalues: Tensor) -> str:
    """stable | saddle | unstable, from the eigenvalues (n,) of a discrete-time map's Jacobian."""
    outside = eigenvalues.abs() > 1
    return "stable" if not outside.any() else ("unstable" if outside.all() else "saddle")


def find_fixed_points(
    cell: RecurrentCell,
    u: Tensor,
    starts: Tensor,
    *,
    steps: int = 1000,
    lr: float = 1e-2,
    tol: float = 1e-8,
    merge: float = 1e-3,
) -> FixedPoints:
    """Minimise q from every start. u: (G*H,) the constant projected input; starts: (P, n) flat states.

    ``tol``: keep minima with q < tol (1e-8: fixed points; raise it to keep slow points too).
    ``merge``: points closer than ``merge`` times the state's scale count once (the slowest kept).
    """
    s = starts.detach().double().clone().requires_grad_(True)
    cell64 = _as_float64(cell)
    ub = u.detach().double().expand(len(s), -1)
    opt = torch.optim.Adam([s], lr=lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps)
    for _ in range(steps):
        opt.zero_grad()
        q = 0.5 * ((step_flat(cell64, ub, s) - s) ** 2).sum(-1)
        q.sum().backward()
        opt.step()
        sched.step()
    with torch.no_grad():
        s = _newton(cell64, ub, s.detach())
        speed = 0.5 * ((step_flat(cell64, ub, s) - s) ** 2).sum(-1)
        order = speed.argsort()
        scale = max(s.abs().max().item(), 1.0)
        kept: list[int] = []
        for i in order.tolist():
            if speed[i] < tol and all((s[i] - s[j]).norm() > merge * scale for j in kept):
                kept.append(i)
        points = s[kept]
        eig = (
            torch.linalg.eigvals(jacobians(cell64, ub[: len(kept)], points))
            if kept
            else s.new_zeros(0, s.shape[1])
        )
        eig = torch.stack([e[e.abs().argsort(descending=True)] for e in eig]) if kept else eig
    kinds = [classify(e) for e in eig]
    return FixedPoints(points, speed[kept], eig, kinds, speed.min().item())


def _newton(cell: RecurrentCell, u: Tensor, s: Tensor, iters: int = 8) -> Tensor:
    """Polish the minima: Newton steps on F(s) - s = 0, each kept only where it lowers q."""
    eye = torch.eye(s.shape[1], dtype=s.dtype, device=s.device)
    for _ in range(iters):
        residual = step_flat(cell, u, s) - s
        try:
            delta = torch.linalg.solve(jacobians(cell, u, s) - eye, residual[..., None])[..., 0]
        except RuntimeError:  # a singular J - I somewhere: keep Adam's answer
            return s
        new = s - delta
        better = (step_flat(cell, u, new) - new).norm(dim=-1) < residual.norm(dim=-1)
        s = torch.where(better[:, None], new, s)
    return s


def _as_float64(cell: RecurrentCell) -> RecurrentCell:
    """A float64 copy of the cell: the search goes below float32's resolution of q."""
    import copy

    twin = copy.deepcopy(cell).double()
    for p in twin.parameters():
        p.requires_grad_(False)
    return twin
