"""The tests every registered cell gets: parametrised over the registry, so registering a cell enrols it.

``CellSuite`` is a mixin of test methods taking a ``case``: a cell with one setting of its options (the
RNN once with tanh and once with ReLU, from what it declares in ``nonlinearities``). A test module uses it as
``class TestX(CellSuite): cells = (...)`` and imports ``pytest_generate_tests`` from here, which expands
``case`` (every case of ``cells``) and ``reference_case`` (only cells with a ``torch.nn`` reference).
``tests/test_cells.py`` runs it on every cell the package registers; ``tests/test_toy_cell.py`` on a cell
defined and registered inside that test module only.

What it checks, per case:

* parity with the cell's ``torch.nn`` reference (float64, 1e-10): outputs, final state, every gradient;
  at one layer and stacked two deep (``torch.nn.RNN/LSTM/GRU(num_layers=2)``);
* the hand-derived BPTT (``cell.recurrence``) against autograd through the plain loop (full, with a
  padding mask, truncated) and, where it is the true gradient (not truncated), against finite
  differences (``torch.autograd.gradcheck``, float64); the same for two stacked layers, through time
  and depth, on smaller sizes;
* the analysis Jacobian (``cell.jacobian_times``) against autograd's;
* Lyapunov exponents on a case with a known answer: with k = n the exponents sum to the mean of
  ``ln |det J_t|`` along the trajectory (volume growth), whatever the cell;
* the instruments at H = 1 and H = 2 (memory probe, lambda_1, spectral radius of ``recurrent_block``);
* a short run of ``scripts/train.py`` (``steps=5``) naming it (``configs/model/<name>.yaml``); a cell that
  lives in a test module only has no config file, and its suite runs ``train()`` in that process instead.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import torch
from conftest import ROOT, run_script

from rnn_scratch.analysis.lyapunov import lyapunov_spectrum
from rnn_scratch.analysis.stepping import as_cell, jacobian_times, project, recurrent_blocks, run, step_flat
from rnn_scratch.models.base import RecurrentCell
from rnn_scratch.models.baselines import TorchRecurrentBaseline
from rnn_scratch.models.classifier import build_model
from rnn_scratch.models.config import ModelConfig
from rnn_scratch.models.layers import Recurrent
from rnn_scratch.models.registry import cell_class, cell_names
from rnn_scratch.tasks import make_task
from rnn_scratch.training.instruments import eval_dynamics
from rnn_scratch.training.monitor import recurrent_dynamics

I, H, T, B = 3, 4, 6, 5  # noqa: E741 (input size, as torch names it)


@dataclass(frozen=True)
class Case:
    """A registered cell with one setting of its options: ``Case("rnn", {"nonlinearity": "relu"})``."""

    name: str
    model: dict[str, Any] = field(default_factory=dict)  # ModelConfig keys beyond the name

    @property
    def id(self) -> str:
        return "-".join([self.name, *map(str, self.model.values())])

    def config(self) -> ModelConfig:
        return ModelConfig(name=self.name, **self.model)

    def layer(
        self, bptt: str = "autograd", truncate: int | None = None, seq_len: int = T, num_layers: int = 1
    ) -> Recurrent:
        """The layer (float64) with the options the config gives this cell (``cell.options``)."""
        cls = cell_class(self.name)
        options = cls.options(self.config(), seq_len)
        return Recurrent(I, H, num_layers, bptt=bptt, truncate=truncate, cell_class=cls, **options).double()


def cases(cells: tuple[type[RecurrentCell], ...]) -> list[Case]:
    """Every cell of ``cells``, once per nonlinearity it may be given (none declared: once)."""
    out = []
    for cls in cells:
        choices = cls.nonlinearities
        out += (
            [Case(cls.name, {"nonlinearity": nl}) for nl in choices] if len(choices) > 1 else [Case(cls.name)]
        )
    return out


def package_cells() -> tuple[type[RecurrentCell], ...]:
    """The cells the package itself registers (a test module may register more)."""
    classes = (cell_class(n) for n in cell_names())
    return tuple(c for c in classes if c.__module__.startswith("rnn_scratch."))


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    cells = getattr(metafunc.cls, "cells", None)
    if cells is None:
        return
    all_cases = cases(tuple(cells))
    if "case" in metafunc.fixturenames:
        metafunc.parametrize("case", all_cases, ids=[c.id for c in all_cases])
    if "reference_case" in metafunc.fixturenames:
        refs = {c.name for c in cells if c.torch_reference is not None}
        with_ref = [c for c in all_cases if c.name in refs]
        metafunc.parametrize("reference_case", with_ref, ids=[c.id for c in with_ref])


def state_tensors(state: torch.Tensor | tuple[torch.Tensor, ...]) -> tuple[torch.Tensor, ...]:
    return (state,) if isinstance(state, torch.Tensor) else state


class CellSuite:
    """The suite; a subclass sets ``cells`` (cell classes, registered while its tests run)."""

    cells: tuple[type[RecurrentCell], ...] = ()

    def test_parity_with_its_torch_reference(self, reference_case: Case) -> None:
        torch.manual_seed(0)
        ours = reference_case.layer()
        theirs = TorchRecurrentBaseline(reference_case.name, I, H, **reference_case.model).double()
        with torch.no_grad():
            for name, p in ours.named_parameters():
                getattr(theirs.rnn, f"{name}_l0").copy_(p)
        x = torch.randn(T, B, I, dtype=torch.float64)
        state = ours.cell.initial_state(B, x)
        state = tuple(torch.randn_like(s) for s in state_tensors(state))
        given = state[0] if len(state) == 1 else state
        out_a, fin_a = ours(x, given)
        out_b, fin_b = theirs(x, given)
        torch.testing.assert_close(out_a, out_b, atol=1e-10, rtol=0)
        for a, b in zip(state_tensors(fin_a), state_tensors(fin_b), strict=True):
            torch.testing.assert_close(a, b, atol=1e-10, rtol=0)
        w = torch.randn_like(out_a)
        names = [name for name, _ in ours.named_parameters()]
        loss_a = (out_a * w).sum() + sum(s.sum() for s in state_tensors(fin_a))
        loss_b = (out_b * w).sum() + sum(s.sum() for s in state_tensors(fin_b))
        grads_a = torch.autograd.grad(loss_a, [getattr(ours, n) for n in names])
        grads_b = torch.autograd.grad(loss_b, [getattr(theirs.rnn, f"{n}_l0") for n in names])
        for a, b in zip(grads_a, grads_b, strict=True):
            torch.testing.assert_close(a, b, atol=1e-10, rtol=0)

    def test_stacked_parity_with_its_torch_reference(self, reference_case: Case) -> None:
        """Two layers against ``torch.nn.*(num_layers=2)``: torch's parameter names in torch's order
        (copied by position), the (L, B, H) state in and out, every gradient (input and state too)."""
        torch.manual_seed(0)
        ours = reference_case.layer(num_layers=2)
        theirs = TorchRecurrentBaseline(reference_case.name, I, H, num_layers=2, **reference_case.model)
        theirs = theirs.double()
        names = [n for n, _ in ours.named_parameters()]
        assert names == [n for n, _ in theirs.rnn.named_parameters()]
        with torch.no_grad():
            for p, q in zip(ours.parameters(), theirs.rnn.parameters(), strict=True):
                q.copy_(p)
        x = torch.randn(T, B, I, dtype=torch.float64, requires_grad=True)
        names = ours.cells[0].state_names
        parts = [torch.randn(2, B, H, dtype=torch.float64, requires_grad=True) for _ in names]
        given = parts[0] if len(parts) == 1 else tuple(parts)
        (out_a, fin_a), (out_b, fin_b) = ours(x, given), theirs(x, given)
        torch.testing.assert_close(out_a, out_b, atol=1e-10, rtol=0)
        assert all(s.shape == (2, B, H) for s in state_tensors(fin_a))
        for a, b in zip(state_tensors(fin_a), state_tensors(fin_b), strict=True):
            torch.testing.assert_close(a, b, atol=1e-10, rtol=0)
        w = torch.randn_like(out_a)
        loss_a = (out_a * w).sum() + sum((s**2).sum() for s in state_tensors(fin_a))
        loss_b = (out_b * w).sum() + sum((s**2).sum() for s in state_tensors(fin_b))
        grads_a = torch.autograd.grad(loss_a, [x, *parts, *ours.parameters()])
        grads_b = torch.autograd.grad(loss_b, [x, *parts, *theirs.rnn.parameters()])
        for a, b in zip(grads_a, grads_b, strict=True):
            torch.testing.assert_close(a, b, atol=1e-10, rtol=0)

    @pytest.mark.parametrize("variant", ["full", "mask", "truncate"])
    def test_stacked_hand_derived_bptt_is_the_gradient(self, case: Case, variant: str) -> None:
        """Two layers: the hand-derived backward of each layer, chained through the input projection
        of the layer above, is autograd's gradient for every input, state and weight of both layers
        (and the true one: gradcheck, untruncated), with the same mask and truncation in each layer."""
        torch.manual_seed(5)
        t, b = 4, 2  # small: gradcheck perturbs every entry of both layers
        k = 2 if variant == "truncate" else None
        manual = case.layer("manual", k, num_layers=2)
        auto = case.layer("autograd", k, num_layers=2)
        auto.load_state_dict(manual.state_dict())
        mask = None if variant != "mask" else torch.arange(t)[:, None] < torch.tensor([t, 2])[None, :]
        x = torch.randn(t, b, I, dtype=torch.float64, requires_grad=True)
        names = manual.cells[0].state_names
        s0 = [torch.randn(2, b, H, dtype=torch.float64, requires_grad=True) for _ in names]
        w = torch.randn(t, b, H, dtype=torch.float64)

        def loss(layer: Recurrent, x: torch.Tensor, *rest: torch.Tensor) -> torch.Tensor:
            out, final = layer(x, rest[0] if len(rest) == 1 else tuple(rest), mask)
            return (out * w).sum() + sum((s**2).sum() for s in state_tensors(final))

        if k is None:
            params = tuple(manual.parameters())
            assert torch.autograd.gradcheck(lambda *a: loss(manual, *a[: 1 + len(s0)]), (x, *s0, *params))
        got = torch.autograd.grad(loss(manual, x, *s0), [x, *s0, *manual.parameters()])
        want = torch.autograd.grad(loss(auto, x, *s0), [x, *s0, *auto.parameters()])
        for a, b_ in zip(got, want, strict=True):
            torch.testing.assert_close(a, b_, atol=1e-10, rtol=1e-10)

    @pytest.mark.parametrize("variant", ["full", "mask", "truncate"])
    def test_hand_derived_bptt_is_the_gradient(self, case: Case, variant: str) -> None:
        torch.manual_seed(1)
        k = 2 if variant == "truncate" else None
        manual, auto = case.layer("manual", k), case.layer("autograd", k)
        auto.load_state_dict(manual.state_dict())
        cell = manual.cell
        u = torch.randn(T, B, cell.n_gates * H, dtype=torch.float64, requires_grad=True)
        mask = None
        if variant == "mask":  # right padding: rows of lengths T, T - 2, 1, ...
            lengths = torch.tensor([T, T - 2, 1, 3, T])
            mask = torch.arange(T)[:, None] < lengths[None, :]
        h0 = tuple(torch.randn(B, H, dtype=torch.float64, requires_grad=True) for _ in cell.state_names)
        w = torch.randn(T, B, H, dtype=torch.float64)

        def loss(layer: Recurrent, u: torch.Tensor, *rest: torch.Tensor) -> torch.Tensor:
            state = rest[0] if len(rest) == 1 else tuple(rest)
            out, final = layer.forward_projected(u, state, mask)
            return (out * w).sum() + sum((s**2).sum() for s in state_tensors(final))

        # the recurrence's own weights: the input weights and bias act before it (u is given)
        params = [manual.weight_hh, manual.bias_hh]
        if k is None:  # against finite differences (truncation is not the true gradient, by design)
            assert torch.autograd.gradcheck(lambda *a: loss(manual, *a[: 1 + len(h0)]), (u, *h0, *params))
        # against autograd through the plain loop: the same gradient for every input and weight
        auto_params = [auto.weight_hh, auto.bias_hh]
        got = torch.autograd.grad(loss(manual, u, *h0), [u, *h0, *params])
        want = torch.autograd.grad(loss(auto, u, *h0), [u, *h0, *auto_params])
        for a, b in zip(got, want, strict=True):
            torch.testing.assert_close(a, b, atol=1e-10, rtol=1e-10)

    def test_analysis_jacobian_equals_autograd(self, case: Case) -> None:
        torch.manual_seed(2)
        cell = case.layer().cell
        s = torch.randn(B, cell.state_size, dtype=torch.float64)
        u = torch.randn(B, cell.n_gates * H, dtype=torch.float64)

        def one(ui: torch.Tensor, si: torch.Tensor) -> torch.Tensor:
            return step_flat(cell, ui[None], si[None])[0]

        expected = torch.func.vmap(torch.func.jacrev(one, argnums=1))(u, s)
        q = torch.randn(B, cell.state_size, 3, dtype=torch.float64)
        torch.testing.assert_close(jacobian_times(cell, u, s, q), expected @ q, atol=1e-12, rtol=1e-10)

    def test_stacked_analysis_jacobian_equals_autograd(self, case: Case) -> None:
        """Two layers stepped as one cell (``as_cell``): its step is the layer's, its block-triangular
        Jacobian (each cell's own and the coupling through W_ih^1) autograd's, one block per layer."""
        torch.manual_seed(6)
        layer = case.layer(num_layers=2)
        cell: Any = as_cell(layer)
        assert [b.shape for b in recurrent_blocks(layer)] == [(H, H), (H, H)]
        x = torch.randn(3, 2, I, dtype=torch.float64)
        states = run(cell, project(cell, x))
        out, final = layer(x)
        torch.testing.assert_close(states[1:, :, :H], out, atol=1e-12, rtol=0)  # s[:H]: the top h
        u = project(cell, x)[-1]
        s = states[-2] + 0.1 * torch.randn_like(states[-2])

        def one(ui: torch.Tensor, si: torch.Tensor) -> torch.Tensor:
            return step_flat(cell, ui[None], si[None])[0]

        expected = torch.func.vmap(torch.func.jacrev(one, argnums=1))(u, s)
        q = torch.randn(2, cell.state_size, 3, dtype=torch.float64)
        torch.testing.assert_close(jacobian_times(cell, u, s, q), expected @ q, atol=1e-12, rtol=1e-10)

    def test_lyapunov_exponents_sum_to_the_volume_growth(self, case: Case) -> None:
        """With k = n the QR method's exponents sum to (1/T) sum_t ln|det J_t|: volume grows so."""
        torch.manual_seed(3)
        cell = case.layer().cell
        with torch.no_grad():  # a weak recurrence and a positive drive: every ReLU unit stays active,
            cell.weight_hh.mul_(0.2)  # so no J_t is singular and every ln|det J_t| is finite
        n = cell.state_size
        u = 2.0 + 0.3 * torch.randn(T, 2, cell.n_gates * H, dtype=torch.float64)
        states = run(cell, u, 0.1 * torch.rand(2, n, dtype=torch.float64))
        exponents = lyapunov_spectrum(cell, u, states, k=n)

        def step(t: int, b: int) -> torch.Tensor:
            return torch.func.jacrev(lambda s: step_flat(cell, u[t, b][None], s[None])[0])(states[t, b])

        log_det = torch.stack(
            [torch.linalg.slogdet(step(t, b)).logabsdet for b in range(2) for t in range(T)]
        )
        expected = log_det.mean()  # the mean over steps of each trajectory, then over trajectories
        assert math.isfinite(expected.item())
        torch.testing.assert_close(exponents.sum(), expected, atol=1e-8, rtol=1e-8)

    @pytest.mark.parametrize("hidden", [1, 2])
    def test_instruments_at_tiny_hidden_sizes(self, case: Case, hidden: int) -> None:
        torch.manual_seed(4)
        task = make_task("recall", 6)
        model = build_model(case.config(), task.input_size, hidden, task.n_outputs, seq_len=6)
        data = task.eval_set(32, torch.Generator().manual_seed(1))
        skipped: dict[str, str] = {}
        scalars, drawn = eval_dynamics(model, data, figures=True, skipped=skipped)
        assert {"memory/capacity", "dynamics/lyapunov_max"} <= set(scalars), skipped
        assert all(math.isfinite(v) for v in scalars.values()), scalars
        assert "memory/curve" in drawn
        if model.core.cell.state_size == 1:  # a 1-D state has no PCA plane, and says so
            assert set(skipped) == {"dynamics/trajectories"}
        else:
            assert not skipped and "dynamics/trajectories" in drawn
        block = model.core.cell.recurrent_block()
        assert block.shape == (hidden, hidden)
        assert math.isfinite(recurrent_dynamics(block)["spectral_radius"])

    def test_train_script_runs_it(self, case: Case, tmp_path: Path) -> None:
        assert (ROOT / "configs" / "model" / f"{case.name}.yaml").is_file()
        options = [f"model.{k}={v}" for k, v in case.model.items()]
        run_dir = tmp_path / "run"
        proc = run_script(
            ["steps=5", "eval_every=5", "log_every=5", "eval_size=16", "batch_size=4", "hidden_size=4",
             "seq_len=6", f"model={case.name}", *options, f"hydra.run.dir={run_dir}"], cwd=tmp_path,
        )  # fmt: skip
        assert proc.returncode == 0, proc.stderr[-2000:]
        metrics = json.loads((run_dir / "metrics.json").read_text())
        assert metrics["status"] == "completed" and metrics["config"]["model"]["name"] == case.name
        assert math.isfinite(metrics["eval_loss"])
