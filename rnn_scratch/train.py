"""The training loop: sample, unroll, loss at the final step, BPTT, measure, clip, step, log.

``train(cfg, out_dir)`` is the whole run; ``scripts/train.py`` only turns Hydra's config into a
``TrainConfig`` and calls it. One seed drives everything: Python, NumPy and torch's global RNGs (the
model's initial weights) and two ``torch.Generator`` streams on the run's device, one for the fresh
training batch of every step and one for the fixed held-out eval set.

A run ends in one of four states, written to ``metrics.json``: ``completed``; ``solved``
(``stop_when_solved``: the task's solved rule held at an eval, so the run stopped there, early);
``diverged`` (the loss
or the gradient became non-finite, or the loss passed ``diverge_above``: the run stops at that step
and keeps its last good checkpoint);
``interrupted`` (SIGINT or SIGTERM: a checkpoint is saved first, so ``resume`` continues it exactly).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import random
import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from rnn_scratch.analysis.instruments import log_dynamics
from rnn_scratch.checkpoint import CHECKPOINT, load_checkpoint, rng_state, save_checkpoint, set_rng_state
from rnn_scratch.config import TrainConfig, period_notice, validate
from rnn_scratch.model import CharClassifier, build_model
from rnn_scratch.monitor import Monitor, recurrent_dynamics, saturation
from rnn_scratch.results import hparam_values, write_json
from rnn_scratch.resume import check_same_run, finished_metrics, resume_from
from rnn_scratch.tasks import Batch, Task, make_task

EVAL_SEED_OFFSET = 1_000_003  # the eval stream's seed is seed + this: disjoint from training's
EVAL_CHUNK = 512
log = logging.getLogger(__name__)


class Diverged(RuntimeError):
    """Raised after a diverged run's outputs are written, when ``on_diverge=raise``."""


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


def clip_gradients(model: nn.Module, clip: float | None, mode: str) -> tuple[float, bool]:
    """Global gradient norm before clipping, and whether clipping changed anything.

    ``norm``: rescale all gradients together so their global norm is at most ``clip`` (Pascanu et
    al. 2013). ``value``: clamp each element to [-clip, clip] (as min-char-rnn does).
    """
    params = [p for p in model.parameters() if p.grad is not None]
    max_norm = clip if (clip is not None and mode == "norm") else math.inf
    norm = nn.utils.clip_grad_norm_(params, max_norm).item()
    if clip is None:
        return norm, False
    if mode == "norm":
        return norm, norm > clip
    clipped = any(p.grad.abs().max().item() > clip for p in params)  # type: ignore[union-attr]
    nn.utils.clip_grad_value_(params, clip)
    return norm, clipped


@torch.no_grad()
def predict(model: CharClassifier, data: Batch) -> torch.Tensor:
    """The model's final-step outputs for a whole data set, in chunks so long sequences fit."""
    outs = []
    for start in range(0, len(data), EVAL_CHUNK):
        end = start + EVAL_CHUNK
        lengths = None if data.lengths is None else data.lengths[start:end]
        outs.append(model(data.x[start:end], lengths)[0])
    return torch.cat(outs)


@contextmanager
def stop_signals() -> Iterator[list[int]]:
    """Turn SIGINT/SIGTERM into a flag the loop checks between steps, so it can save and exit."""
    received: list[int] = []
    if threading.current_thread() is not threading.main_thread():
        yield received  # signals reach the main thread only
        return
    previous = {
        s: signal.signal(s, lambda signum, _: received.append(signum))
        for s in (signal.SIGINT, signal.SIGTERM)
    }
    try:
        yield received
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


