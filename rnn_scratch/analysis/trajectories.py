"""Trajectories: the states of a few sequences projected on their top principal components.

PCA by the SVD of the centred states ``S - mean = U Σ V^T`` (S: (N, n), all steps of all sequences
stacked): the projection on the top two right singular vectors is the plane in which the states
vary most; ``explained`` is each component's share of the total variance.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor


@dataclass
class PCA:
    """``mean`` (n,), ``components`` (d, n) orthonormal rows, ``explained`` (d,) variance fractions."""

    mean: Tensor
    components: Tensor
    explained: Tensor

    def project(self, s: Tensor) -> Tensor:
        """(..., n) -> (..., d)."""
        return (s - self.mean) @ self.components.T


def fit_pca(states: Tensor, d: int = 2) -> PCA:
    """Top-d principal components of states (..., n), every leading index a sample."""
    flat = states.reshape(-1, states.shape[-1]).double()
    mean = flat.mean(0)
    _, sv, vh = torch.linalg.svd(flat - mean, full_matrices=False)
    var = sv**2
    return PCA(mean, vh[:d], var[:d] / var.sum().clamp_min(1e-300))
