"""A run's first phase: everything ``train`` needs before its first step, gathered in one ``Run``.

``setup(cfg, out_dir)`` validates the config, decides whether the job is already finished or continues
an interrupted one (``rnn_scratch.training.resume``), seeds every RNG from ``cfg.seed``, and builds the
task, the model, the optimiser, the two data streams and the monitor. One seed drives everything:
Python, NumPy and torch's global RNGs (the model's initial weights) and two ``torch.Generator`` streams on
the run's device, one for the fresh training batch of every step and one for the fixed held-out eval set.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import random
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from rnn_scratch.models.classifier import CharClassifier, build_model
from rnn_scratch.tasks import Batch, Task, make_task
from rnn_scratch.training.checkpoint import (
    CHECKPOINT,
    load_checkpoint,
    rng_state,
    save_checkpoint,
    set_rng_state,
)
from rnn_scratch.training.config import TrainConfig, period_notice, validate
from rnn_scratch.training.monitor import Monitor
from rnn_scratch.training.resume import check_folder_free, check_same_run, finished_metrics, resume_from
from rnn_scratch.training.spikes import NormHistory

EVAL_SEED_OFFSET = 1_000_003  # the eval stream's seed is seed + this: disjoint from training's
log = logging.getLogger(__name__)


def resolve_device(name: str) -> torch.device:
    """``auto`` is CUDA when torch sees a GPU, else the CPU."""
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    return torch.device(name)


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)  # noqa: NPY002 - the legacy global RNG is what user code draws from
    torch.manual_seed(seed)  # also seeds every CUDA device


def build_task(cfg: TrainConfig) -> Task:
    options = {k: v for k, v in dataclasses.asdict(cfg.task).items() if k != "name"}
    return make_task(cfg.task.name, cfg.seq_len, **options)


def make_optimizer(cfg: TrainConfig, params: Any) -> torch.optim.Optimizer:
    o = cfg.optim
    if o.name == "sgd":
        return torch.optim.SGD(params, lr=o.lr, momentum=o.momentum, weight_decay=o.weight_decay)
    return torch.optim.Adam(params, lr=o.lr, weight_decay=o.weight_decay)


@dataclass
class Run:
    """One run's objects and the state a checkpoint keeps (``step``, ``losses``, ``last``, wall time)."""

    cfg: TrainConfig
    out_dir: Path
    device: torch.device
    task: Task
    model: CharClassifier
    optimizer: torch.optim.Optimizer
    train_gen: torch.Generator  # a fresh training batch every step
    eval_data: Batch  # the fixed held-out set
    monitor: Monitor
    start_step: int = 0  # 0, or the checkpoint's step when resumed
    losses: list[float] = field(default_factory=list)  # every step's training loss
    last: dict[str, Any] = field(default_factory=dict)  # latest metrics and running gradient evidence
    wall_before: float = 0.0  # seconds spent by the run's earlier, interrupted selves
    started: float = field(default_factory=time.perf_counter)
    clipped_since_log: int = 0
    norms: NormHistory = field(default_factory=NormHistory)  # running median: relative clip, spikes
    tick: float = field(default_factory=time.perf_counter)  # time of the last training log

    def wall_time(self) -> float:
        return self.wall_before + time.perf_counter() - self.started

    def checkpoint(self, step: int) -> None:
        state = {
            "step": step, "model": self.model.state_dict(), "optimizer": self.optimizer.state_dict(),
            "rng": rng_state(self.train_gen), "profile": self.monitor.profile.state_dict(),
            "losses": self.losses, "last": self.last, "wall_time": self.wall_time(),
            "config": dataclasses.asdict(self.cfg), "norm_history": self.norms.state_dict(),
        }  # fmt: skip
        dropout = getattr(self.model.core, "dropout", None)  # stacked layers' own stream, once drawn
        if dropout is not None and (drawn := dropout.get_state()) is not None:
            state["dropout_rng"] = drawn
        save_checkpoint(self.out_dir / CHECKPOINT, state)


def setup(cfg: TrainConfig, out_dir: Path) -> Run | dict[str, Any]:
    """The ``Run`` to train, or, with ``skip_completed`` and a finished run in ``out_dir``, its metrics."""
    validate(cfg)
    if notice := period_notice(cfg):
        log.info(notice)
    if cfg.skip_completed and (done := finished_metrics(cfg, out_dir)) is not None:
        return done
    source = resume_from(cfg, out_dir)
    if source is None:  # a fresh start: never over a finished run
        check_folder_free(cfg, out_dir)
    saved = load_checkpoint(source / CHECKPOINT) if source else None
    if saved:
        check_same_run(saved["config"], cfg)
        out_dir = source  # type: ignore[assignment]  # the run continues in its own folder
    out_dir.mkdir(parents=True, exist_ok=True)
    # One thread unless asked (or a sweep decided): with several, PyTorch's CPU reductions may
    # differ in the last bit from run to run, and these small matmuls gain little from more.
    torch.set_num_threads(cfg.threads or 1)
    device = resolve_device(cfg.device)
    seed_everything(cfg.seed)
    task = build_task(cfg)
    model = build_model(
        cfg.model, task.input_size, cfg.hidden_size, task.n_outputs, cfg.seq_len, seed=cfg.seed
    ).to(device)
    optimizer = make_optimizer(cfg, model.parameters())
    train_gen = torch.Generator(device).manual_seed(cfg.seed)
    eval_data = task.eval_set(cfg.eval_size, torch.Generator(device).manual_seed(cfg.seed + EVAL_SEED_OFFSET))
    color_range = tuple(cfg.heatmap_range) if cfg.heatmap_range else None
    monitor = Monitor(out_dir / "tb", saved["step"] + 1 if saved else None, color_range)  # type: ignore[arg-type]
    run = Run(cfg, out_dir, device, task, model, optimizer, train_gen, eval_data, monitor)
    if saved:
        model.load_state_dict(saved["model"])
        optimizer.load_state_dict(saved["optimizer"])
        set_rng_state(saved["rng"], train_gen)
        if (dropout := getattr(model.core, "dropout", None)) is not None:  # stacked layers' stream
            dropout.set_state(saved.get("dropout_rng"), device)
        monitor.profile.load_state_dict(saved["profile"])
        run.start_step, run.losses, run.last = saved["step"], saved["losses"], saved["last"]
        run.wall_before = saved["wall_time"]
        if "norm_history" in saved:
            run.norms = NormHistory(**saved["norm_history"])
        log.info("resumed from step %d of %s", run.start_step, source)
    else:
        monitor.text("config", json.dumps(dataclasses.asdict(cfg), indent=2))
    run.started = run.tick = time.perf_counter()
    return run