def train(cfg: TrainConfig, out_dir: Path | str, progress: bool = True) -> dict[str, Any]:
    """Run one training job; write TensorBoard events, metrics.json, grad_norms.npz, checkpoint.pt.

    Returns the metrics written to ``metrics.json``. With ``on_diverge=raise`` a diverged run raises
    ``Diverged`` after writing them.
    """
    validate(cfg)
    if notice := period_notice(cfg):
        log.info(notice)
    out_dir = Path(out_dir)
    if cfg.skip_completed and (done := finished_metrics(cfg, out_dir)) is not None:
        return done
    source = resume_from(cfg, out_dir)
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
    model = build_model(cfg.model, task.input_size, cfg.hidden_size, task.n_outputs).to(device)
    optimizer = make_optimizer(cfg, model.parameters())
    train_gen = torch.Generator(device).manual_seed(cfg.seed)
    eval_data = task.eval_set(cfg.eval_size, torch.Generator(device).manual_seed(cfg.seed + EVAL_SEED_OFFSET))
    n_gates = model.core.weight_hh.shape[0] // cfg.hidden_size

    start_step, losses, last, wall = 0, [], {}, 0.0
    color_range = tuple(cfg.heatmap_range) if cfg.heatmap_range else None
    monitor = Monitor(out_dir / "tb", saved["step"] + 1 if saved else None, color_range)  # type: ignore[arg-type]
    if saved:
        model.load_state_dict(saved["model"])
        optimizer.load_state_dict(saved["optimizer"])
        set_rng_state(saved["rng"], train_gen)
        monitor.profile.load_state_dict(saved["profile"])
        start_step, losses, last, wall = saved["step"], saved["losses"], saved["last"], saved["wall_time"]
    else:
        monitor.text("config", json.dumps(dataclasses.asdict(cfg), indent=2))

    def checkpoint(step: int) -> None:
        state = {
            "step": step, "model": model.state_dict(), "optimizer": optimizer.state_dict(),
            "rng": rng_state(train_gen), "profile": monitor.profile.state_dict(), "losses": losses,
            "last": last, "wall_time": wall + time.perf_counter() - started,
            "config": dataclasses.asdict(cfg),
        }  # fmt: skip
        save_checkpoint(out_dir / CHECKPOINT, state)

    status, step = "completed", start_step
    extra: dict[str, Any] = {}
    clipped_since_log, started = 0, time.perf_counter()
    tick = started
    bar = tqdm(range(start_step + 1, cfg.steps + 1), disable=not progress, desc="train", dynamic_ncols=True)
    with stop_signals() as received:
        for step in bar:
            if received:
                status, extra = "interrupted", {"signal": signal.Signals(received[0]).name}
                step -= 1
                break
            log_now = step % cfg.log_every == 0 or step == cfg.steps
            model.core.record_state_grads = log_now
            batch = task.sample(cfg.batch_size, train_gen)
            out, hidden = model(batch.x, batch.lengths)
            loss = task.loss(out, batch.y)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            grad_norm, clipped = clip_gradients(model, cfg.clip, cfg.clip_mode)
            loss_value = loss.item()
            blown_up = cfg.diverge_above is not None and loss_value > cfg.diverge_above
            if blown_up or not (math.isfinite(loss_value) and math.isfinite(grad_norm)):
                status = "diverged"
                if not log_now:  # replay the step with the profile recorded: where did it blow up?
                    model.core.record_state_grads = True
                    optimizer.zero_grad(set_to_none=True)
                    task.loss(model(batch.x, batch.lengths)[0], batch.y).backward()
                norms = model.core.state_grad_norms.get("h")
                extra = {
                    "diverged_at_step": step, "loss_at_divergence": loss_value,
                    "grad_norm_at_divergence": grad_norm,
                    "grad_profile_at_divergence": None if norms is None else norms.tolist(),
                }  # fmt: skip
                monitor.gradient_profile(step, model.core.state_grad_norms)
                step -= 1  # the last completed step
                break
            optimizer.step()
            losses.append(loss_value)
            last["grad_norm_max"] = max(last.get("grad_norm_max", 0.0), grad_norm)
            last["grad_norm_final"] = grad_norm
            last["clipped_steps"] = last.get("clipped_steps", 0) + int(clipped)
            clipped_since_log += clipped
            if log_now:
                now = time.perf_counter()
                n_steps = step % cfg.log_every or cfg.log_every
                train_metrics = task.metrics(out.detach(), batch.y)
                last.update({f"train_{k}": v for k, v in train_metrics.items()})
                monitor.scalars(step, {f"train/{k}": v for k, v in train_metrics.items()})
                monitor.scalars(step, {
                    "grad/norm": grad_norm,
                    "grad/clipped": clipped_since_log / n_steps,
                    "dynamics/saturation": saturation(hidden),
                    "perf/seq_per_s": n_steps * cfg.batch_size / (now - tick),
                })  # fmt: skip
                monitor.gradient_profile(step, model.core.state_grad_norms)
                clipped_since_log, tick = 0, now
                bar.set_postfix({k: f"{v:.3f}" for k, v in train_metrics.items()})
            if step % cfg.eval_every == 0 or step == cfg.steps:
                eval_out = predict(model, eval_data)
                evaluated = task.metrics(eval_out, eval_data.y)
                last.update({f"eval_{k}": v for k, v in evaluated.items()})
                monitor.scalars(step, {f"eval/{k}": v for k, v in evaluated.items()})
                dynamics = recurrent_dynamics(model.core.weight_hh, cfg.hidden_size, n_gates)
                monitor.scalars(step, {f"dynamics/{k}": v for k, v in dynamics.items()})
                monitor.gradient_heatmap(step)
                stop = False
                if last.get("steps_to_solve") is None and task.solved(evaluated):
                    last["steps_to_solve"] = step  # the first evaluated step that met the rule
                    stop = cfg.stop_when_solved and step < cfg.steps
                figures = task.figures(eval_out, eval_data.y)
                if step == cfg.steps or stop:  # the final figures also as PNGs in the run folder
                    for tag, fig in figures.items():
                        fig.savefig(out_dir / f"{tag.replace('/', '_')}.png")
                monitor.figures(step, figures)
                if cfg.analysis:  # hidden-state dynamics: memory, Lyapunov, trajectories
                    chance, draw = task.chance or None, step == cfg.steps or stop  # images: last eval only
                    last.update(log_dynamics(monitor, step, model, eval_data, chance, draw))
                if stop:
                    status = "solved"
                    break
            if step % cfg.checkpoint_every == 0 and step < cfg.steps:
                checkpoint(step)
    bar.close()
    if status != "diverged":  # a diverged run keeps its last good checkpoint
        checkpoint(step)
    wall += time.perf_counter() - started

    metrics: dict[str, Any] = {
        "status": status,
        "diverged": status == "diverged",
        "steps": step,
        **{k: last.get(k) for k in ("train_loss", "eval_loss", "eval_acc")},
        **last,
        **task.baselines(),
        "steps_to_solve": last.get("steps_to_solve"),  # null: never solved, or no rule (solved_rule)
        "solved_rule": task.solved_rule,
        "solved": None if task.solved_rule is None else last.get("steps_to_solve") is not None,
        "clipped_fraction": last.get("clipped_steps", 0) / max(step, 1),
        "wall_time_s": wall,
        "seq_per_s": (step - start_step) * cfg.batch_size / max(time.perf_counter() - started, 1e-9),
        "device": str(device),
        "grad_profile": "available" if model.core.state_grad_norms else "unavailable",
        **extra,
        "config": dataclasses.asdict(cfg),
    }
    final = {f"eval/{k[5:]}": v for k, v in last.items() if k.startswith("eval_")}
    monitor.gradient_heatmap(step)
    monitor.hparams(hparam_values(cfg), final, name=f"{out_dir.name} ({out_dir.parent.name})")
    monitor.close()
    monitor.profile.save(out_dir / "grad_norms.npz", losses=losses)
    write_json(out_dir / "metrics.json", metrics)
    if status == "diverged" and cfg.on_diverge == "raise":
        raise Diverged(f"diverged at step {step + 1}: loss {extra['loss_at_divergence']}")
    return metrics
