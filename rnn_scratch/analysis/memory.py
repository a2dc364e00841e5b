"""Memory, forward: what a linear read-out can decode from the hidden state, step by step.

A *probe* is a ridge regression fitted in closed form on one half of the sequences and scored on the
other half (features centred on the fit half, an intercept implied)::

    W = (X^T X + α I)^{-1} X^T Y        X: (N, H) states, Y: (N, D) targets (one-hot for classes)

Scores on the held-out half: ``r2 = 1 - Σ‖Y - XW‖² / Σ‖Y - Ȳ‖²`` (clamped at 0; for one scalar
target this is the squared correlation of Jaeger's memory function) and, for class targets, the
accuracy of ``argmax(XW)``.

* ``target_decoding``: for every step t, the task's target (the recall key, the temporal-order class)
  decoded from ``h_t``. A model that carries the key decodes it at every step after it was seen.
* ``memory_curve``: for every distance k, the input ``x_{t-k}`` decoded from ``h_t``, pooled over t:
  the memory function ``r²(k)`` of reservoir computing, and the memory capacity
  ``MC = Σ_k r²(k)`` (Jaeger 2001). For a linear delay line of n units, r²(k) = 1 for k < n and
  MC = n; for h_t = a h_{t-1} + x_t with white x, r²(k) = (1 - a²) a^{2k}.
"""

from __future__ import annotations

import torch
from torch import Tensor

RIDGE = 1e-3  # relative to the mean feature variance: keeps the solve well posed, biases little


def ridge_probe(
    x_fit: Tensor, y_fit: Tensor, x_test: Tensor, y_test: Tensor, alpha: float = RIDGE
) -> dict[str, float]:
    """Fit ``y ≈ x W + b`` on the fit rows, score on the test rows. x: (N, F), y: (N, D) or (N,)
    class indices (then one-hot, and ``acc`` is reported too). Computed in float64."""
    classes = not y_fit.is_floating_point()
    n_classes = int(max(y_fit.max(), y_test.max()).item()) + 1 if classes else 0
    if classes:
        y_fit_m = torch.nn.functional.one_hot(y_fit, n_classes).double()
        y_test_m = torch.nn.functional.one_hot(y_test, n_classes).double()
    else:
        y_fit_m, y_test_m = y_fit.double().reshape(len(y_fit), -1), y_test.double().reshape(len(y_test), -1)
    x_fit, x_test = x_fit.double(), x_test.double()
    x_mean, y_mean = x_fit.mean(0), y_fit_m.mean(0)
    xc = x_fit - x_mean
    gram = xc.T @ xc
    scale = gram.diagonal().mean().clamp_min(1e-12)
    eye = torch.eye(gram.shape[0], dtype=gram.dtype, device=gram.device)
    w = torch.linalg.solve(gram + alpha * scale * eye, xc.T @ (y_fit_m - y_mean))
    pred = (x_test - x_mean) @ w + y_mean
    total = ((y_test_m - y_test_m.mean(0)) ** 2).sum().clamp_min(1e-300)
    out = {"r2": max(0.0, 1.0 - (((y_test_m - pred) ** 2).sum() / total).item())}
    if classes:
        out["acc"] = (pred.argmax(-1) == y_test).double().mean().item()
    return out


def _halves(n: int) -> tuple[slice, slice]:
    if n < 4:
        raise ValueError(f"probes need at least 4 sequences (two to fit, two to score), got {n}")
    return slice(0, n // 2), slice(n // 2, n)


def target_decoding(hidden: Tensor, y: Tensor, alpha: float = RIDGE) -> dict[str, Tensor]:
    """The target decoded from each step's state. hidden: (T, B, H), y: (B,) classes or (B, D) values
    -> ``{"r2": (T,), "acc": (T,)}`` (``acc`` for classes only). The first half of B fits, the rest scores."""
    fit, test = _halves(hidden.shape[1])
    rows = [ridge_probe(h[fit], y[fit], h[test], y[test], alpha) for h in hidden]
    return {key: torch.tensor([r[key] for r in rows]) for key in rows[0]}


def memory_curve(
    hidden: Tensor,
    inputs: Tensor,
    max_lag: int | None = None,
    alpha: float = RIDGE,
    max_rows: int | None = None,
) -> Tensor:
    """r²(k), k = 0..max_lag, of decoding the input ``inputs[t - k]`` from ``hidden[t]``, pooled over t.

    hidden: (T, B, H) states after each step; inputs: (T, B) character indices or (T, B, D) values.
    max_lag: at most T - 1 (default). The first half of B fits, the rest scores. ``max_rows``: cap
    the fit rows per distance by using every m-th step t only (None: all steps).
    """
    steps = hidden.shape[0]
    max_lag = steps - 1 if max_lag is None else min(max_lag, steps - 1)
    fit, test = _halves(hidden.shape[1])
    curve = []
    for k in range(max_lag + 1):
        stride = 1 if max_rows is None else max(1, -(-(steps - k) * (fit.stop or 0) // max_rows))
        h, x = hidden[k::stride], inputs[: steps - k : stride]  # h_t with x_{t-k}

        def pool(part: Tensor, rows: slice) -> Tensor:
            return part[:, rows].reshape(-1, *part.shape[2:])

        curve.append(ridge_probe(pool(h, fit), pool(x, fit), pool(h, test), pool(x, test), alpha)["r2"])
    return torch.tensor(curve)


def memory_capacity(curve: Tensor) -> float:
    """MC = Σ_k r²(k) (Jaeger 2001): how many past inputs the state holds, in units of one input."""
    return float(curve.sum())
