"""One job of ``scripts/train.py``: a single run, or one job of a sweep, from its config to its exit.

``scripts/train.py`` composes the config (Hydra), turns it into a ``TrainConfig`` and describes the job
in a ``Job`` (read from Hydra's ``HydraConfig``); ``run_job`` does the rest:

* share the machine: a sweep job runs on one torch thread (a submitit job on its cpus_per_task), and it trains
  on a GPU of its own (``rnn_scratch.training.parallel``);
* train (or, with ``tune_seeds``, train once per tuning seed and return the mean score);
* a refused config is one line ``error: ...`` and exit 2, leaving no run folder; a diverged run with
  ``on_diverge=raise`` exits 3; an interrupted one logs the command that resumes it and exits
  128 + its signal's number, as a shell reports a process the signal ended;
* every job of a sweep writes the sweep's HParams experiment into its own ``tb/``; every job logs its
  final line.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import shutil
import signal
import sys
from pathlib import Path

import torch

from rnn_scratch.training import dashboard, parallel
from rnn_scratch.training.commands import hydra_value, shell_command
from rnn_scratch.training.config import ConfigError, TrainConfig, validate
from rnn_scratch.training.loop import Diverged, resolve_device, train
from rnn_scratch.training.results import hparam_values
from rnn_scratch.training.resume import check_folder, results_dir
from rnn_scratch.training.tuning import train_seeds

log = logging.getLogger("rnn_scratch")  # the name train.log's lines carry, as when this was the script's
HYDRA_FILES = {".hydra", "train.log"}  # what Hydra puts in a run folder before the run starts


@dataclasses.dataclass(frozen=True)
class Job:
    """What Hydra says of this job (``HydraConfig``), in plain values.

    ``num`` and ``sweep_dir`` are None for a single run. ``launcher`` is the launcher's ``_target_``
    class path; ``n_jobs`` (joblib) and ``cpus_per_task`` (submitit) its settings, None when unset.
    ``overrides`` are the job's own (``hydra.overrides.task``), ``override_keys`` their keys as Hydra's
    parser reads them, ``exclude_keys`` those that do not name a sweep job's folder.
    """

    out_dir: Path
    num: int | None = None
    sweep_dir: Path | None = None
    launcher: str = ""
    n_jobs: int | None = None
    cpus_per_task: int | None = None
    overrides: list[str] = dataclasses.field(default_factory=list)
    override_keys: list[str] = dataclasses.field(default_factory=list)
    exclude_keys: list[str] = dataclasses.field(default_factory=list)
    choices: dict[str, str] = dataclasses.field(default_factory=dict)  # config groups chosen: cell, task

    @property
    def multirun(self) -> bool:
        return self.num is not None

    def swept_keys(self) -> list[str]:
        """The override keys that name this sweep job's folder: the keys the sweep varied."""
        return [k for k in self.override_keys if k not in set(self.exclude_keys)]


def run_job(cfg: TrainConfig, job: Job) -> float | None:
    """Train ``cfg`` as ``job``; the value a sweeper optimises (eval_acc, or the tuning objective).
    Exits (``SystemExit``) with 2 on a refused config, 3 on ``on_diverge=raise``, 128 + the signal's
    number when interrupted."""
    cfg, out_dir = share_the_machine(cfg, job), job.out_dir
    results = results_dir(cfg, out_dir)  # resume=<folder>: the run continues there, not in out_dir
    elsewhere = results.resolve() != out_dir.resolve()
    # One bar per terminal line: jobs running side by side get none (each logs a line when done).
    alone = not job.multirun or parallel.launcher_name(job.launcher) == "basic"
    try:
        if elsewhere:  # checked first: nothing is written into a folder whose run it refuses to continue
            validate(cfg)
            check_folder(cfg, out_dir)
            log_also_to(results)
            log.info(
                "resuming the run in %s: its checkpoint, events, metrics and this log continue there", results
            )
        if cfg.tune_seeds:  # the tuning preset: one trial = these settings on every tuning seed
            objective = train_seeds(cfg, out_dir)
            log.info("objective %.4f over seeds %s -> %s", objective["objective"], cfg.tune_seeds, out_dir)
            return float(objective["objective"])
        metrics = train(cfg, out_dir, progress=sys.stderr.isatty() and alone, choices=job.choices)
    except ConfigError as error:
        # One line naming the key, a non-zero exit, and no run folder.
        print(f"error: {error}", file=sys.stderr)
        discard_refused(out_dir, job.multirun)
        sys.exit(2)
    except Diverged as error:  # on_diverge=raise; metrics.json says "diverged"
        print(f"error: {error}", file=sys.stderr)
        sys.exit(3)
    if job.multirun and (results / "tb").is_dir():  # the sweep's HParams experiment, beside the session
        params = hparam_values(cfg)
        tags = [f"eval/{k[5:]}" for k in metrics if k.startswith("eval_")] + ["train/loss"]
        swept = dashboard.swept_hparams(job.swept_keys(), list(params))
        dashboard.write_sweep_experiment(results / "tb", params, tags, swept)
    if elsewhere:
        discard_refused(out_dir, job.multirun)  # Hydra's folder for this command holds nothing of the run
    log.info("%s in %.1fs -> %s", end_line(metrics), metrics["wall_time_s"], results)
    if metrics["status"] == "interrupted":  # checkpoint saved: resume=true continues it
        log.info("to resume: %s", resume_command(job.overrides, results))
        sys.exit(128 + signal.Signals[metrics["signal"]].value)
    return metrics["eval_acc"]


