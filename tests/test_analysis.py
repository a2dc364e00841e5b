"""Hidden-state dynamics (rnn_scratch.analysis): analytic cases, a trained model, the real scripts."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import ROOT, TINY, run_script
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from rnn_scratch import GRU, LSTM, RNN
from rnn_scratch.analysis import (
    as_cell,
    find_fixed_points,
    lyapunov_exponents,
    memory_capacity,
    memory_curve,
    product_norms,
    project,
    run,
    target_decoding,
)
from rnn_scratch.analysis.stepping import jacobian_times, jacobians, state_size, step_flat
from rnn_scratch.models.baselines import TorchRecurrentBaseline
from rnn_scratch.models.cells import RNNCell
from rnn_scratch.training.config import TrainConfig
from rnn_scratch.training.loop import train

ANALYZE = ROOT / "scripts" / "analyze.py"
NEW_SCALARS = {"memory/target_last", "memory/target_mean", "memory/capacity", "dynamics/lyapunov_max"}
NEW_IMAGES = {"memory/curve", "dynamics/trajectories"}


@pytest.mark.parametrize("a", [0.5, 0.9, 1.3])
def test_orthogonal_times_a_has_every_exponent_ln_a(a: float) -> None:
    torch.manual_seed(0)
    core = RNN(3, 8).double()
    with torch.no_grad():
        core.weight_hh.copy_(a * torch.linalg.qr(torch.randn(8, 8, dtype=torch.float64))[0])
        core.bias_hh.zero_()
        core.bias_ih.zero_()
    exponents = lyapunov_exponents(core, torch.zeros(40, 2, 3, dtype=torch.float64), k=8)
    assert exponents.shape == (8,)
    torch.testing.assert_close(
        exponents, torch.full((8,), math.log(a), dtype=torch.float64), atol=1e-6, rtol=0
    )
    # and ||J^k|| = a^k exactly: the product norms along the same (constant) trajectory
    u = torch.zeros(10, 2, 8, dtype=torch.float64)
    norms = product_norms(core.cell, u, run(core.cell, u))
    torch.testing.assert_close(norms, torch.tensor([a**k for k in range(9, -1, -1)], dtype=torch.float64))


@pytest.mark.parametrize("layer, kwargs", [(RNN, {}), (RNN, {"nonlinearity": "relu"}), (LSTM, {}), (GRU, {})])
def test_hand_derived_jacobians_equal_autograd(layer: type, kwargs: dict) -> None:
    torch.manual_seed(1)
    cell = layer(3, 5, **kwargs).double().cell
    s = torch.randn(4, state_size(cell), dtype=torch.float64)
    u = torch.randn(4, cell.n_gates * 5, dtype=torch.float64)

    def one(ui: torch.Tensor, si: torch.Tensor) -> torch.Tensor:
        return step_flat(cell, ui[None], si[None])[0]

    expected = torch.func.vmap(torch.func.jacrev(one, argnums=1))(u, s)
    torch.testing.assert_close(jacobians(cell, u, s), expected)
    q = torch.randn(4, state_size(cell), 2, dtype=torch.float64)
    torch.testing.assert_close(jacobian_times(cell, u, s, q), expected @ q)


@pytest.mark.parametrize(
    "kind, kwargs", [("rnn", {}), ("rnn", {"nonlinearity": "relu"}), ("lstm", {}), ("gru", {})]
)
def test_torch_baselines_are_stepped_through_a_copied_cell(kind: str, kwargs: dict) -> None:
    torch.manual_seed(2)
    core = TorchRecurrentBaseline(kind, 4, 6, **kwargs).double()
    idx = torch.randint(4, (7, 3))
    expected, _ = core.forward_indices(idx)
    cell = as_cell(core)
    states = run(cell, project(cell, idx))
    torch.testing.assert_close(states[1:, :, :6], expected.detach())
    assert lyapunov_exponents(core, idx, k=2).shape == (2,)


def test_memory_function_of_linear_networks() -> None:
    gen = torch.Generator().manual_seed(0)
    steps, batch, n = 60, 400, 4
    x = torch.randn(steps, batch, generator=gen, dtype=torch.float64)
    # a delay line of n units holds x_t .. x_{t-n+1} exactly: r²(k) = 1 for k < n, 0 beyond
    delay = torch.stack([torch.cat([x[t - k : t - k + 1] if t >= k else torch.zeros(1, batch, dtype=x.dtype)
                                    for k in range(n)]).T for t in range(steps)])  # fmt: skip
    curve = memory_curve(delay, x, max_lag=8)
    assert (curve[:n] > 0.999).all() and (curve[n:] < 0.02).all()
    assert memory_capacity(curve) == pytest.approx(n, abs=0.1)
    # one leaky unit h_t = a h_{t-1} + x_t, white x: r²(k) = (1 - a²) a^{2k}, MC = 1
    a, h, states = 0.8, torch.zeros(batch, dtype=x.dtype), []
    for t in range(steps):
        h = a * h + x[t]
        states.append(h[:, None])
    curve = memory_curve(torch.stack(states)[20:], x[20:], max_lag=10)
    expected = torch.tensor([(1 - a**2) * a ** (2 * k) for k in range(11)], dtype=torch.float64)
    torch.testing.assert_close(curve.double(), expected, atol=0.02, rtol=0)


def test_fixed_points_of_a_two_unit_cell() -> None:
    # h' = tanh(diag(2, 0.5) h): the origin is a saddle (eigenvalues 2 and 0.5), and (±h*, 0) with
    # h* = tanh(2 h*) are stable: J = diag(1 - h*², 1) diag(2, 0.5), eigenvalues 0.5 and 2 (1 - h*²)
    cell = RNNCell(1, 2).double()
    with torch.no_grad():
        cell.weight_hh.copy_(torch.diag(torch.tensor([2.0, 0.5], dtype=torch.float64)))
        cell.bias_hh.zero_()
    star = 1.0
    for _ in range(200):
        star = math.tanh(2 * star)
    starts = torch.randn(32, 2, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    found = find_fixed_points(cell, torch.zeros(2, dtype=torch.float64), starts)
    order = found.points[:, 0].argsort()
    expected = torch.tensor([[-star, 0.0], [0.0, 0.0], [star, 0.0]], dtype=torch.float64)
    torch.testing.assert_close(found.points[order], expected, atol=1e-6, rtol=0)
    assert [found.kind[i] for i in order] == ["stable", "saddle", "stable"]
    eig = found.eigenvalues[order[1]].real
    torch.testing.assert_close(eig, torch.tensor([2.0, 0.5], dtype=torch.float64))
    torch.testing.assert_close(
        found.eigenvalues[order[2]].real, torch.tensor([0.5, 2 * (1 - star**2)], dtype=torch.float64)
    )


def test_probe_decodes_a_trained_short_lag_key_at_every_step(tmp_path: Path) -> None:
    cfg = TrainConfig(seq_len=6, hidden_size=32, steps=200, eval_every=200, eval_size=512, log_every=50,
                      checkpoint_every=200, device="cpu", analysis=False)  # fmt: skip
    metrics = train(cfg, tmp_path, progress=False)
    assert metrics["eval_acc"] > 0.95
    from rnn_scratch.study.analyze import load_run

    model, _, data, _ = load_run(tmp_path)
    cell = as_cell(model.core)
    states = run(cell, project(cell, data.x.T))
    decoded = target_decoding(states[1:, :, :32], data.y)
    assert (decoded["acc"] > 0.9).all(), decoded["acc"]


def test_instruments_in_tensorboard_and_off_by_key(tmp_path: Path) -> None:
    losses = {}
    for on in ("true", "false"):
        out = tmp_path / on
        proc = run_script([*TINY, "seq_len=6", f"analysis={on}", f"hydra.run.dir={out}"], cwd=tmp_path)
        assert proc.returncode == 0, proc.stderr
        acc = EventAccumulator(str(out / "tb"), size_guidance={"scalars": 0, "images": 0})
        acc.Reload()
        scalars, images = set(acc.Tags()["scalars"]), set(acc.Tags()["images"])
        losses[on] = [e.value for e in acc.Scalars("train/loss")]
        metrics = json.loads((out / "metrics.json").read_text())
        if on == "true":
            assert scalars >= NEW_SCALARS and images >= NEW_IMAGES
            assert [e.step for e in acc.Scalars("dynamics/lyapunov_max")] == [3, 6]
            assert [e.step for e in acc.Images("memory/curve")] == [6]  # images: last eval only
            assert metrics["dynamics_lyapunov_max"] == pytest.approx(
                acc.Scalars("dynamics/lyapunov_max")[-1].value
            )
            assert 0 <= metrics["memory_target_last"] <= 1 and metrics["memory_capacity"] >= 0
        else:
            assert not scalars & NEW_SCALARS and not images & NEW_IMAGES
            assert "memory_capacity" not in metrics
    assert losses["true"] == losses["false"]  # the instruments draw no random numbers


@pytest.mark.slow
def test_analyze_script_on_a_real_run(train_run, tmp_path: Path) -> None:
    proc, run_dir = train_run("seq_len=6", "model=lstm", "analysis=false")
    assert proc.returncode == 0, proc.stderr
    proc = run_script([str(run_dir), str(run_dir)], cwd=tmp_path, script=ANALYZE)
    assert proc.returncode == 0, proc.stderr
    out = run_dir / "dynamics"
    result = json.loads((out / "dynamics.json").read_text())
    assert len(result["target_score"]) == 6 and len(result["memory_curve"]) == 6
    assert len(result["product_norms"]) == 6 and result["product_norms"][-1] == pytest.approx(1.0)
    assert result["lyapunov"] == sorted(result["lyapunov"], reverse=True)
    assert result["fixed_points"]["count"] >= 1 and len(result["grad_profile"]) == 6
    assert np.isfinite(result["lyapunov_max"])
    for name in ("memory.png", "lyapunov.png", "trajectories.png", "compare.png"):
        assert (out / name).stat().st_size > 1000
    bad = run_script([str(tmp_path / "nowhere")], cwd=tmp_path, script=ANALYZE)
    assert bad.returncode == 2 and bad.stderr.strip().count("\n") == 0 and "run_dir" in bad.stderr
