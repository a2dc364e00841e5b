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
from rnn_scratch.models.registry import cell_names, model_cell, model_names
from rnn_scratch.tasks.names import NAMES_SOURCE, NAMES_URL

DEVICES = ("auto", "cpu", "cuda")
OPTIMIZERS = ("adam", "sgd")
CLIP_MODES = ("norm", "value")
ON_DIVERGE = ("stop", "raise")
EVAL_SCHEDULES = ("fixed", "geometric")


@dataclass
class TaskConfig:
    """Base of the task group; ``name`` picks the generator in ``rnn_scratch.tasks``."""

    name: str = "recall"


@dataclass
class RecallConfig(TaskConfig):
    name: str = "recall"
    n_classes: int = 8
    n_distractors: int = 8
    lag: int | None = None  # steps between the key and the end; None = seq_len - 1 (the first step)


@dataclass
class TemporalOrderConfig(TaskConfig):
    name: str = "temporal_order"


@dataclass
class NamesConfig(TaskConfig):
    """Language of a name, from a folder of ``<Label>.txt`` files (rnn_scratch/tasks/names.py)."""

    name: str = "names"
    data_dir: str | None = None  # the folder; None: task.download must be true
    download: bool = False  # fetch url into cache_dir once (when data_dir is None)
    cache_dir: str = "~/.cache/rnn_scratch"
    url: str = NAMES_URL
    eval_fraction: float = 0.1  # held out, stratified by label
    split_seed: int = 0  # the train/eval split's seed (fixed across runs, whatever their seed)
    dedupe: bool = True  # keep a name repeated within a label once


@dataclass
class TextConfig(TaskConfig):
    """Next character of a UTF-8 text file (rnn_scratch/tasks/text.py)."""

    name: str = "text"
    path: str | None = None  # the file (required)
    eval_fraction: float = 0.1  # the held-out tail


@dataclass
class AddingConfig(TaskConfig):
    """The adding problem: regress the sum of two marked values (rnn_scratch/tasks/adding.py)."""

    name: str = "adding"


@dataclass
class SeriesConfig(TaskConfig):
    """Forecast one column of a CSV file (rnn_scratch/tasks/series.py); default: the shipped sunspots."""

    name: str = "series"
    path: str | None = None  # the CSV file; None: the monthly sunspot numbers shipped in rnn_scratch/data
    column: str | None = None  # the value column; None: the header's last column
    date_column: str | None = None  # optional, only labels the figure (shipped series: month)
    horizon: int = 1  # the target is the value this many steps after the window's end
    season: int = 132  # steps in a season, for the seasonal naive baseline (sunspots: ~11 years)
    ar_order: int | None = None  # p of the AR(p) baseline; None: seq_len (the whole window)
    eval_fraction: float = 0.2  # the held-out tail (chronological split)


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
    for name, node in (
        ("recall", RecallConfig), ("temporal_order", TemporalOrderConfig), ("names", NamesConfig),
        ("text", TextConfig), ("adding", AddingConfig), ("series", SeriesConfig),
    ):  # fmt: skip
        store.store(group="schema/task", name=name, node=node)
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


def _validate_task(cfg: TrainConfig) -> None:
    task = cfg.task
    if isinstance(task, RecallConfig):
        _positive("task.n_classes", task.n_classes)
        _positive("task.n_distractors", task.n_distractors)
        if task.n_classes + task.n_distractors > 26 * 2 or max(task.n_classes, task.n_distractors) > 26:
            raise ConfigError("task.n_classes", "keys and distractors are letters: at most 26 each")
        if task.lag is not None and not 0 <= task.lag < cfg.seq_len:
            raise ConfigError("task.lag", f"must be in [0, seq_len) = [0, {cfg.seq_len}), got {task.lag}")
    elif isinstance(task, TemporalOrderConfig):
        from rnn_scratch.tasks.synthetic import TemporalOrder

        if cfg.seq_len < TemporalOrder.MIN_SEQ_LEN:
            raise ConfigError(
                "seq_len",
                f"temporal_order needs seq_len >= {TemporalOrder.MIN_SEQ_LEN}, got {cfg.seq_len}",
            )
    elif isinstance(task, AddingConfig):
        from rnn_scratch.tasks.adding import Adding

        if cfg.seq_len < Adding.MIN_SEQ_LEN:
            need = f"adding needs seq_len >= {Adding.MIN_SEQ_LEN} (one marker per half)"
            raise ConfigError("seq_len", f"{need}, got {cfg.seq_len}")
    elif isinstance(task, SeriesConfig):  # the file and the lengths are checked when the task reads it
        for key in ("horizon", "season", "ar_order"):
            _positive(f"task.{key}", getattr(task, key), allow_none=key == "ar_order")
        if not 0 < task.eval_fraction < 1:
            raise ConfigError("task.eval_fraction", f"must be in (0, 1), got {task.eval_fraction}")
    elif isinstance(task, (NamesConfig, TextConfig)):
        # The files themselves are checked when the task reads them (rnn_scratch/tasks/).
        if not 0 < task.eval_fraction < 1:
            raise ConfigError("task.eval_fraction", f"must be in (0, 1), got {task.eval_fraction}")
        if isinstance(task, TextConfig) and task.path is None:
            raise ConfigError("task.path", "set task.path=<a UTF-8 text file>")
        if isinstance(task, NamesConfig) and task.data_dir is None and not task.download:
            raise ConfigError("task.data_dir", NAMES_SOURCE)
