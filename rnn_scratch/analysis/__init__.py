"""Hidden-state dynamics: how information travels forward through the state, next to how the gradient
travels back. Pure functions on a core (or its cell) and its inputs:

* ``memory``: linear probes, the memory function r²(k) and memory capacity (Jaeger 2001)
* ``lyapunov``: step Jacobians, their products, Lyapunov exponents by QR (Benettin et al. 1980)
* ``trajectories``: PCA of the states
* ``gradients``: the gradient profile's decay rate per step, fitted (comparable with lambda_1)
* ``fixed_points``: fixed and slow points of the autonomous cell (Sussillo & Barak 2013)
* ``stepping``: a core stepped one input at a time; ``figures``: their figures

May import: ``models`` (and ``errors``); never a run folder or the training harness. The training loop's
choice of instruments lives in ``rnn_scratch.training.instruments``, the post-hoc analysis of a run in
``rnn_scratch.study.analyze``.
"""

from rnn_scratch.analysis.fixed_points import FixedPoints, find_fixed_points
from rnn_scratch.analysis.lyapunov import lyapunov_exponents, lyapunov_spectrum, product_norms
from rnn_scratch.analysis.memory import memory_capacity, memory_curve, ridge_probe, target_decoding
from rnn_scratch.analysis.stepping import as_cell, project, run, step_jacobians
from rnn_scratch.analysis.trajectories import fit_pca

__all__ = [
    "FixedPoints",
    "as_cell",
    "find_fixed_points",
    "fit_pca",
    "lyapunov_exponents",
    "lyapunov_spectrum",
    "memory_capacity",
    "memory_curve",
    "product_norms",
    "project",
    "ridge_probe",
    "run",
    "step_jacobians",
    "target_decoding",
]
