"""Train one model: ``python scripts/train.py seq_len=50``; sweep with ``-m seq_len=10,50,100``.

Hydra composes configs/train.yaml with the command-line overrides, validates types against the
dataclasses of rnn_scratch/training/config.py, and gives the run its folder; ``rnn_scratch.training.loop``
does the rest.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import shlex
import shutil
import signal
import sys
from pathlib import Path
from typing import Any

import hydra
import torch
from hydra import compose, initialize_config_dir
from hydra.core.config_store import ConfigStore
from hydra.core.global_hydra import GlobalHydra
from hydra.core.hydra_config import HydraConfig
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.experimental.callback import Callback
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf

from rnn_scratch.training import dashboard, parallel
from rnn_scratch.training.config import ConfigError, TrainConfig, register
from rnn_scratch.training.loop import Diverged, resolve_device, train
from rnn_scratch.training.overrides import unknown_key, unknown_option
from rnn_scratch.training.results import hparam_values, sweep_summary
from rnn_scratch.training.resume import check_folder, results_dir
from rnn_scratch.training.tuning import train_seeds

log = logging.getLogger("rnn_scratch")
register(ConfigStore.instance())
OmegaConf.register_new_resolver("suffix", lambda name: f"_{name}" if name else "", replace=True)
# A single run's folder: <time>_<name>, or <time>_<task>-<model>-seq<seq_len> when no name is given.
OmegaConf.register_new_resolver(
    "run_label", lambda name, task, model, seq_len: name or f"{task}-{model}-seq{seq_len}", replace=True
)
CONFIGS = Path(__file__).resolve().parents[1] / "configs"
HYDRA_FILES = {".hydra", "train.log"}  # what Hydra puts in a run folder before the run starts


def help_text(part: str) -> str:
    """``--help``'s group choices (``groups``) or top-level keys (``keys``), read from configs/."""
    primary = OmegaConf.load(CONFIGS / "train.yaml")
    if part == "keys":  # "key: default   # comment" lines of train.yaml, up to its hydra: section
        lines = (CONFIGS / "train.yaml").read_text().split("\nhydra:")[0].splitlines()
        keys = [ln for ln in lines if ln[:1].isalpha() and ":" in ln and not ln.startswith("defaults")]
        rows = [
            (k.split(":")[0], k.split(":", 1)[1].split("#")[0].strip(), k.partition("#")[2].strip())
            for k in keys
        ]
        return "\n".join(f"  {f'{k}={v}':<24} {c}" for k, v, c in rows)
    defaults = OmegaConf.to_container(primary.defaults)
    chosen = {k: v for d in defaults if isinstance(d, dict) for k, v in d.items()}  # type: ignore[union-attr]
    rows = []
    for group in ("task", "model", "optim", "hydra/launcher"):
        names = sorted(p.stem for p in (CONFIGS / group).glob("*.yaml"))
        if group == "hydra/launcher":
            names += ["joblib", "submitit_local", "submitit_slurm"]  # the launcher plugins' own
        names = [f"{n}*" if chosen.get(group) == n else n for n in names]
        rows.append(f"  {group + '=':<17}{', '.join(names)}")
    cells = sorted(p.stem for p in (CONFIGS / "cell").glob("*.yaml"))  # a cell with its own settings
    rows.append(f"  {'+cell=':<17}{', '.join(cells)} (configs/cell/: a cell at its own init)")
    for path in sorted((CONFIGS / "experiment").glob("*.yaml")):
        text = " ".join(
            ln[2:] for ln in path.read_text().splitlines() if ln.startswith("# ") and "@" not in ln
        )
        about = first_sentence(text.split("python ")[0])
        about = about if len(about) <= 88 else about[:86].rsplit(" ", 1)[0] + " ..."
        rows.append(f"  {'+experiment=' + path.stem:<28}{about}")
    return "\n".join(rows)


OmegaConf.register_new_resolver("rnn_help", help_text, replace=True)


def first_sentence(text: str) -> str:
    """Up to the first word that ends a sentence ("." or "?"), not "et al." or "e.g."."""
    words = text.split()
    for i, word in enumerate(words):
        if word.endswith((".", "?")) and word not in ("al.", "e.g.", "i.e.", "vs.", "cf."):
            return " ".join(words[: i + 1]).rstrip(".")
    return " ".join(words)


