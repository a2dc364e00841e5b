"""The training loop: sample, unroll, loss at the supervised steps, BPTT, measure, clip, step, log.

``train(cfg, out_dir)`` is the whole run, read as its four phases:

* ``setup`` (``rnn_scratch.training.setup``): validate, seed, build, or resume from a checkpoint;
* ``step``: one batch, forward, loss on the supervised steps (the final one, or those of the batch's
  ``mask`` for a per-step task: ``rnn_scratch.tasks.base``), backward, clip, optimiser step, log;
* ``evaluate``: the held-out set, its metrics and figures, the dynamics; did the run solve the task?
* ``finish``: the last checkpoint, ``metrics.json``, ``grad_norms.npz`` and the HParams session.

Beside them, ``rnn_scratch.training.probes``: the gradient probe and the forward view at step 0 and at
the end (the probe also at steps 1, 2, 4, ...), the eval schedule (``eval_schedule=geometric`` adds
metric-only evals at steps 1, 2, 4, ... below ``eval_every``) and, with ``final_eval_size``, the final
model's metrics on a fresh eval set.

``scripts/train.py`` only turns Hydra's config into a ``TrainConfig`` and calls ``train``.

A run ends in one of four states (``rnn_scratch.training.record.Status``), written to ``metrics.json`` with
the rest of its ``RunRecord``: ``completed``; ``solved``
(``stop_when_solved``: the task's solved rule held at an eval and on the fresh set that confirmed it, so
the run stopped there; a pass the fresh set does not confirm never stops a run);
``diverged`` (the loss or the gradient became non-finite, or the loss passed ``diverge_above``: the run
stops at that step and keeps its last good checkpoint); ``interrupted`` (SIGINT or SIGTERM: a checkpoint
is saved first, so ``resume`` continues it exactly).

Signals (``rnn_scratch.training.signals``): SIGINT and SIGTERM stop the run after a checkpoint; SIGUSR2
(a cluster's warning that time is nearly up) checkpoints and hands the signal on to submitit.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import signal
import time
from pathlib import Path
from typing import Any

import torch
from torch import nn
from tqdm import tqdm

from rnn_scratch.analysis.stepping import recurrent_blocks
from rnn_scratch.models.classifier import CharClassifier
from rnn_scratch.tasks import Batch
from rnn_scratch.training.config import TrainConfig
from rnn_scratch.training.instruments import log_dynamics
from rnn_scratch.training.probes import (
    fresh_eval_set,
    is_eval_step,
    is_full_eval,
    is_probe_step,
    probe,
    record_end,
    record_start,
)  # fmt: skip
from rnn_scratch.training.record import RunRecord, Status, as_eval, identity
from rnn_scratch.training.results import hparam_values, write_json
from rnn_scratch.training.resume import finished_metrics
from rnn_scratch.training.setup import EVAL_SEED_OFFSET, Run, resolve_device, setup
from rnn_scratch.training.signals import hand_on, stop_signals
from rnn_scratch.training.version import code_version, machine

__all__ = ["EVAL_SEED_OFFSET", "Diverged", "finished_metrics", "resolve_device", "train"]
EVAL_CHUNK = 512
log = logging.getLogger(__name__)


class Diverged(RuntimeError):
    """Raised after a diverged run's outputs are written, when ``on_diverge=raise``."""


def train(
    cfg: TrainConfig, out_dir: Path | str, progress: bool = True, choices: dict[str, str] | None = None
) -> dict[str, Any]:
    """Run one training job; write TensorBoard events, metrics.json, grad_norms.npz, checkpoint.pt.

    Returns the metrics written to ``metrics.json``. With ``on_diverge=raise`` a diverged run raises
    ``Diverged`` after writing them. ``choices``: the config groups Hydra chose (``cell: irnn``), for
    the record's ``identity``.
    """
    run = setup(cfg, Path(out_dir))
    if not isinstance(run, Run):
        return run  # skip_completed: the finished run's metrics
    status, extra, step = Status.COMPLETED, {}, run.start_step
    if run.start_step == 0:
        record_start(run)  # the gradient profile and the forward view before any update
    bar = tqdm(
        range(run.start_step + 1, cfg.steps + 1), disable=not progress, desc="train", dynamic_ncols=True
    )
    with stop_signals() as received:
        for step in bar:
            if received:
                hand_on(run, step - 1, received)  # SIGUSR2: checkpoint, then the previous handler's turn
            if received:
                extra = {"signal": signal.Signals(received[0]).name}
                status, step = Status.INTERRUPTED, step - 1
                break
            if divergence := train_step(run, step, bar):
                status, extra, step = Status.DIVERGED, divergence, step - 1  # the last completed step
                break
            if is_probe_step(step):
                probe(run, step)
            if is_eval_step(cfg, step) and evaluate(run, step):
                break
            if step % cfg.checkpoint_every == 0 and step < cfg.steps:
                run.checkpoint(step)
    bar.close()
    if cfg.stop_when_solved and status == Status.COMPLETED and run.last.get("steps_to_solve") is not None:
        status = Status.SOLVED  # confirmed at an eval, the last one included: the run is solved
    return finish(run, status, step, {**extra, "identity": identity(dataclasses.asdict(cfg), choices)})


