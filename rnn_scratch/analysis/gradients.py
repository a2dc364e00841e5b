"""The backward view as one number: how fast the gradient fades per step on its way back from the loss.

With the loss at step T only, dL/dh_t = (J_T ... J_{t+1})^T dL/dh_T, so over a stretch where the
Jacobians act alike ||dL/dh_t|| ~ C e^{a (T - t)}. ``decay_rate`` fits a by least squares,

    ln ||dL/dh_t|| = c + a (T - t),     t = 1..T   (only finite, positive norms)

per step, natural log: a < 0 vanishing, a > 0 exploding. The top Lyapunov exponent lambda_1 is the
growth rate of the same product seen forward (``rnn_scratch.analysis.lyapunov``), so a ~ lambda_1 when
the gradient lines up with the most expanding direction; the two part where the profile is not one
exponential (saturation switching the Jacobians off at some steps, gates that route the gradient
around W_hh, a short T dominated by the transient from h_0 = 0).
"""

from __future__ import annotations

import numpy as np

MIN_POINTS = 3


def distances(length: int) -> np.ndarray:
    """T - t for t = 1..T: (T,) from T - 1 down to 0."""
    return np.arange(length - 1, -1, -1, dtype=np.float64)


def decay_rate(norms: np.ndarray | list[float], burn_in: int = 0) -> float | None:
    """Slope of ln ||dL/dh_t|| against T - t from ``norms`` (T,), indexed t = 1..T, fitted on the
    window t = ``burn_in``+1..T (the steps the Lyapunov exponent averages over); None with fewer than
    ``MIN_POINTS`` finite positive values there. Norms below float64's smallest normal number (an
    underflowed profile) are left out: the slope is then that of the part still measurable."""
    y = np.asarray(norms, dtype=np.float64)
    if y.ndim != 1:
        raise ValueError(f"norms must be (T,), got shape {y.shape}")
    d = distances(y.size)
    keep = np.isfinite(y) & (y > np.finfo(np.float64).tiny) & (np.arange(y.size) >= burn_in)
    if keep.sum() < MIN_POINTS:
        return None
    slope = np.polyfit(d[keep], np.log(y[keep]), 1)[0]
    return float(slope)
