"""Stacked layers (``model.num_layers``): dropout between layers, the config key, a real training run at
two layers with both backward modes, and the instruments across depth. Parity and the hand-derived
BPTT at two layers are in the cell suite (tests/cell_suite.py), for every registered cell."""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import run_script

import rnn_scratch
import rnn_scratch.benchmark.timing as bm
from rnn_scratch.errors import ConfigError
from rnn_scratch.models.classifier import build_model
from rnn_scratch.models.config import ModelConfig
from rnn_scratch.study.depth import depth_figure
from rnn_scratch.tasks import make_task
from rnn_scratch.tasks.text import TextConfig
from rnn_scratch.training.checkpoint import load_trained
from rnn_scratch.training.cli.sample import sample_text
from rnn_scratch.training.config import TrainConfig, validate
from rnn_scratch.training.instruments import eval_dynamics
from rnn_scratch.training.loop import train
from rnn_scratch.training.monitor import GradientProfile, layer_axis, layer_heatmaps


def test_one_layer_keeps_the_cells_names_and_a_stack_takes_torchs() -> None:
    one = rnn_scratch.LSTM(3, 4)
    assert [n for n, _ in one.named_parameters()] == ["weight_ih", "weight_hh", "bias_ih", "bias_hh"]
    assert one.cell is one.cells[0]
    stack = rnn_scratch.LSTM(3, 4, num_layers=3)
    ref = torch.nn.LSTM(3, 4, num_layers=3)
    assert [(n, p.shape) for n, p in stack.named_parameters()] == [
        (n, p.shape) for n, p in ref.named_parameters()
    ]
    with pytest.raises(AttributeError):
        _ = stack.cell  # a stack has a cell per layer: .cells
    with pytest.raises(ValueError, match="num_layers"):
        rnn_scratch.RNN(3, 4, True)  # the old positional bias is refused, not taken for one layer


def test_a_one_layer_model_draws_the_same_initial_weights_as_before() -> None:
    """num_layers=1 consumes the global stream exactly as the layer did (checkpoints, README numbers)."""
    torch.manual_seed(0)
    model = build_model(ModelConfig(name="lstm"), 5, 4, 3)
    torch.manual_seed(0)
    cell = rnn_scratch.LSTMCell(5, 4)
    assert torch.equal(model.core.weight_hh, cell.weight_hh)
    assert "core.weight_hh" in model.state_dict()


def test_stacked_state_goes_in_and_out_as_torchs_and_the_top_layer_is_read_out() -> None:
    torch.manual_seed(1)
    model = build_model(ModelConfig(name="gru", num_layers=2), 5, 4, 3).double()
    x = torch.randint(0, 5, (6, 7))
    out, hidden = model(x)
    _, final = model.core.forward_indices(x.t())
    assert isinstance(final, torch.Tensor) and final.shape == (2, 6, 4)
    torch.testing.assert_close(hidden[-1], final[-1])
    torch.testing.assert_close(out, final[-1] @ model.weight_out.t() + model.bias_out)


def test_dropout_between_layers_has_its_own_stream_and_is_off_in_eval() -> None:
    x = torch.randn(5, 3, 2, dtype=torch.float64)
    torch.manual_seed(2)
    a = rnn_scratch.RNN(2, 8, num_layers=2, dropout=0.5, dropout_seed=7, bptt="manual").double()
    b = rnn_scratch.RNN(2, 8, num_layers=2, dropout=0.5, dropout_seed=7, bptt="autograd").double()
    b.load_state_dict(a.state_dict())
    before = torch.get_rng_state()
    out_a, out_b = a(x)[0], b(x)[0]
    assert torch.equal(torch.get_rng_state(), before)  # the global stream is untouched
    torch.testing.assert_close(out_a, out_b, atol=1e-12, rtol=0)  # the same seed, the same units dropped
    grads = [torch.autograd.grad(o.sum(), list(m.parameters())) for o, m in ((out_a, a), (out_b, b))]
    for g_a, g_b in zip(*grads, strict=True):
        torch.testing.assert_close(g_a, g_b, atol=1e-12, rtol=1e-12)
    assert not torch.equal(out_a, a(x)[0])  # the stream moves on: a new mask the next time
    a.eval()
    no_drop = rnn_scratch.RNN(2, 8, num_layers=2).double()
    no_drop.load_state_dict(a.state_dict())
    torch.testing.assert_close(a(x)[0], no_drop(x)[0], atol=1e-12, rtol=0)  # no_drop: autograd