def train_step(run: Run, step: int, bar: tqdm) -> dict[str, Any] | None:
    """One optimiser step on a fresh batch; None, or what describes the divergence if the step blew up
    (then no update is applied)."""
    cfg, model, task, optimizer = run.cfg, run.model, run.task, run.optimizer
    log_now = step % cfg.log_every == 0 or step == cfg.steps
    model.core.record_state_grads = log_now
    batch = task.sample(cfg.batch_size, run.train_gen)
    out, hidden = model(batch.x, batch.lengths, every_step=task.per_step)
    loss = task.loss(out, batch.y, batch.mask)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    # clip_relative: the threshold follows the run's running median norm (rnn_scratch.training.spikes)
    threshold = run.norms.threshold(cfg.clip, cfg.clip_relative)
    grad_norm, clipped = clip_gradients(model, threshold, cfg.clip_mode)
    run.norms.add(grad_norm)
    run.last["grad_spikes"] = run.norms.spikes  # steps whose norm passed 10x the running median
    loss_value = loss.item()
    blown_up = cfg.diverge_above is not None and loss_value > cfg.diverge_above
    if blown_up or not (math.isfinite(loss_value) and math.isfinite(grad_norm)):
        if not log_now:  # replay the step with the profile recorded: where did it blow up?
            model.core.record_state_grads = True
            optimizer.zero_grad(set_to_none=True)
            task.loss(model(batch.x, batch.lengths, task.per_step)[0], batch.y, batch.mask).backward()
        norms = model.core.state_grad_norms.get("h")
        run.monitor.gradient_profile(step, model.core.state_grad_norms)
        return {
            "diverged_at_step": step, "loss_at_divergence": loss_value, "grad_norm_at_divergence": grad_norm,
            "grad_profile_at_divergence": None if norms is None else norms.tolist(),
        }  # fmt: skip
    optimizer.step()
    run.losses.append(loss_value)
    last = run.last
    last["grad_norm_max"] = max(last.get("grad_norm_max", 0.0), grad_norm)
    last["grad_norm_final"] = grad_norm
    last["clipped_steps"] = last.get("clipped_steps", 0) + int(clipped)
    run.clipped_since_log += clipped
    if log_now:
        now = time.perf_counter()
        n_steps = step % cfg.log_every or cfg.log_every
        train_metrics = task.metrics(out.detach(), batch.y, batch.mask)
        last.update({f"train_{k}": v for k, v in train_metrics.items()})
        run.monitor.log_train(
            step, train_metrics, model.core.state_grad_norms, hidden, grad_norm=grad_norm,
            clipped=run.clipped_since_log / n_steps, seq_per_s=n_steps * cfg.batch_size / (now - run.tick),
        )  # fmt: skip
        run.clipped_since_log, run.tick = 0, now
        bar.set_postfix({k: f"{v:.3f}" for k, v in train_metrics.items()})
    return None


def evaluate(run: Run, step: int) -> bool:
    """Metrics, figures and dynamics on the held-out set; True when the run should stop, solved."""
    cfg, task, model = run.cfg, run.task, run.model
    eval_out = predict(model, run.eval_data, task.per_step)
    evaluated = task.metrics(eval_out, run.eval_data.y, run.eval_data.mask)
    run.last.update({f"eval_{k}": v for k, v in evaluated.items()})
    stop = False
    if run.last.get("steps_to_solve") is None:
        if task.solved(evaluated) and confirmed(run, step):
            run.last["steps_to_solve"] = step  # the first evaluated step that met the rule, confirmed
            stop = cfg.stop_when_solved and step < cfg.steps
        else:  # the time to solve is censored from the left here: solved after this step, if ever
            run.last["solve_after"] = step
    final = step == cfg.steps or stop
    if not (final or is_full_eval(cfg, step)):  # an early eval of the geometric schedule: metrics only
        run.monitor.scalars(step, {f"eval/{k}": v for k, v in evaluated.items()})
        return stop
    run.monitor.log_eval(step, evaluated, recurrent_blocks(model.core))
    figures = task.figures(eval_out, run.eval_data.y)
    if final:  # the final figures also as PNGs in the run folder
        for tag, fig in figures.items():
            fig.savefig(run.out_dir / f"{tag.replace('/', '_')}.png")
    run.monitor.figures(step, figures)
    if cfg.analysis:  # hidden-state dynamics: memory, Lyapunov, trajectories (images: last eval only)
        run.last.update(log_dynamics(run.monitor, step, model, run.eval_data, task.chance or None, final))
    return stop


