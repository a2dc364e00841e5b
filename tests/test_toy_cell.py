"""A cell defined only here, registered here, and enrolled in the whole cell suite by that alone.

The toy is the linear RNN ``h_t = u_t + W_hh h_{t-1} + b_hh`` (no nonlinearity), with its BPTT by hand::

    g_t     = dL/dh_t (direct) + delta_{t+1} W_hh + (1 - m_{t+1}) g_{t+1}       delta_t = g_t * m_t
    dW_hh   = sum_t delta_t^T h_{t-1},   db_hh = sum_t delta_t,   dh_0 = delta_1 W_hh + (1 - m_1) g_1

Nothing outside this module knows it: the config choices, the classifier, the analysis and the
instruments find it through the registry. Its suite runs ``train()`` in this process where the package's
cells run ``scripts/train.py`` (a separate process knows only the package's cells and config files).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import torch
from cell_suite import Case, CellSuite, pytest_generate_tests  # noqa: F401 (the hook expands cases)
from torch import Tensor
from torch.autograd.function import once_differentiable

from rnn_scratch.models.base import Norms, RecurrentCell, State
from rnn_scratch.models.bptt.common import is_chunk_start, mask_factors, step_norms, weight_grad
from rnn_scratch.models.registry import model_names, register_cell, unregister_cell
from rnn_scratch.training.config import TrainConfig, validate
from rnn_scratch.training.loop import train


class LinearRecurrence(torch.autograd.Function):
    @staticmethod
    def forward(
        ctx: Any, u: Tensor, h0: Tensor, w: Tensor, b: Tensor | None, k: Any, norm: Any, mask: Any
    ) -> Tensor:  # type: ignore[override]
        hs, prev = torch.empty_like(u), h0
        for t in range(u.shape[0]):
            new = u[t] + prev @ w.t() + (0 if b is None else b)
            prev = hs[t] = new if mask is None else torch.where(mask[t, :, None], new, prev)
        ctx.save_for_backward(hs, h0, w, mask)
        ctx.k, ctx.norm, ctx.has_b = k, norm, b is not None
        return hs

    @staticmethod
    @once_differentiable
    def backward(ctx: Any, grad_hs: Tensor) -> tuple[Tensor | None, ...]:
        hs, h0, w, mask = ctx.saved_tensors
        g = grad_hs.clone()
        m, keep = (torch.ones_like(hs[..., :1]), None) if mask is None else mask_factors(mask, hs)[1:]
        for t in range(hs.shape[0] - 1, 0, -1):
            if not is_chunk_start(t, ctx.k):
                g[t - 1] += (g[t] * m[t]) @ w + (0 if keep is None else keep[t] * g[t])
        delta = g * m
        if ctx.norm is not None:
            ctx.norm.copy_(step_norms(g))
        grad_h0 = delta[0] @ w + (0 if keep is None else keep[0] * g[0])
        grad_b = delta.sum((0, 1)) if ctx.has_b else None
        return delta, grad_h0, weight_grad(delta, h0, hs), grad_b, None, None, None


class ToyLinearCell(RecurrentCell):
    """``h' = u + W_hh h + b_hh``: an RNN without its nonlinearity."""

    name, words = "toy_linear", "linear RNN (a test's toy)"

    def step(self, u: Tensor, state: State) -> Tensor:
        assert isinstance(state, Tensor)
        return u + self.recurrent_projection(state)

    def recurrence(
        self,
        u: Tensor,
        state: State,
        weight_hh: Tensor,
        bias_hh: Tensor | None,
        truncate: int | None = None,
        mask: Tensor | None = None,
        norms: Norms | None = None,
    ) -> tuple[Tensor, State]:
        norm = None if norms is None else norms.get("h")
        hs: Tensor = LinearRecurrence.apply(u, state, weight_hh, bias_hh, truncate, norm, mask)
        return hs, hs[-1]

    def jacobian_times(self, u: Tensor, s_prev: Tensor, q: Tensor) -> Tensor:
        return self.weight_hh @ q.to(s_prev.dtype)


@pytest.fixture(autouse=True, scope="module")
def registered() -> Iterator[None]:
    """The toy is a cell while this module's tests run, and no longer afterwards."""
    register_cell(ToyLinearCell)
    yield
    unregister_cell(ToyLinearCell.name)


class TestToyCell(CellSuite):
    cells = (ToyLinearCell,)
    test_parity_with_its_torch_reference = None  # type: ignore[assignment]  # no torch.nn twin to match
    test_stacked_parity_with_its_torch_reference = None  # type: ignore[assignment]

    def test_train_script_runs_it(self, case: Case, tmp_path: Path) -> None:
        """In this process: ``train()`` with ``model.name`` set to the toy, validated like any cell."""
        cfg = TrainConfig(seq_len=6, hidden_size=4, steps=5, eval_every=5, log_every=5, eval_size=16,
                          batch_size=4)  # fmt: skip
        cfg.model.name = case.name
        validate(cfg)
        metrics = train(cfg, tmp_path / "run", progress=False)
        assert metrics["status"] == "completed" and metrics["config"]["model"]["name"] == case.name
        assert math.isfinite(metrics["eval_loss"])


def test_registering_makes_it_a_model_choice_and_unregistering_undoes_it() -> None:
    assert ToyLinearCell.name in model_names()
    assert "torch_toy_linear" not in model_names()  # it declares no torch.nn reference
