"""Shared fixtures: compose the real Hydra configs, and run the real training script."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
from hydra import compose, initialize_config_dir
from hydra.core.config_store import ConfigStore
from hydra.core.global_hydra import GlobalHydra
from omegaconf import OmegaConf

from rnn_scratch.training.config import TrainConfig, register

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = ROOT / "configs"
TRAIN_SCRIPT = ROOT / "scripts" / "train.py"

register(ConfigStore.instance())

if os.environ.get("PYTEST_XDIST_WORKER"):  # pytest -n auto: one worker per core, one thread per worker
    torch.set_num_threads(1)

# A budget that trains in a second or two: the smoke settings every script test starts from.
TINY = ["steps=6", "eval_every=3", "log_every=2", "eval_size=32", "batch_size=8", "hidden_size=8"]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs a CUDA device")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)


@pytest.fixture
def compose_cfg(tmp_path: Path) -> Callable[..., TrainConfig]:
    """Compose configs/train.yaml with overrides into a validated ``TrainConfig``."""

    def _compose(*overrides: str) -> TrainConfig:
        GlobalHydra.instance().clear()
        with initialize_config_dir(str(CONFIGS), version_base="1.3"):
            cfg = compose("train", overrides=[*overrides, f"hydra.run.dir={tmp_path}"])
        return OmegaConf.to_object(cfg)  # type: ignore[return-value]

    return _compose


def run_script(
    args: list[str], cwd: Path, timeout: float = 300, script: Path = TRAIN_SCRIPT
) -> subprocess.CompletedProcess[str]:
    """Run a script of ours in a fresh Python process, the way a user does."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "HYDRA_FULL_ERROR": "0"}
    return subprocess.run(
        [sys.executable, str(script), *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.fixture
def train_run(tmp_path: Path) -> Callable[..., tuple[subprocess.CompletedProcess[str], Path]]:
    """``scripts/train.py`` in a subprocess with a tiny budget; returns (process, run folder)."""

    def _run(*overrides: str, tiny: bool = True) -> tuple[subprocess.CompletedProcess[str], Path]:
        run_dir = tmp_path / "run"
        args = [*(TINY if tiny else []), *overrides, f"hydra.run.dir={run_dir}"]
        return run_script(args, cwd=tmp_path), run_dir

    return _run