def check_overrides(argv: list[str]) -> str | None:
    """A one-line error for an override of an unknown key or group option, with the closest known one
    (``seq_lenn=10`` -> seq_len, ``model=lstmm`` -> lstm), before Hydra writes anything; else None."""
    args = [a for a in argv[1:] if "=" in a and not a.startswith("-")]
    try:
        overrides = OverridesParser.create().parse_overrides(args)
    except Exception:  # Hydra reports a malformed override itself
        return None
    for o in overrides:
        key = o.key_or_group
        if o.is_hydra_override() or key.startswith(("hydra", "/")) or o.is_delete() or o.package:
            continue
        if (CONFIGS / key).is_dir() and key != "hydra":  # a config group: task, model, cell, tuned, ...
            if o.is_sweep_override() and not o.is_discrete_sweep():
                continue  # a range or interval of options: Hydra reports it
            values = (
                list(o.sweep_string_iterator()) if o.is_sweep_override() else [o.get_value_element_as_str()]
            )
            options = sorted(p.stem for p in (CONFIGS / key).glob("*.yaml"))
            problem = next((unknown_option(key, v, options) for v in values if v not in options), None)
        else:
            problem = unknown_key(key)
        if problem:
            return f"error: {problem}"
    return None


def check_run_dir(argv: list[str]) -> str | None:
    """A single run given ``hydra.run.dir`` of an existing run that it may not overwrite or continue
    (``rnn_scratch.training.resume.check_folder``): the one-line error, before Hydra rewrites that
    folder's ``.hydra/`` and ``train.log``; else None."""
    if {"-m", "--multirun"} & set(argv):
        return None
    args = [a for a in argv[1:] if "=" in a and not a.startswith("-")]
    given = [a.split("=", 1)[1] for a in args if a.lstrip("+").startswith("hydra.run.dir=")]
    folder = Path(given[-1]) if given else None
    if folder is None or not ((folder / "metrics.json").is_file() or (folder / "checkpoint.pt").is_file()):
        return None
    try:
        with initialize_config_dir(str(CONFIGS), version_base="1.3"):
            composed = compose("train", overrides=[a for a in args if not a.lstrip("+~").startswith("hydra")])
        cfg: TrainConfig = OmegaConf.to_object(composed)  # type: ignore[assignment]
    except Exception:  # a bad override: the run itself reports it, with Hydra's message
        return None
    finally:
        GlobalHydra.instance().clear()
    try:
        check_folder(cfg, folder)
    except ConfigError as error:
        return f"error: {error}"
    return None


def name_jobs_by_swept_keys(argv: list[str]) -> list[str]:
    """A sweep's job folders named by the keys it varies: ``seq_len=10,clip=null``, not every override.

    Adds the command line's single-valued overrides to ``override_dirname.exclude_keys``.
    """
    if not {"-m", "--multirun"} & set(argv) or any("override_dirname.exclude_keys" in a for a in argv):
        return argv
    args = [a for a in argv[1:] if "=" in a and not a.startswith("-")]
    try:
        overrides = OverridesParser.create().parse_overrides(args)
    except Exception:  # Hydra reports a bad override itself, with its own message
        return argv
    # A key given twice keeps its last value (as Hydra's sweeper does): hidden_size=4 hidden_size=4,8
    # sweeps hidden_size, which must then name the folders. A swept key is never excluded.
    last = {o.key_or_group: o for o in overrides if not o.is_hydra_override()}
    swept = {k for k, o in last.items() if o.is_sweep_override()}
    fixed = [k for k, o in last.items() if not o.is_sweep_override()]
    base = OmegaConf.load(CONFIGS / "train.yaml").hydra.job.config.override_dirname.exclude_keys
    keys = ",".join(f"'{k}'" for k in dict.fromkeys([*base, *fixed]) if k not in swept)
    return [*argv, f"hydra.job.config.override_dirname.exclude_keys=[{keys}]"]


def swept_keys() -> list[str]:
    """The override keys this sweep's job was given that name its folder (the keys the sweep varied)."""
    hydra_cfg = HydraConfig.get()
    excluded = set(hydra_cfg.job.config.override_dirname.exclude_keys)
    keys = [o.key_or_group for o in OverridesParser.create().parse_overrides(list(hydra_cfg.overrides.task))]
    return [k for k in keys if k not in excluded]


def discard_refused(out_dir: Path) -> None:
    """A run refused before it started leaves no folder: remove one that holds only Hydra's files."""
    if out_dir.is_dir() and {p.name for p in out_dir.iterdir()} <= HYDRA_FILES:
        shutil.rmtree(out_dir, ignore_errors=True)
        if HydraConfig.get().mode == RunMode.RUN:
            with contextlib.suppress(OSError):  # the day's folder, if this was its only run
                out_dir.parent.rmdir()


def resume_command(folder: Path) -> str:
    """The command that continues this job's run in ``folder``: its own overrides, resume=true."""
    given = [o for o in HydraConfig.get().overrides.task if not o.startswith(("resume=", "hydra.run.dir="))]
    args = [*given, "resume=true", f"hydra.run.dir={folder.resolve()}"]
    return " ".join(["python scripts/train.py", *map(shlex.quote, args)])