@pytest.mark.parametrize(
    ("num_layers", "dropout", "key"),
    [(0, 0.0, "model.num_layers"), (1, 0.5, "model.dropout"), (2, 1.0, "model.dropout")],
)
def test_bad_depth_settings_name_their_key(num_layers: int, dropout: float, key: str) -> None:
    """In this process (scripts/train.py turns a ConfigError into its one line and exit 2)."""
    cfg = TrainConfig()
    cfg.model.num_layers, cfg.model.dropout = num_layers, dropout
    with pytest.raises(ConfigError) as raised:
        validate(cfg)
    assert raised.value.key == key


def test_instruments_at_two_layers() -> None:
    """Memory probes (on the top layer's h), Lyapunov (of the whole stack) and trajectories apply at depth."""
    torch.manual_seed(4)
    task = make_task("recall", 6)
    model = build_model(ModelConfig(name="lstm", num_layers=2), task.input_size, 4, task.n_outputs, seq_len=6)
    data = task.eval_set(32, torch.Generator().manual_seed(1))
    skipped: dict[str, str] = {}
    scalars, drawn = eval_dynamics(model, data, figures=True, skipped=skipped)
    assert not skipped and {"memory/capacity", "dynamics/lyapunov_max"} <= set(scalars)
    assert all(math.isfinite(v) for v in scalars.values())
    assert {"memory/curve", "dynamics/trajectories"} <= set(drawn)


def test_a_profile_gets_a_layer_axis_and_old_files_read_as_one_layer(tmp_path: Path) -> None:
    profile = GradientProfile()
    for step in (1, 2, 3):
        profile.add(step, {"h": torch.rand(3, 6) + 0.1})
    profile.save(tmp_path / "grad_norms.npz", [1.0, 0.5, 0.2])
    saved = np.load(tmp_path / "grad_norms.npz")
    assert saved["h"].shape == (3, 3, 6)
    assert layer_axis(saved["h"]).shape == (3, 3, 6)
    assert layer_axis(np.ones((4, 6))).shape == (4, 1, 6)  # a one-layer (or older) run's file
    fig = layer_heatmaps(saved["h"], profile.steps, "g")
    assert len(fig.axes) == 4  # a panel per layer and the colour bar


def test_the_depth_figure_draws_a_line_per_layer_for_runs_of_any_depth(tmp_path: Path) -> None:
    runs = []
    for layers in (1, 3):
        run = tmp_path / f"l{layers}"
        run.mkdir()
        probe = np.exp(-np.arange(8.0))[::-1] * np.ones((2, layers, 8))
        np.savez(run / "grad_norms.npz", probe_h=probe if layers > 1 else probe[:, 0], probe_steps=[0, 5])
        config = {"model": {"name": "rnn", "num_layers": layers}, "seq_len": 8, "hidden_size": 4}
        (run / "metrics.json").write_text(json.dumps({"config": config}))
        runs.append(run)
    fig = depth_figure(runs)
    assert [len(ax.lines) for ax in fig.axes] == [2, 6]  # per layer: the end and initialisation
    with pytest.raises(ConfigError, match="grad_norms.npz"):
        depth_figure([tmp_path])


@pytest.mark.parametrize("model", ["lstm", "indrnn"])
def test_two_layers_train_to_the_same_loss_by_hand_and_by_autograd(model: str, tmp_path: Path) -> None:
    losses = []
    for bptt in ("manual", "autograd"):
        run_dir = tmp_path / bptt
        proc = run_script(
            ["steps=6", "eval_every=6", "log_every=3", "eval_size=16", "batch_size=4", "hidden_size=4",
             "seq_len=6", f"model={model}", "model.num_layers=2", f"model.bptt={bptt}", "threads=1",
             f"hydra.run.dir={run_dir}"], cwd=tmp_path,
        )  # fmt: skip
        assert proc.returncode == 0, proc.stderr[-2000:]
        metrics = json.loads((run_dir / "metrics.json").read_text())
        assert metrics["status"] == "completed" and metrics["config"]["model"]["num_layers"] == 2
        losses.append((metrics["train_loss"], metrics["eval_loss"]))
        assert np.load(run_dir / "grad_norms.npz")["h"].shape[1:] == (2, 6)  # (logged, layers, T)
    assert losses[0] == pytest.approx(losses[1], rel=1e-5)