def share_the_machine(cfg: TrainConfig, job: Job) -> TrainConfig:
    """A sweep's job: one torch thread (submitit: its cpus_per_task), a GPU of its own."""
    if not job.multirun:
        return cfg
    if cfg.threads is None:
        kind = parallel.launcher_name(job.launcher)
        threads = parallel.job_threads(kind, job.cpus_per_task)
        cfg = dataclasses.replace(cfg, threads=threads)
    if cfg.device in ("auto", "cuda") and resolve_device(cfg.device).type == "cuda":
        gpu = parallel.choose_gpu(job.num, torch.cuda.device_count(), os.environ)
        if gpu is not None:
            torch.cuda.set_device(gpu)  # device "cuda" now means this one, for the whole run
            log.info("job %d: cuda:%d", job.num, gpu)
    return cfg


def discard_refused(out_dir: Path, multirun: bool) -> None:
    """A run refused before it started leaves no folder: remove one that holds only Hydra's files
    (and a single run's day folder, if this was its only run)."""
    if out_dir.is_dir() and {p.name for p in out_dir.iterdir()} <= HYDRA_FILES:
        shutil.rmtree(out_dir, ignore_errors=True)
        if not multirun:
            with contextlib.suppress(OSError):  # rmdir refuses a folder that holds other runs
                out_dir.parent.rmdir()


def resume_command(overrides: list[str], folder: Path) -> str:
    """The command that continues the run in ``folder``: the job's own overrides (as Hydra read them),
    resume=true, the folder quoted for Hydra (a sweep job's holds ``=`` and ``,``), each word for bash:
    it works pasted as printed (``rnn_scratch.training.commands``)."""
    given = [o for o in overrides if not o.startswith(("resume=", "hydra.run.dir="))]
    args = [*given, "resume=true", f"hydra.run.dir={hydra_value(str(folder.resolve()))}"]
    return shell_command(["python", "scripts/train.py", *args])


def log_also_to(folder: Path) -> None:
    """Send this process's log lines to ``folder``'s train.log as well (a run resumed from another
    folder), in the format of the file Hydra logs to, if it logs to one."""
    handler = logging.FileHandler(folder / "train.log")
    files = [h for h in logging.getLogger().handlers if isinstance(h, logging.FileHandler)]
    if files:
        handler.setFormatter(files[0].formatter)
    logging.getLogger().addHandler(handler)


def end_line(metrics: dict) -> str:
    """A run's last line but for its time and folder: ``completed: eval_acc=0.98 (chance 0.125) ...``;
    a run stopped early says the step it reached (``interrupted at step 37 of 1500: ...``), and one
    with no eval yet says so, beside its last training metrics."""
    status, step, steps = metrics["status"], metrics.get("steps"), (metrics.get("config") or {}).get("steps")
    where = f" at step {step} of {steps}" if status != "completed" and step is not None and steps else ""
    if not (said := final_line(metrics)):
        train = [
            f"{k}={v:.4g}" for k, v in metrics.items() if k.startswith("train_") and isinstance(v, float)
        ]
        said = "no eval yet" + (f" (last {' '.join(train)})" if train else ", no metrics yet")
    return f"{status}{where}: {said}"


def final_line(metrics: dict) -> str:
    """``eval_acc=0.98 (chance 0.125) eval_loss=0.05``: each eval metric beside its baselines (the
    float metrics named ``<baseline>_<metric>``)."""
    parts = []
    for key, value in metrics.items():
        if key.startswith("eval_") and value is not None:
            name = key[len("eval_") :]
            refs = [
                f"{k[: -len(name) - 1]} {v:.4g}"
                for k, v in metrics.items()
                if k.endswith(f"_{name}") and not k.startswith(("eval_", "train_")) and isinstance(v, float)
            ]
            parts.append(f"{key}={value:.4g}" + (f" ({', '.join(refs)})" if refs else ""))
    return " ".join(parts)
