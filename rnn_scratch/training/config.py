"""The run's configuration as plain dataclasses, and the checks no type can express.

The same dataclasses are Hydra's schema (``register`` stores them in a ConfigStore, so a YAML file or
override with a wrong key or type fails with Hydra's own message) and the library's arguments (so a
notebook builds a ``TrainConfig`` by hand, no Hydra involved). ``validate`` checks ranges and
combinations before any work starts and raises ``ConfigError`` naming the offending key.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from rnn_scratch.errors import ConfigError
from rnn_scratch.models.bptt import BPTT_MODES
from rnn_scratch.models.cells import GATE_INITS, INITS, NONLINEARITIES
from rnn_scratch.models.config import ModelConfig
from rnn_scratch.models.registry import cell_class, cell_names, model_cell, model_names
from rnn_scratch.tasks import REGISTRY, TaskConfig
from rnn_scratch.tasks.adding import AddingConfig
from rnn_scratch.tasks.names import NamesConfig
from rnn_scratch.tasks.series import SeriesConfig
from rnn_scratch.tasks.synthetic import RecallConfig, TemporalOrderConfig
from rnn_scratch.tasks.text import TextConfig

# The task configs live with their tasks (rnn_scratch/tasks/); re-exported for code that imports them here.
__all__ = [
    "AddingConfig", "ConfigError", "ModelConfig", "NamesConfig", "OptimConfig", "RecallConfig",
    "SeriesConfig", "TaskConfig", "TemporalOrderConfig", "TextConfig", "TrainConfig", "register",
    "validate",
]  # fmt: skip

DEVICES = ("auto", "cpu", "cuda")
OPTIMIZERS = ("adam", "sgd")
CLIP_MODES = ("norm", "value")
ON_DIVERGE = ("stop", "raise")
EVAL_SCHEDULES = ("fixed", "geometric")


@dataclass
class OptimConfig:
    name: str = "adam"
    lr: float = 3e-3
    momentum: float = 0.0  # sgd only
    weight_decay: float = 0.0


@dataclass
class TrainConfig:
    """Everything one run needs. Top-level keys are the ones a sweep varies."""

    seq_len: int = 50
    hidden_size: int = 128
    clip: float | None = None  # None: no clipping; a float: max global grad norm (or value)
    clip_mode: str = "norm"  # norm | value
    # None: off; k: clip the global norm at k x its running median (rnn_scratch/training/spikes.py);
    # with clip also set, the smaller threshold applies
    clip_relative: float | None = None
    seed: int = 0
    device: str = "auto"  # auto | cpu | cuda
    steps: int = 1500
    batch_size: int = 64
    eval_every: int = 250
    eval_size: int = 1024
    # fixed: every eval_every steps (and the last); geometric: also at steps 1, 2, 4, ... below
    # eval_every, so a time to solve is not rounded up to one period (metrics only at those)
    eval_schedule: str = "fixed"
    # At the end of a run that completed or solved, on a task with a solved rule: the metric on a
    # fresh eval set of this many sequences (its own seed), recorded as fresh_eval_*; None: not measured
    final_eval_size: int | None = None
    analysis: bool = True  # hidden-state dynamics instruments at eval (rnn_scratch/analysis)
    log_every: int = 10
    name: str | None = None  # appended to the run folder's name
    threads: int | None = None  # torch CPU threads; None: 1 (bitwise reproducible), per-job in a sweep
    checkpoint_every: int = 250  # steps between checkpoints (and one at the end)
    # None: continue an unfinished run found in this run's folder, else start; true: must continue;
    # false: start afresh; a path: continue the run in that folder
    resume: str | None = None
    # A tanh state is bounded, so a blown-up RNN often keeps a huge but finite loss: a loss above
    # this also counts as diverged (null: only a non-finite loss or gradient does).
    diverge_above: float | None = 1e3
    on_diverge: str = "stop"  # stop: end cleanly with status diverged (exit 0) | raise: exit non-zero
    # Stop at the first eval that meets the task's solved rule (status "solved"; steps_to_solve is
    # recorded either way), so a study can give a generous budget without spending it on solved runs.
    stop_when_solved: bool = False
    # Return the metrics of a run already finished in this folder with the same config, not re-run it
    # (a study re-launched into its own folders redoes only what is missing).
    skip_completed: bool = False
    # log10 ||dL/dh_t|| colour range of the grad/by_timestep heatmap, e.g. [-12, 0]: the same colours
    # in every run, so runs compare by eye; None: fitted to each run
    heatmap_range: list[float] | None = None
    # scripts/train.py: train this config once per listed seed (in <run>/seed=<s>) and return the mean
    # score, the tuning objective (rnn_scratch/training/tuning.py); None: one run with ``seed``
    tune_seeds: list[int] | None = None
    # The task the settings were tuned on, set by a tuned config (configs/tuned/<name>.yaml); None: not
    # tuned. The run record carries it (``identity``), so no reader parses a file or folder name.
    tuned_on: str | None = None
    task: TaskConfig = field(default_factory=RecallConfig)  # a subclass per task, chosen by task=
    model: ModelConfig = field(default_factory=ModelConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)


def register(store: Any) -> None:
    """Put the schemas in Hydra's ConfigStore (passed in: the library never imports Hydra)."""
    # The schema's task is the base class, so any task's subclass can be merged into it.
    store.store(name="train_schema", node=TrainConfig(task=TaskConfig()))
    # The groups' schemas live outside the selectable groups (schema/<group>/<name>): each YAML of
    # configs/<group>/ pulls its schema in with ``- /schema/<group>/<name>@_here_``, so
    # ``model=model`` is not a choice and Hydra lists only the real options.
    for name, registered in REGISTRY.items():  # every registered task, its config as the schema
        store.store(group="schema/task", name=name, node=registered.config)
    store.store(group="schema/model", name="model", node=ModelConfig)
    store.store(group="schema/optim", name="optim", node=OptimConfig)


