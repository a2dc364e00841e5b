"""Train one model: ``python scripts/train.py seq_len=50``; sweep with ``-m seq_len=10,50,100``.

Hydra composes configs/train.yaml with the command-line overrides, validates types against the
dataclasses of rnn_scratch/training/config.py, and gives the run its folder. This file is the part
that speaks Hydra: it reads the overrides with Hydra's parser, the job from ``HydraConfig``, and hands
plain values to ``rnn_scratch.training.cli``, which checks the command line before Hydra writes
anything (``argv``), fills ``--help`` (``usage``) and runs the job (``job``).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import hydra
from hydra import compose, initialize_config_dir
from hydra.core.config_store import ConfigStore
from hydra.core.global_hydra import GlobalHydra
from hydra.core.hydra_config import HydraConfig
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.override_parser.types import Override
from hydra.experimental.callback import Callback
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf

from rnn_scratch.training.cli import argv as cli
from rnn_scratch.training.cli.job import Job, run_job
from rnn_scratch.training.cli.usage import help_text
from rnn_scratch.training.config import TrainConfig, register
from rnn_scratch.training.results import sweep_summary

CONFIGS = Path(__file__).resolve().parents[1] / "configs"
register(ConfigStore.instance())
OmegaConf.register_new_resolver("suffix", cli.suffix, replace=True)  # a sweep's folder
OmegaConf.register_new_resolver("run_label", cli.run_label, replace=True)  # a single run's folder
OmegaConf.register_new_resolver("rnn_help", lambda part: help_text(CONFIGS, part), replace=True)


def parse(args: list[str]) -> list[cli.Override] | None:
    """``key=value`` arguments as Hydra's parser reads them; None if it refuses them (Hydra reports
    a malformed override itself, with its own message, when it runs)."""
    try:
        overrides = OverridesParser.create().parse_overrides(args)
    except Exception:
        return None
    return [
        cli.Override(
            o.key_or_group, values(o), o.is_sweep_override(), o.is_hydra_override(), o.is_delete(), o.package
        )
        for o in overrides
    ]


def values(o: Override) -> tuple[str, ...] | None:
    """An override's value strings, or None where Hydra alone can list them (an interval, a glob)."""
    try:
        if o.is_sweep_override():
            return tuple(o.sweep_string_iterator()) if o.is_discrete_sweep() else None
        return (o.get_value_element_as_str(),)
    except Exception:
        return None


def compose_config(overrides: list[str]) -> TrainConfig:
    """The run's config from its overrides, by Hydra's compose API (before ``main`` runs)."""
    try:
        with initialize_config_dir(str(CONFIGS), version_base="1.3"):
            return OmegaConf.to_object(compose("train", overrides=overrides))  # type: ignore[return-value]
    finally:
        GlobalHydra.instance().clear()


def this_job() -> Job:
    """What Hydra says of the running job, as plain values."""
    hc = HydraConfig.get()
    multirun = hc.mode == RunMode.MULTIRUN
    return Job(
        out_dir=Path(hc.runtime.output_dir),
        num=hc.job.num if multirun else None,
        sweep_dir=Path(hc.sweep.dir) if multirun else None,
        launcher=hc.launcher.get("_target_", ""),
        n_jobs=hc.launcher.get("n_jobs"),
        cpus_per_task=hc.launcher.get("cpus_per_task"),
        overrides=list(hc.overrides.task),
        override_keys=[o.key for o in parse(list(hc.overrides.task)) or []],
        exclude_keys=list(hc.job.config.override_dirname.exclude_keys),
    )


class SweepSummary(Callback):
    """Hydra calls this at a sweep's end (added below to every -m command)."""

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        print(sweep_summary(Path(config.hydra.sweep.dir)), flush=True)


@hydra.main(version_base="1.3", config_path="../configs", config_name="train")
def main(dict_cfg: DictConfig) -> float | None:
    return run_job(OmegaConf.to_object(dict_cfg), this_job())  # type: ignore[arg-type]


if __name__ == "__main__":
    overrides = parse(cli.override_args(sys.argv))
    if problem := cli.check_overrides(overrides, CONFIGS) or cli.check_run_dir(sys.argv, compose_config):
        print(problem, file=sys.stderr)
        sys.exit(2)
    sys.argv = cli.name_jobs_by_swept_keys(sys.argv, overrides, CONFIGS)
    if cli.is_multirun(sys.argv):  # a summary line at the sweep's end
        sys.argv.append("+hydra.callbacks.sweep_summary._target_=__main__.SweepSummary")
    main()
