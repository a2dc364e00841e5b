"""Train one model: ``python scripts/train.py seq_len=50``; sweep with ``-m seq_len=10,50,100``.

Hydra composes configs/train.yaml with the command-line overrides, validates types against the
dataclasses of rnn_scratch/training/config.py, and gives the run its folder. This file is the part
that speaks Hydra: it reads the overrides with Hydra's parser, the job from ``HydraConfig``, and hands
plain values to ``rnn_scratch.training.cli``, which checks the command line before Hydra writes
anything (``argv``; ``values`` lists the jobs of a sweep whose configs this file composes and
validates), fills ``--help`` (``usage``) and runs the job (``job``).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

if sys.argv[1:] in (["--help"], ["-h"]):  # answered before torch and Hydra load (seconds otherwise)
    from rnn_scratch.training.cli.usage import help_page

    print(help_page(Path(__file__).resolve().parents[1] / "configs"))
    sys.exit(0)

import hydra
from hydra import compose, initialize_config_dir
from hydra._internal.utils import get_args_parser
from hydra.core.config_store import ConfigStore
from hydra.core.global_hydra import GlobalHydra
from hydra.core.hydra_config import HydraConfig
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.override_parser.types import Override
from hydra.experimental.callback import Callback
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf, open_dict

from rnn_scratch.training.cli import argv as cli
from rnn_scratch.training.cli import values as sweep
from rnn_scratch.training.cli.job import Job, run_job
from rnn_scratch.training.cli.usage import help_text
from rnn_scratch.training.config import TrainConfig, register, validate
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
            o.key_or_group,
            values(o),
            o.is_sweep_override(),
            o.is_hydra_override(),
            o.is_delete(),
            o.package,
            o.get_key_element(),
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


# Flags under which no job runs, or that compose another config than configs/train.yaml.
NO_JOB = {"--help", "-h", "--hydra-help", "--version", "--info", "-i", "--shell-completion", "-sc"}
OTHER_CONFIG = {"--config-path", "-cp", "--config-name", "-cn", "--config-dir", "-cd", "--experimental-rerun"}


def check_values(argv: list[str], overrides: list[cli.Override] | None) -> str | None:
    """The first job of ``argv`` whose config is refused, composed as its job will compose it and
    validated, before Hydra writes anything: the one-line error naming the key (and the job, when a
    sweep varies several keys), else None. ``rnn_scratch.training.cli.values`` says which jobs; a
    single run is its one job, its folder checked too (``check_run_dir``)."""
    args, multirun = cli.override_args(argv), cli.is_multirun(argv)
    if overrides is None or not args or (NO_JOB | OTHER_CONFIG) & set(argv):
        return None  # nothing to check, or Hydra reports it (an unparsable override)
    if not multirun and any(o.sweep for o in overrides):
        return None  # Hydra asks for --multirun
    hydra_args = [a for a, o in zip(args, overrides, strict=True) if o.hydra and not o.sweep]
    given = [o for o in overrides if not o.hydra]
    composed: dict[tuple[str, ...], DictConfig] = {}
    cfg = None
    try:
        with initialize_config_dir(str(CONFIGS), version_base="1.3"):
            try:  # a preset's sweep (hydra.sweeper.params) comes before the command line's
                given = [*sweeper_params(given, hydra_args, composed), *given] if multirun else given
            except Exception:
                return None  # not a value of a job's config (a Hydra key): Hydra reports it
            several = sum(o.sweep for o in sweep.swept_settings(given)) > 1
            idle: dict[str, list[str | None]] = {}
            for job in sweep.jobs_to_check(given, composes)[0]:
                try:
                    cfg = config_of(job, composed)
                    validate(cfg)
                except Exception as error:
                    task = next((c.task.name for c in composed.values()), None)
                    if (problem := sweep.refusal(error, job, task)) is None:
                        return None  # not a value's fault: Hydra reports it with its own message
                    return f"error: {problem}" + (f" (job {sweep.varied(job)})" if several else "")
                for key, line in sweep.idle_settings(job, cfg).items():
                    idle.setdefault(key, []).append(line)
    finally:
        GlobalHydra.instance().clear()
    refused, notes = sweep.idle_verdict(idle)
    if refused:
        return f"error: {refused}"
    if notes:
        print(*notes, sep="\n", file=sys.stderr)
    return None if multirun else cli.check_run_dir(argv, lambda _: cfg)  # type: ignore[arg-type,return-value]


def composes(o: cli.Override) -> bool:
    return sweep.composes(o, CONFIGS)


def sweeper_params(
    given: list[cli.Override], hydra_args: list[str], composed: dict[tuple[str, ...], DictConfig]
) -> list[cli.Override]:
    """The sweep a preset declares (``hydra.sweeper.params``), read from the config composed with the
    first value of each override given (kept in ``composed``, without its ``hydra`` node)."""
    first = sweep.jobs_to_check(given, composes)[0][0]
    groups = tuple(sweep.as_given(s) for s in first if composes(s[0]))
    base = compose("train", overrides=[*groups, *hydra_args], return_hydra_config=True)
    params = base.hydra.sweeper.get("params") or {}
    with open_dict(base):
        del base["hydra"]
    composed[groups] = base
    return parse([f"{k}={v}" for k, v in params.items()]) or []


def config_of(job: sweep.Job, composed: dict[tuple[str, ...], DictConfig]) -> TrainConfig:
    """``job``'s config: Hydra composes its groups (once per distinct choice, kept in ``composed``),
    then sets its plain keys as it sets them in a job (``OmegaConf.update``: the same conversion)."""
    groups = tuple(sweep.as_given(s) for s in job if composes(s[0]))
    if groups not in composed:
        composed[groups] = compose("train", overrides=list(groups))
    cfg = composed[groups].copy()
    plain = [sweep.as_given(s) for s in job if not composes(s[0])]
    for o in OverridesParser.create().parse_overrides(plain):
        if error := sweep.unknown_task_key(o.key_or_group, str(cfg.task.name)):
            raise error  # a key of another task, named as such (not as a value of the wrong type)
        OmegaConf.update(cfg, o.key_or_group, o.value(), merge=True)
    return OmegaConf.to_object(cfg)  # type: ignore[return-value]


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
        choices={str(k): str(v) for k, v in hc.runtime.choices.items() if v is not None},
    )


class SweepSummary(Callback):
    """Hydra calls this at a sweep's end (added below to every -m command)."""

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        print(sweep_summary(Path(config.hydra.sweep.dir)), flush=True)


@hydra.main(version_base="1.3", config_path="../configs", config_name="train")
def main(dict_cfg: DictConfig) -> float | None:
    return run_job(OmegaConf.to_object(dict_cfg), this_job())  # type: ignore[arg-type]


def hydra_flags() -> cli.Flags:
    """Hydra's flags that take a value, from its own argument parser: flag -> (nargs, choices)."""
    actions = get_args_parser()._actions
    return {
        f: (None if a.nargs is None else str(a.nargs), tuple(a.choices) if a.choices else None)
        for a in actions
        if a.nargs != 0
        for f in a.option_strings
    }


if __name__ == "__main__":
    overrides = parse(cli.override_args(sys.argv))
    problem = (
        cli.check_words(sys.argv, hydra_flags())
        or cli.check_overrides(overrides, CONFIGS)
        or check_values(sys.argv, overrides)
    )
    if problem:
        print(problem, file=sys.stderr)
        sys.exit(2)
    sys.argv = cli.name_jobs_by_swept_keys(sys.argv, overrides, CONFIGS)
    if cli.is_multirun(sys.argv):  # a summary line at the sweep's end
        sys.argv.append("+hydra.callbacks.sweep_summary._target_=__main__.SweepSummary")
    main()