def finish(run: Run, status: Status, step: int, extra: dict[str, Any]) -> dict[str, Any]:
    """Write the run's outputs; ``step`` is the last completed step. Returns ``metrics.json``'s dict."""
    cfg, last, task = run.cfg, run.last, run.task
    if status != Status.DIVERGED:  # a diverged run keeps its last good checkpoint
        run.checkpoint(step)
    evidence = record_end(run, step)  # the probe and the forward view at the end, the fitted decays
    confirmation = last.pop("confirmation", None)  # the fresh eval that confirmed the pass, if any
    if status.ended and cfg.final_eval_size and task.solved_rule:
        evidence.update(final_fresh_eval(run, confirmation, step))
    solved_at = last.get("steps_to_solve")  # None: never solved, or no rule (solved_rule)
    elapsed = max(time.perf_counter() - run.started, 1e-9)
    record = RunRecord(
        status,
        step,
        dataclasses.asdict(cfg),
        {**{k: last.get(k) for k in ("train_loss", "eval_loss", "eval_acc")}, **last, **task.baselines()},
        steps_to_solve=solved_at,
        # training sequences (steps x batch_size): a run that never solved is censored at its budget
        sequences_to_solve=None if solved_at is None else solved_at * cfg.batch_size,
        budget_sequences=cfg.steps * cfg.batch_size,
        solved_rule=task.solved_rule,
        end={
            "clipped_fraction": last.get("clipped_steps", 0) / max(step, 1),
            "wall_time_s": run.wall_time(),
            "seq_per_s": (step - run.start_step) * cfg.batch_size / elapsed,
            "device": str(run.device),
            "grad_profile": "available" if run.model.core.state_grad_norms else "unavailable",
            "code": code_version(),  # the sources this run was made with (rnn_scratch.training.version)
            "machine": machine(run.device),  # torch, processor, threads: where the run ran
            **evidence,
            **extra,
        },
    )
    metrics = record.to_json()
    final = {f"eval/{k[5:]}": v for k, v in last.items() if k.startswith("eval_")}
    monitor, out_dir = run.monitor, run.out_dir
    monitor.gradient_heatmap(step)
    monitor.hparams(hparam_values(cfg), final, name=f"{out_dir.name} ({out_dir.parent.name})")
    monitor.close()
    monitor.profile.save(out_dir / "grad_norms.npz", losses=run.losses)
    write_json(out_dir / "metrics.json", metrics)
    if status == Status.DIVERGED and cfg.on_diverge == "raise":
        raise Diverged(f"diverged at step {step + 1}: loss {extra['loss_at_divergence']}")
    return metrics


def confirmed(run: Run, step: int) -> bool:
    """Does the fresh set (``final_eval_size`` new sequences: ``probes.fresh_eval_set``) agree that the
    run meets the solved rule? An eval of 512 sequences passes a 0.9 rule by chance near it; a pass
    counts only where this larger, independent set passes too (no ``final_eval_size``: the eval alone
    decides). A confirmed pass's fresh metrics are kept (``run.last["confirmation"]``): when the run
    stops there, they are its final fresh eval, so a run that ends ``solved`` has a fresh eval that
    meets the rule. A pass it overturns is counted in ``unconfirmed_passes`` and training goes on."""
    if not run.cfg.final_eval_size:
        return True
    measured = fresh_eval(run, step)
    if run.task.solved(as_eval(measured)):
        run.last["confirmation"] = measured
        return True
    run.last["unconfirmed_passes"] = run.last.get("unconfirmed_passes", 0) + 1
    return False


def fresh_eval(run: Run, step: int) -> dict[str, Any]:
    """The model after ``step`` updates on the fresh, larger eval set (``final_eval_size``, its own
    seed): ``fresh_eval_*``. The eval that passed the rule is biased towards it (it was picked for
    passing); this set is not, but for the repeated looks of a run whose earlier passes it overturned
    (each a test on ~2,048 sequences: a standard error of about 0.007 at accuracy 0.9)."""
    data = fresh_eval_set(run.cfg, run.task, run.device)
    measured = run.task.metrics(predict(run.model, data, run.task.per_step), data.y, data.mask)
    fresh = {f"fresh_eval_{k}": v for k, v in measured.items()}
    return {"fresh_eval_size": len(data), "fresh_eval_step": step, **fresh}


def final_fresh_eval(run: Run, confirmation: dict[str, Any] | None, step: int) -> dict[str, Any]:
    """The run's final fresh eval: the confirming eval itself when the run ends on it (the same model,
    the same set), else the final model measured now. A run that solved but trained on
    (``stop_when_solved`` off) and whose final model no longer meets the rule is not solved at the end:
    its ``steps_to_solve`` moves to ``solved_then_lost_at``."""
    if confirmation is not None and confirmation["fresh_eval_step"] == step:
        return confirmation
    measured = fresh_eval(run, step)
    if run.last.get("steps_to_solve") is not None and not run.task.solved(as_eval(measured)):
        run.last["solved_then_lost_at"] = run.last.pop("steps_to_solve")
    return measured


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
def predict(model: CharClassifier, data: Batch, every_step: bool = False) -> torch.Tensor:
    """The model's final-step outputs (every step's, with ``every_step``) for a whole data set, in
    chunks so long sequences fit."""
    outs = []
    for start in range(0, len(data), EVAL_CHUNK):
        end = start + EVAL_CHUNK
        lengths = None if data.lengths is None else data.lengths[start:end]
        outs.append(model(data.x[start:end], lengths, every_step)[0])
    return torch.cat(outs)