def log_also_to(folder: Path) -> None:
    """Send this run's log lines to ``folder``'s train.log as well (a run resumed from another folder)."""
    handler = logging.FileHandler(folder / "train.log")
    hydra_files = [h for h in logging.getLogger().handlers if isinstance(h, logging.FileHandler)]
    if hydra_files:
        handler.setFormatter(hydra_files[0].formatter)
    logging.getLogger().addHandler(handler)


class SweepSummary(Callback):
    """Hydra calls this at a sweep's end (scripts/train.py adds it to every -m command)."""

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        print(sweep_summary(Path(config.hydra.sweep.dir)), flush=True)


def final_line(metrics: dict) -> str:
    """``eval_acc=0.98 (chance 0.125) eval_loss=0.05``: each eval metric beside its baselines."""
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


def share_the_machine(cfg: TrainConfig) -> TrainConfig:
    """A sweep's job: torch threads that fit beside the jobs running with it, a GPU of its own."""
    hydra_cfg = HydraConfig.get()
    if hydra_cfg.mode != RunMode.MULTIRUN:
        return cfg
    launcher = hydra_cfg.launcher
    if cfg.threads is None:
        kind = parallel.launcher_name(launcher.get("_target_", ""))
        threads = parallel.job_threads(
            kind, parallel.available_cpus(), launcher.get("n_jobs"), launcher.get("cpus_per_task")
        )
        cfg = dataclasses.replace(cfg, threads=threads)
    if cfg.device in ("auto", "cuda") and resolve_device(cfg.device).type == "cuda":
        gpu = parallel.choose_gpu(hydra_cfg.job.num, torch.cuda.device_count(), os.environ)
        if gpu is not None:
            torch.cuda.set_device(gpu)  # device "cuda" now means this one, for the whole run
            log.info("job %d: cuda:%d", hydra_cfg.job.num, gpu)
    return cfg


@hydra.main(version_base="1.3", config_path="../configs", config_name="train")
def main(dict_cfg: DictConfig) -> float | None:
    cfg = share_the_machine(OmegaConf.to_object(dict_cfg))  # type: ignore[arg-type]
    hydra_cfg = HydraConfig.get()
    out_dir = Path(hydra_cfg.runtime.output_dir)
    results = results_dir(cfg, out_dir)  # resume=<folder>: the run continues there, not in out_dir
    if results.resolve() != out_dir.resolve() and (results / "checkpoint.pt").is_file():
        log_also_to(results)
        log.info(
            "resuming the run in %s: its checkpoint, events, metrics and this log continue there", results
        )
    # One bar per terminal line: jobs running side by side get none (each logs a line when done).
    alone = hydra_cfg.mode == RunMode.RUN or parallel.launcher_name(hydra_cfg.launcher._target_) == "basic"
    try:
        if cfg.tune_seeds:  # the tuning preset: one trial = these settings on every tuning seed
            objective = train_seeds(cfg, out_dir)
            log.info("objective %.4f over seeds %s -> %s", objective["objective"], cfg.tune_seeds, out_dir)
            return float(objective["objective"])
        metrics = train(cfg, out_dir, progress=sys.stderr.isatty() and alone)
    except ConfigError as error:
        # One line naming the key, a non-zero exit, and no run folder.
        print(f"error: {error}", file=sys.stderr)
        discard_refused(out_dir)
        sys.exit(2)
    except Diverged as error:  # on_diverge=raise; metrics.json says "diverged"
        print(f"error: {error}", file=sys.stderr)
        sys.exit(3)
    if hydra_cfg.mode == RunMode.MULTIRUN and hydra_cfg.job.num == 0:  # the sweep's HParams experiment
        params = hparam_values(cfg)
        tags = [f"eval/{k[5:]}" for k in metrics if k.startswith("eval_")] + ["train/loss"]
        swept = dashboard.swept_hparams(swept_keys(), list(params))
        dashboard.write_sweep_experiment(hydra_cfg.sweep.dir, params, tags, swept)
    if results.resolve() != out_dir.resolve():
        discard_refused(out_dir)  # Hydra's folder for this command holds nothing of the run
    log.info("%s: %s in %.1fs -> %s", metrics["status"], final_line(metrics), metrics["wall_time_s"], results)
    if metrics["status"] == "interrupted":  # checkpoint saved: resume=true continues it
        log.info("to resume: %s", resume_command(results))
        sys.exit(128 + signal.Signals[metrics["signal"]].value)
    return metrics["eval_acc"]


if __name__ == "__main__":
    if problem := check_overrides(sys.argv) or check_run_dir(sys.argv):
        print(problem, file=sys.stderr)
        sys.exit(2)
    sys.argv = name_jobs_by_swept_keys(sys.argv)
    if {"-m", "--multirun"} & set(sys.argv):  # a summary line at the sweep's end
        sys.argv.append("+hydra.callbacks.sweep_summary._target_=__main__.SweepSummary")
    main()