def _positive(key: str, value: float | None, allow_none: bool = False) -> None:
    if value is None and allow_none:
        return
    if value is None or not math.isfinite(value) or value <= 0:
        raise ConfigError(key, f"must be > 0, got {value}")


def _one_of(key: str, value: str, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise ConfigError(key, f"must be one of {', '.join(choices)}, got {value!r}")


PERIODS = ("eval_every", "log_every", "checkpoint_every")


def period_notice(cfg: TrainConfig) -> str | None:
    """A one-line notice when a period is longer than the run, else None.

    Such a period is clamped to ``steps`` in effect: the loop evaluates, logs and checkpoints at the
    last step anyway, so ``steps=100`` with the default ``eval_every=250`` is a short run, not a mistake.
    The config keeps the value given, so the run can be resumed with more steps.
    """
    long = {k: getattr(cfg, k) for k in PERIODS if getattr(cfg, k) > cfg.steps > 0}
    if not long:
        return None
    said = ", ".join(f"{k}={v}" for k, v in long.items())
    return f"{said} > steps={cfg.steps}: clamped to {cfg.steps} (the last step evaluates, logs, checkpoints)"


def validate(cfg: TrainConfig, cuda_available: bool | None = None) -> None:
    """Check ranges and combinations; raise ``ConfigError`` on the first bad key."""
    for key in (
        "seq_len", "hidden_size", "steps", "batch_size", "eval_every", "eval_size", "log_every",
        "checkpoint_every",
    ):  # fmt: skip
        _positive(key, getattr(cfg, key))
    _positive("threads", cfg.threads, allow_none=True)
    _positive("final_eval_size", cfg.final_eval_size, allow_none=True)
    _one_of("eval_schedule", cfg.eval_schedule, EVAL_SCHEDULES)
    if cfg.tune_seeds is not None and not cfg.tune_seeds:
        raise ConfigError("tune_seeds", "must list at least one seed (null: one run with seed)")
    _positive("diverge_above", cfg.diverge_above, allow_none=True)
    _one_of("on_diverge", cfg.on_diverge, ON_DIVERGE)
    if cfg.heatmap_range is not None and not (
        len(cfg.heatmap_range) == 2 and all(map(math.isfinite, cfg.heatmap_range))
        and cfg.heatmap_range[0] < cfg.heatmap_range[1]
    ):  # fmt: skip
        raise ConfigError("heatmap_range", f"must be [low, high] with low < high, got {cfg.heatmap_range}")
    _positive("clip", cfg.clip, allow_none=True)
    _one_of("clip_mode", cfg.clip_mode, CLIP_MODES)
    _positive("clip_relative", cfg.clip_relative, allow_none=True)
    if cfg.clip_relative is not None and cfg.clip_mode != "norm":
        raise ConfigError("clip_relative", "scales the global norm's running median: needs clip_mode=norm")
    _one_of("device", cfg.device, DEVICES)
    if cfg.device == "cuda":
        if cuda_available is None:
            import torch

            cuda_available = torch.cuda.is_available()
        if not cuda_available:
            raise ConfigError("device", "cuda was asked for but torch sees no CUDA device")
    _one_of("model.name", cfg.model.name, model_names())  # the registered cells and their torch.nn twins
    _one_of("model.init", cfg.model.init, INITS)
    _positive("model.init_gain", cfg.model.init_gain)
    _one_of("model.bptt", cfg.model.bptt, BPTT_MODES)
    _validate_gates(cfg)
    _positive("model.truncate", cfg.model.truncate, allow_none=True)
    if cfg.model.cuda_graph and (
        cfg.device != "cuda" or cfg.model.bptt != "manual" or cfg.model.name not in cell_names()
    ):
        cells = "|".join(cell_names())
        raise ConfigError("model.cuda_graph", f"needs device=cuda, model.bptt=manual and model={cells}")
    compilable = [n for n in cell_names() if hasattr(cell_class(n), "compile_steps")]  # cells that offer it
    if cfg.model.compile_steps and (cfg.model.bptt != "manual" or cfg.model.name not in compilable):
        raise ConfigError("model.compile_steps", f"needs model.bptt=manual and model={'|'.join(compilable)}")
    _one_of("optim.name", cfg.optim.name, OPTIMIZERS)
    _positive("optim.lr", cfg.optim.lr)
    if cfg.optim.momentum < 0 or cfg.optim.weight_decay < 0:
        raise ConfigError("optim", "momentum and weight_decay must be >= 0")
    _validate_task(cfg)


def _validate_gates(cfg: TrainConfig) -> None:
    """The model's cell settings: the values any cell could take here, then what this cell takes (each
    cell checks its own: ``RecurrentCell.check_config``)."""
    m = cfg.model
    _one_of("model.nonlinearity", m.nonlinearity, NONLINEARITIES)
    _one_of("model.gate_init", m.gate_init, GATE_INITS)
    if m.forget_bias is not None and not math.isfinite(m.forget_bias):
        raise ConfigError("model.forget_bias", f"must be finite, got {m.forget_bias}")
    if m.chrono_tmax is not None and not (math.isfinite(m.chrono_tmax) and m.chrono_tmax > 2):
        raise ConfigError("model.chrono_tmax", f"must be > 2 (null: seq_len), got {m.chrono_tmax}")
    model_cell(m.name).check_config(m, cfg.seq_len, m.name)
    if isinstance(m.num_layers, bool) or not isinstance(m.num_layers, int) or m.num_layers < 1:
        raise ConfigError("model.num_layers", f"must be an int >= 1, got {m.num_layers!r}")
    if not 0.0 <= m.dropout < 1.0:
        raise ConfigError("model.dropout", f"must be in [0, 1), got {m.dropout}")
    if m.dropout and m.num_layers == 1:
        raise ConfigError("model.dropout", "acts between stacked layers: it needs model.num_layers > 1")


def _validate_task(cfg: TrainConfig) -> None:
    """The task's own checks (``TaskConfig.check``, in its module), after its name is a registered one."""
    _one_of("task.name", cfg.task.name, tuple(REGISTRY))
    cfg.task.check(cfg.seq_len)
