"""The evidence a run records: the geometric eval schedule, the fresh final eval, the float64 gradient
probe at step 0 and log-spaced steps, the fitted gradient decay and the forward view at init and end."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
import torch
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from rnn_scratch.analysis.gradients import decay_rate
from rnn_scratch.analysis.lyapunov import burn_in_steps
from rnn_scratch.errors import ConfigError
from rnn_scratch.models.classifier import build_model
from rnn_scratch.tasks import make_task
from rnn_scratch.training.config import ModelConfig, TrainConfig, validate
from rnn_scratch.training.loop import train
from rnn_scratch.training.probes import gradient_probe, is_eval_step

torch.set_num_threads(1)


def test_decay_rate_is_the_slope_against_the_distance_from_the_loss() -> None:
    d = np.arange(29, -1, -1.0)  # T - t for t = 1..30
    norms = 0.7 * np.exp(-0.45 * d)
    assert decay_rate(norms) == pytest.approx(-0.45, abs=1e-12)
    norms[:10] = [0.0, np.nan, np.inf, 1e-320, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]  # underflow: left out
    assert decay_rate(norms) == pytest.approx(-0.45, abs=1e-12)
    assert decay_rate([1.0, 0.0, np.nan]) is None
    # a profile that is not one exponential: the fit window (t > burn_in) decides which slope is read
    kinked = np.concatenate([np.exp(-1.0 * np.arange(14, 9, -1.0)), np.exp(-0.1 * np.arange(9, -1, -1.0))])
    assert decay_rate(kinked, burn_in=5) == pytest.approx(-0.1) and decay_rate(kinked) < -0.1
    assert decay_rate(np.exp(0.2 * np.arange(9, -1, -1.0))) == pytest.approx(0.2)  # exploding


def test_geometric_schedule_and_bad_keys() -> None:
    cfg = TrainConfig(steps=350, eval_every=100, eval_schedule="geometric")
    assert [s for s in range(1, 351) if is_eval_step(cfg, s)] == [1, 2, 4, 8, 16, 32, 64, 100, 200, 300, 350]
    fixed = dataclasses.replace(cfg, eval_schedule="fixed")
    assert [s for s in range(1, 351) if is_eval_step(fixed, s)] == [100, 200, 300, 350]
    for key, value in (("eval_schedule", "sometimes"), ("final_eval_size", 0)):
        with pytest.raises(ConfigError, match=f"^{key}: "):
            validate(dataclasses.replace(cfg, **{key: value}))


def test_the_float64_probe_does_not_underflow_where_float32_does() -> None:
    torch.manual_seed(0)
    task = make_task("recall", 60)
    model = build_model(ModelConfig(name="rnn"), task.input_size, 32, task.n_outputs)
    with torch.no_grad():
        model.core.weight_hh.mul_(0.02)  # a strongly contracting recurrence: ~e^{-3} a step
    batch = task.sample(16, torch.Generator().manual_seed(1))
    model.core.record_state_grads = True
    task.loss(model(batch.x)[0], batch.y).backward()
    float32 = model.core.state_grad_norms["h"].numpy()
    probe = gradient_probe(model, task, batch)["h"]
    assert probe.dtype == np.float64 and probe.shape == (60,)
    assert (float32[:5] == 0).all()  # the float32 backward lost the early steps
    assert np.isfinite(probe).all() and (probe > 0).all() and probe[0] < 1e-60
    near = float32 > 1e-30  # where float32 still holds a normal number the two agree
    assert near[-10:].all()
    np.testing.assert_allclose(probe[near], float32[near], rtol=1e-4)
    assert model.core.weight_hh.dtype == torch.float32  # the model itself is untouched


def test_a_run_records_the_evidence(tmp_path) -> None:  # noqa: ANN001
    """Recall at seq_len 4 solves within ~40 steps: it stops at an eval of the fixed grid or earlier."""
    cfg = TrainConfig(
        seq_len=4, hidden_size=32, batch_size=32, steps=60, eval_every=20, log_every=5, eval_size=64,
        device="cpu", stop_when_solved=True, eval_schedule="geometric", final_eval_size=256,
        model=ModelConfig(bptt="manual"),
    )  # fmt: skip
    m = train(cfg, tmp_path, progress=False)
    assert m["status"] == "solved" and m["sequences_to_solve"] == m["steps_to_solve"] * 32
    assert m["budget_sequences"] == 60 * 32 and m["fresh_eval_size"] == 256
    assert m["fresh_eval_acc"] >= 0.5 and m["eval_acc"] >= 0.9
    acc = EventAccumulator(str(tmp_path / "tb"), size_guidance={"scalars": 0})
    acc.Reload()
    evals = [e.step for e in acc.Scalars("eval/acc")]
    assert evals == [s for s in (1, 2, 4, 8, 16, 20, 40, 60) if s <= m["steps"]]
    with np.load(tmp_path / "grad_norms.npz") as npz:
        steps, rows = list(npz["probe_steps"]), npz["probe_h"]
    assert steps == [s for s in (0, 1, 2, 4, 8, 16, 32) if s <= m["steps"]] + (
        [] if m["steps"] in (1, 2, 4, 8, 16, 32) else [m["steps"]]
    )
    assert rows.shape == (len(steps), 4) and rows.dtype == np.float64
    # both views on the same window: the first T // 4 steps are burn-in (T = 4: one step left out)
    assert m["grad_decay_init"] == pytest.approx(decay_rate(rows[0], burn_in_steps(4)))
    assert m["grad_decay_final"] == pytest.approx(decay_rate(rows[-1], burn_in_steps(4)))
    assert burn_in_steps(4) == 1 and m["grad_decay_final"] != pytest.approx(decay_rate(rows[-1]))
    for key in ("lyapunov_max", "log_spectral_radius", "saturation"):
        assert math.isfinite(m[f"{key}_init"]) and math.isfinite(m[f"{key}_final"]), key
    assert m["log_spectral_radius_init"] != m["log_spectral_radius_final"]  # W_hh moved
