"""Runs that survive: SIGTERM and resume, divergence, determinism across processes."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import TRAIN_SCRIPT, run_script

# Long enough to interrupt mid-run, small enough to finish in seconds.
BUDGET = ["steps=1500", "eval_every=500", "log_every=10", "eval_size=64", "batch_size=8",
          "hidden_size=8", "seq_len=12", "checkpoint_every=100"]  # fmt: skip


def metrics(run_dir: Path) -> dict:
    return json.loads((run_dir / "metrics.json").read_text())


def losses(run_dir: Path) -> np.ndarray:
    return np.load(run_dir / "grad_norms.npz")["loss"]


@pytest.mark.slow
def test_sigterm_then_resume_equals_an_uninterrupted_run(tmp_path: Path) -> None:
    straight, broken = tmp_path / "straight", tmp_path / "broken"
    assert run_script([*BUDGET, f"hydra.run.dir={straight}"], cwd=tmp_path).returncode == 0

    proc = subprocess.Popen(
        [sys.executable, str(TRAIN_SCRIPT), *BUDGET, f"hydra.run.dir={broken}"],
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    deadline = time.monotonic() + 120
    while not (broken / "checkpoint.pt").exists():  # the first checkpoint: it is mid-run
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 128 + signal.SIGTERM, stderr
    interrupted = metrics(broken)
    assert interrupted["status"] == "interrupted" and interrupted["signal"] == "SIGTERM"
    assert 0 < interrupted["steps"] < 1500

    resumed = run_script([*BUDGET, "resume=true", f"hydra.run.dir={broken}"], cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    a, b = metrics(straight), metrics(broken)
    assert b["status"] == "completed" and b["steps"] == 1500
    for key in ("train_loss", "eval_loss", "eval_acc"):
        assert a[key] == b[key], key
    assert losses(broken).shape == (1500,)
    assert np.array_equal(losses(straight), losses(broken))  # bitwise, every step
    assert np.array_equal(np.load(straight / "grad_norms.npz")["h"], np.load(broken / "grad_norms.npz")["h"])


@pytest.mark.slow
def test_resume_from_another_folder_continues_there(tmp_path: Path) -> None:
    first = tmp_path / "first"
    short = [*BUDGET, "steps=200", "eval_every=100"]
    assert run_script([*short, f"hydra.run.dir={first}"], cwd=tmp_path).returncode == 0
    more = run_script(
        [*BUDGET, "steps=300", "eval_every=100", f"resume={first}", f"hydra.run.dir={tmp_path / 'x'}"],
        cwd=tmp_path,
    )
    assert more.returncode == 0, more.stderr
    assert metrics(first)["steps"] == 300 and losses(first).shape == (300,)
    assert not (tmp_path / "x" / "metrics.json").exists()


@pytest.mark.slow
def test_resume_refuses_a_different_run(tmp_path: Path) -> None:
    first = tmp_path / "first"
    assert (
        run_script([*BUDGET, "steps=100", "eval_every=50", f"hydra.run.dir={first}"], cwd=tmp_path).returncode
        == 0
    )
    proc = run_script([*BUDGET, "eval_every=50", "hidden_size=16", f"resume={first}"], cwd=tmp_path)
    assert proc.returncode == 2 and "hidden_size" in proc.stderr


@pytest.mark.slow
@pytest.mark.parametrize("on_diverge", ["stop", "raise"])
def test_a_diverging_run_ends_as_configured(tmp_path: Path, on_diverge: str) -> None:
    run_dir = tmp_path / "run"
    args = [*BUDGET, "optim=sgd", "optim.lr=1e3", "optim.momentum=0.9", "clip=null", "model.init=identity"]
    proc = run_script([*args, f"on_diverge={on_diverge}", f"hydra.run.dir={run_dir}"], cwd=tmp_path)
    assert proc.returncode == (0 if on_diverge == "stop" else 3), proc.stderr
    assert "Traceback" not in proc.stderr
    result = metrics(run_dir)
    assert result["status"] == "diverged" and result["diverged"] is True
    assert result["steps"] == result["diverged_at_step"] - 1 < 1500
    assert len(result["grad_profile_at_divergence"]) == 12
    profile = np.load(run_dir / "grad_norms.npz")
    assert profile["steps"][-1] == result["diverged_at_step"]  # the profile at that step is kept
    assert np.isfinite(losses(run_dir)).all()  # only finite losses in the curve


@pytest.mark.slow
def test_a_diverging_job_does_not_take_the_sweep_down(tmp_path: Path) -> None:
    sweep = tmp_path / "sweep"
    args = ["-m", *BUDGET, "steps=200", "eval_every=100", "optim=sgd", "optim.momentum=0.9",
            "model.init=identity", "optim.lr=0.01,1e3", f"hydra.sweep.dir={sweep}"]  # fmt: skip
    proc = run_script(args, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    statuses = {p.name: metrics(p)["status"] for p in sweep.iterdir() if (p / "metrics.json").exists()}
    assert sorted(statuses.values()) == ["completed", "diverged"], statuses


@pytest.mark.slow
def test_two_processes_same_seed_identical_loss_curves(tmp_path: Path) -> None:
    """At the default size (H=128, B=64, T=50), where a multi-threaded reduction would show."""
    runs = [tmp_path / "a", tmp_path / "b", tmp_path / "c"]
    seeds = ["seed=5", "seed=5", "seed=6"]
    size = ["seq_len=50", "hidden_size=128", "batch_size=64"]
    for run_dir, seed in zip(runs, seeds, strict=True):
        args = [*BUDGET, *size, "steps=40", "eval_every=20", seed, f"hydra.run.dir={run_dir}"]
        assert run_script(args, cwd=tmp_path).returncode == 0
    assert np.array_equal(losses(runs[0]), losses(runs[1]))
    assert not np.array_equal(losses(runs[0]), losses(runs[2]))
