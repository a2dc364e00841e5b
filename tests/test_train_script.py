"""``scripts/train.py`` for real: a subprocess, Hydra, TensorBoard event files read back."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import TINY, run_script
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

TAGS = {
    "train/loss", "train/acc", "eval/loss", "eval/acc", "grad/norm", "grad/clipped",
    "grad/h_first", "grad/h_last", "grad/h_ratio", "dynamics/spectral_radius",
    "dynamics/sigma_max", "dynamics/saturation", "perf/seq_per_s",
    "grad/log10_h_first", "grad/log10_h_last", "grad/log10_h_ratio",
}  # fmt: skip


def events(run_dir: Path) -> EventAccumulator:
    acc = EventAccumulator(str(run_dir / "tb"), size_guidance={"scalars": 0, "images": 0})
    acc.Reload()
    return acc


def test_a_tiny_run_writes_every_output(train_run) -> None:
    proc, run_dir = train_run("seq_len=7", "clip=0.5")
    assert proc.returncode == 0, proc.stderr
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["status"] == "completed" and metrics["diverged"] is False
    assert metrics["steps"] == 6 and 0.0 <= metrics["eval_acc"] <= 1.0
    assert metrics["config"]["seq_len"] == 7 and metrics["config"]["clip"] == 0.5
    assert (run_dir / ".hydra" / "config.yaml").exists()
    assert (run_dir / "checkpoint.pt").exists()

    acc = events(run_dir)
    assert set(acc.Tags()["scalars"]) >= TAGS
    assert "grad/by_timestep" in acc.Tags()["images"]
    assert [e.step for e in acc.Scalars("train/loss")] == [2, 4, 6]
    assert [e.step for e in acc.Scalars("eval/acc")] == [3, 6]
    assert "hparams" in acc.PluginTagToContent("hparams") or acc.PluginTagToContent("hparams")
    assert any("config" in tag for tag in acc.Tags()["tensors"])

    profile = np.load(run_dir / "grad_norms.npz")
    assert profile["h"].shape == (3, 7)  # every logged step x every one of seq_len time steps
    assert list(profile["steps"]) == [2, 4, 6]
    assert np.isfinite(profile["h"]).all() and (profile["h"] > 0).all()
    ratio = acc.Scalars("grad/h_ratio")[-1].value
    assert ratio == pytest.approx(profile["h"][-1, 0] / profile["h"][-1, -1], rel=1e-5)
    assert acc.Scalars("grad/log10_h_ratio")[-1].value == pytest.approx(np.log10(ratio), rel=1e-5)


def test_same_seed_same_loss_curve(tmp_path: Path) -> None:
    curves = []
    for name in ("a", "b"):
        proc = run_script([*TINY, "seed=3", f"hydra.run.dir={tmp_path / name}"], cwd=tmp_path)
        assert proc.returncode == 0, proc.stderr
        curves.append([e.value for e in events(tmp_path / name).Scalars("train/loss")])
    assert curves[0] == curves[1]


@pytest.mark.parametrize("model", ["rnn", "lstm", "gru", "torch_rnn", "torch_lstm", "torch_gru"])
def test_every_model_trains_through_the_script(train_run, model: str) -> None:
    proc, run_dir = train_run(f"model={model}", "task=temporal_order", "seq_len=12")
    assert proc.returncode == 0, proc.stderr
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["status"] == "completed" and metrics["config"]["model"]["name"] == model
    profile = np.load(run_dir / "grad_norms.npz")
    if model.startswith("torch_"):
        assert metrics["grad_profile"] == "unavailable" and "h" not in profile
    else:
        assert metrics["grad_profile"] == "available" and profile["h"].shape[1] == 12
        assert ("c" in profile) == (model == "lstm")


def test_a_two_job_sweep_runs(tmp_path: Path) -> None:
    sweep = tmp_path / "sweep"
    proc = run_script(["-m", *TINY, "seq_len=4,9", f"hydra.sweep.dir={sweep}"], cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    jobs = sorted(p for p in sweep.iterdir() if (p / "metrics.json").exists())
    assert len(jobs) == 2
    for job, seq_len in zip(jobs, (4, 9), strict=True):
        assert f"seq_len={seq_len}" in job.name.split(",")  # run names say what was swept
        assert np.load(job / "grad_norms.npz")["h"].shape[1] == seq_len


BAD_INPUTS = [
    (["seq_len=0"], "seq_len"),
    (["seq_len=-5"], "seq_len"),
    (["seq_len=abc"], "seq_len"),
    (["hidden_size=0"], "hidden_size"),
    (["hidden_size=1.5"], "hidden_size"),
    (["clip=0"], "clip"),
    (["clip=-1.0"], "clip"),
    (["clip=big"], "clip"),
    (["clip_mode=sideways"], "clip_mode"),
    (["steps=0"], "steps"),
    (["batch_size=0"], "batch_size"),
    (["heatmap_range=[0,-5]"], "heatmap_range"),
    (["optim.lr=0"], "optim.lr"),
    (["optim.lr=-0.1"], "optim.lr"),
    (["seq_len=10", "task.lag=10"], "task.lag"),
    (["task.n_classes=0"], "task.n_classes"),
    (["task=nope"], "task"),
    (["model=nope"], "model"),
    (["-m", "model=rnn,lstmm"], "model=lstmm: no such option (did you mean lstm?)"),  # one of a sweep's
    (["task=temporal_order", "seq_len=5"], "seq_len"),
    (["device=tpu"], "device"),
    (["model.init=zeros"], "model.init"),
    (["model.truncate=0"], "model.truncate"),
    (["model.bptt=magic"], "model.bptt"),
    (["no_such_key=1"], "no_such_key"),
    (["threads=0"], "threads"),
    (["checkpoint_every=0"], "checkpoint_every"),
    (["on_diverge=shrug"], "on_diverge"),
    (["diverge_above=-1"], "diverge_above"),
    (["resume=/no/such/run"], "resume"),
    (["resume=true"], "resume: nothing to resume in "),
    (["model=lstm", "model.bptt=reverse"], "model.bptt"),
    (["model.cuda_graph=true"], "model.cuda_graph"),
    # a wrong type: one line naming the key and what it takes, not Hydra's 5-line message
    (["steps=1.5"], "steps: must be an integer, got '1.5'"),
    (["clip=yes"], "clip: must be a number or null, got 'yes'"),
    (["hidden_size=12.0"], "hidden_size: must be an integer, got '12.0'"),
    (["stop_when_solved=maybe"], "stop_when_solved: must be true or false, got 'maybe'"),
    (["optim.lr=1e-3x"], "optim.lr: must be a number, got '1e-3x'"),
    (["task.n_classes=1"], "task.n_classes: must be >= 2"),  # one key: chance 1, no task
    # a sweep: every value checked before the first job starts, no folder left (not even multirun.yaml)
    (["-m", "seq_len=10,-5,20", "hydra/launcher=joblib"], "error: seq_len: must be > 0, got -5"),
    (["-m", "seq_len=10,5O"], "error: seq_len: must be an integer, got '5O'"),
    (
        ["-m", "+experiment=vanishing", "clip=1.0,-1"],
        "clip: must be > 0, got -1.0 (job seq_len=10 seed=0 clip=-1)",
    ),
]


@pytest.mark.parametrize(
    ("overrides", "key"), BAD_INPUTS, ids=lambda v: " ".join(v) if isinstance(v, list) else None
)
def test_bad_input_fails_cleanly_naming_the_key(
    train_run, tmp_path: Path, overrides: list[str], key: str
) -> None:
    """One line naming the key, exit 2, before Hydra writes anything: no run or sweep folder."""
    proc, run_dir = train_run(*overrides)
    assert proc.returncode == 2, proc.stderr
    assert key in proc.stderr and len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert proc.stderr.startswith("error: ")
    assert not run_dir.exists() and not (tmp_path / "outputs").exists()


@pytest.mark.skipif(torch.cuda.is_available(), reason="CUDA is present here")
def test_cuda_asked_for_without_cuda_fails_cleanly(train_run) -> None:
    proc, run_dir = train_run("device=cuda")
    assert proc.returncode != 0 and "device: cuda" in proc.stderr
    assert not (run_dir / "metrics.json").exists()