def test_a_stacked_run_samples_resumes_at_its_depth_and_refuses_another(tmp_path: Path) -> None:
    """In this process: a 2-layer text run, its checkpoint sampled (scripts/sample.py's function) and
    resumed; resuming it at one layer, or loading its weights into one, fails naming both depths."""
    path = tmp_path / "corpus.txt"
    path.write_text("abcdefgh ;\n" * 60, encoding="utf-8")
    cfg = TrainConfig(seq_len=8, hidden_size=6, steps=4, eval_every=4, log_every=2, eval_size=8, batch_size=4)
    cfg.task = TextConfig(path=str(path))
    cfg.model.name, cfg.model.num_layers, cfg.model.dropout = "lstm", 2, 0.25
    validate(cfg)
    run_dir = tmp_path / "run"
    assert train(cfg, run_dir, progress=False)["status"] == "completed"
    saved = torch.load(run_dir / "checkpoint.pt", weights_only=False)
    assert "core.weight_hh_l1" in saved["model"] and "dropout_rng" in saved
    text = sample_text(run_dir, 12, prime="abc")
    assert text.startswith("abc") and len(text) == 15
    cfg.steps, cfg.resume = 6, "true"  # a larger budget resumes the same run
    assert train(cfg, run_dir, progress=False)["steps"] == 6
    one = dataclasses.replace(cfg, model=dataclasses.replace(cfg.model, num_layers=1, dropout=0.0), steps=8)
    with pytest.raises(ConfigError, match="2-layer, this run 1-layer"):
        train(one, run_dir, progress=False)
    model, _, _ = load_trained(run_dir)
    flat = build_model(one.model, model.core.input_size, 6, model.weight_out.shape[0])
    with pytest.raises(ValueError, match=r"2-layer \(model.num_layers=2\), this model is 1-layer"):
        flat.load_state_dict(model.state_dict())


def test_the_benchmark_times_the_same_function_as_torch_at_two_layers() -> None:
    """``scripts/benchmark.py --layers 2``: ours and torch.nn's two-layer module with copied weights."""
    torch.manual_seed(3)
    for family in bm.available_families():
        ours = bm.hand_written(family, 5, 4, "manual", num_layers=2).double()
        ref = bm.torch_layer(family, ours).double()
        x = torch.randn(3, 2, 5, dtype=torch.float64)
        torch.testing.assert_close(ours(x)[0], ref(x)[0], atol=1e-12, rtol=0)


def test_settings_changed_on_a_stack_reach_every_layer() -> None:
    """``truncate`` (set by the benchmark) and ``bptt`` set after construction hold in each layer."""
    torch.manual_seed(5)
    stack = rnn_scratch.RNN(2, 3, num_layers=2).double()
    x = torch.randn(6, 2, 2, dtype=torch.float64, requires_grad=True)
    full = torch.autograd.grad(stack(x)[0][-1].sum(), x)[0]
    stack.truncate, stack.bptt = 2, "manual"
    cut = torch.autograd.grad(stack(x)[0][-1].sum(), x)[0]
    assert all(layer.truncate == 2 and layer.bptt == "manual" for layer in stack.layers)
    assert torch.equal(cut[:4], torch.zeros_like(cut[:4])) and not torch.equal(full[:4], cut[:4])


@pytest.mark.parametrize("name", ["rnn", "lstm"])
def test_the_stack_records_the_gradient_reaching_each_step_of_each_layer(name: str) -> None:
    """state_grad_norms are (L, T), the same by hand as by autograd's hooks, and row l is ||dL/dh_t^l||."""
    torch.manual_seed(6)
    manual = build_model(ModelConfig(name=name, num_layers=2, bptt="manual"), 5, 4, 3).double()
    auto = build_model(ModelConfig(name=name, num_layers=2, bptt="autograd"), 5, 4, 3).double()
    auto.load_state_dict(manual.state_dict())
    x = torch.randint(0, 5, (3, 6))
    norms = []
    for model in (manual, auto):
        model.core.record_state_grads = True
        model(x)[0].square().sum().backward()
        norms.append(model.core.state_grad_norms)
    assert norms[0]["h"].shape == (2, 6) and set(norms[0]) == set(norms[1])
    torch.testing.assert_close(norms[0]["h"], norms[1]["h"], atol=1e-12, rtol=1e-10)
    assert (norms[0]["h"][:, 0] > 0).all()  # the first step of every layer gets its gradient
