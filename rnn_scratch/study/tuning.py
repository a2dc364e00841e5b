"""A finished tuning sweep read back, and the tuned settings it yields as a committed YAML.

The tuning preset (``configs/experiment/tune.yaml``) leaves, in its sweep folder, Optuna's
``optimization_results.yaml`` (``best_params``, ``best_value``) and one job folder per trial (``<i>/``:
``.hydra/``, ``objective.json``, and a run per tuning seed in ``seed=<s>/``). ``read_tuning`` gathers
them (an unfinished tuning too: its best so far); ``tuning_jobs`` gives its runs to the sweep report
(``rnn_scratch.study.report``: a group per trial, its seeds pooled) and ``tuning_lines`` the section that
heads the report (trials, settings, objectives, the best). ``tuned_yaml`` writes the best trial's
settings as a config of the ``tuned`` group (``configs/tuned/<task>_<cell>_seq<T>.yaml``, used as
``+tuned=<name>``), with a header saying how it was made: the command with every override of the sweep.
``describe`` words a run's settings for the study's claims ("the tuned LSTM (orthogonal, ...)").
"""

from __future__ import annotations

import dataclasses
import json
import shlex
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from rnn_scratch.models.registry import model_cell, model_names
from rnn_scratch.study.runs import Job, load_job
from rnn_scratch.training.results import setting_text

# The keys the search space may set (rnn_scratch.training.tuning.search_space)
SEARCH_KEYS = frozenset({
    "optim.lr", "model.init", "model.nonlinearity", "model.gate_init", "model.forget_bias", "clip",
    "clip_relative",
})  # fmt: skip


@dataclass
class Trial:
    number: int
    params: dict[str, Any]  # the trial's overrides that Optuna chose
    objective: float | None  # None: the trial left no objective.json (failed or killed)
    wall_time_s: float
    solved: int  # tuning seeds solved
    steps_to_solve: list[int | None] = dataclasses.field(default_factory=list)  # per tuning seed


@dataclass
class Tuning:
    folder: Path
    task: str
    cell: str  # the model config the sweep tuned (``model=irnn``: "irnn"), its group choice
    model: dict[str, Any]  # that model config as the sweep composed it (the keys it kept)
    seq_len: int
    seeds: list[int]
    budget_sequences: int  # per run: steps x batch_size
    trials: list[Trial]
    best: Trial | None  # None: no trial finished
    elapsed_s: float  # wall clock of the whole sweep: first trial's start to the results file (or now)
    overrides: list[str]  # the sweep's own command line (every override but the trials' and the folders')
    finished: bool  # Optuna wrote optimization_results.yaml: the sweep ran to its end

    @property
    def compute_s(self) -> float:
        """Sum of every run's wall time: core-seconds (one thread per run)."""
        return sum(t.wall_time_s for t in self.trials)

    @property
    def name(self) -> str:
        return f"{self.task}_{self.cell}_seq{self.seq_len}"

    @property
    def command(self) -> str:
        """The command that made the sweep, every override spelled out."""
        return " ".join(["python scripts/train.py -m", *map(shlex.quote, self.overrides)])


def _overrides(job: Path) -> dict[str, str]:
    lines = yaml.safe_load((job / ".hydra" / "overrides.yaml").read_text()) or []
    return dict(str(line).split("=", 1) for line in lines if "=" in str(line))


# Overrides that are no setting of the runs: where the sweep wrote, Hydra's mode, what
# scripts/train.py adds to every command (its job-folder names, its summary callback).
NOT_SETTINGS = ("hydra.sweep.dir=", "hydra.run.dir=", "hydra.mode=", "hydra.job.config.", "+hydra.callbacks.")


def sweep_overrides(trial: Path) -> list[str]:
    """The sweep's own command line, from a trial's ``.hydra/hydra.yaml``: its task overrides but the
    ones Optuna chose (the search space's keys), then its Hydra overrides (``hydra.sweeper.n_trials=2``)
    but the folders and what ``scripts/train.py`` adds."""
    hydra = yaml.safe_load((trial / ".hydra" / "hydra.yaml").read_text())["hydra"]["overrides"]
    task = [str(o) for o in hydra.get("task") or [] if str(o).split("=", 1)[0] not in SEARCH_KEYS]
    return task + [str(o) for o in hydra.get("hydra") or [] if not str(o).startswith(NOT_SETTINGS)]


def read_tuning(folder: Path | str) -> Tuning:
    """The trials of a tuning sweep and its best one: Optuna's (``optimization_results.yaml``), or in
    an unfinished sweep the best objective so far. FileNotFoundError when the folder holds no trial."""
    folder = Path(folder)
    jobs = sorted(
        (p.parent for p in folder.glob("*/.hydra") if p.parent.name.isdigit()), key=lambda p: int(p.name)
    )
    if not jobs:
        raise FileNotFoundError(f"no tuning trials (<trial>/.hydra/) under {folder}")
    results_file = folder / "optimization_results.yaml"
    results = yaml.safe_load(results_file.read_text()) if results_file.is_file() else None
    trials = []
    for job in jobs:
        chosen = {k: v for k, v in _overrides(job).items() if k in SEARCH_KEYS}
        found = job / "objective.json"
        objective = json.loads(found.read_text()) if found.is_file() else None
        trials.append(
            Trial(
                int(job.name), chosen, None if objective is None else float(objective["objective"]),
                0.0 if objective is None else float(objective["wall_time_s"]),
                0 if objective is None else sum(bool(s["solved"]) for s in objective["seeds"].values()),
                [] if objective is None else [s.get("steps_to_solve") for s in objective["seeds"].values()],
            )
        )  # fmt: skip
    done = [t for t in trials if t.objective is not None]
    best = max(done, key=lambda t: t.objective or 0.0) if done else None  # the first of the best
    if results is not None:
        best_params = {str(k): v for k, v in results["best_params"].items()}
        same = (t for t in done if t.objective == results["best_value"] and _same(t.params, best_params))
        best = next(same, best)
    config = yaml.safe_load((jobs[0] / ".hydra" / "config.yaml").read_text())
    hydra = yaml.safe_load((jobs[0] / ".hydra" / "hydra.yaml").read_text())["hydra"]
    choice = (hydra.get("runtime", {}).get("choices") or {}).get("model") or config["model"]["name"]
    budget = int(config["steps"]) * int(config["batch_size"])
    seeds = [int(s) for s in config["tune_seeds"]]
    task = config["task"]["name"]
    end = results_file.stat().st_mtime if results is not None else max(p.stat().st_mtime for p in jobs)
    elapsed = end - (jobs[0] / ".hydra" / "config.yaml").stat().st_mtime
    return Tuning(
        folder, task, str(choice), dict(config["model"]), int(config["seq_len"]), seeds, budget, trials,
        best, elapsed, sweep_overrides(jobs[0]), results is not None,
    )  # fmt: skip


def tuning_jobs(tuning: Tuning) -> list[Job]:
    """Every run of the tuning, trial by trial and seed by seed, as jobs keyed by ``trial`` and ``seed``
    (a run not written reads as missing)."""
    jobs = []
    for trial in tuning.trials:
        for seed in tuning.seeds:
            job = load_job(tuning.folder / str(trial.number) / f"seed={seed}")
            job.overrides = {"trial": str(trial.number), "seed": str(seed)}
            jobs.append(job)
    return jobs


def tuning_lines(tuning: Tuning) -> list[str]:
    """The report's tuning section: what ran, the objective, a row per trial, the best one."""
    seeds, best = ", ".join(map(str, tuning.seeds)), tuning.best
    lines = [
        f"Tuning: {tuning.cell} on {tuning.task}, seq_len {tuning.seq_len}: {len(tuning.trials)} trials x "
        f"{len(tuning.seeds)} tuning seeds ({seeds}), up to {tuning.budget_sequences} training sequences a "
        f"run{'' if tuning.finished else ' (unfinished: no optimization_results.yaml)'}. Made by: "
        f"`{tuning.command}`.",
        "",
        "Objective of a trial: the mean over its seeds of the budget a run left unused when it solved "
        "(confirmed on a second eval set; an unsolved run is censored at the budget: 0), plus 0.01 x its "
        "fresh eval accuracy as a tie-break (`rnn_scratch/training/tuning.py`).",
        "",
    ]
    if best is not None:
        settings = ", ".join(f"{k}={setting_text(_value(v))}" for k, v in best.params.items())
        lines += [
            f"Best: trial {best.number}, objective {best.objective:.4g}, {best.solved}/{len(tuning.seeds)} "
            f"seeds solved: {settings}.",
            "",
        ]
    lines += ["| trial | settings | objective | seeds solved | wall s |", "|---|---|---|---|---|"]
    for t in tuning.trials:
        settings = " ".join(f"{k}={setting_text(_value(v))}" for k, v in t.params.items())
        objective = "failed" if t.objective is None else f"{t.objective:.4g}"
        mark = " (best)" if t is best else ""
        solved = f"{t.solved}/{len(tuning.seeds)}" if t.objective is not None else "-"
        lines.append(f"| {t.number}{mark} | {settings} | {objective} | {solved} | {t.wall_time_s:.1f} |")
    return lines


TRIAL_COLUMNS = ("trial", "objective", "seeds_solved", "steps_to_solve", "wall_time_s")


def trials_csv(tuning: Tuning) -> str:
    """Every trial of a tuning as CSV, committed beside its tuned config (``<name>.trials.csv``): the
    trial, each searched key (blank where the trial did not set it), the objective, the tuning seeds
    solved, each seed's steps to solve (``-`` unsolved; ``;`` between seeds) and the wall time."""
    keys = sorted({k for t in tuning.trials for k in t.params})
    rows = [",".join([TRIAL_COLUMNS[0], *keys, *TRIAL_COLUMNS[1:]])]
    for t in tuning.trials:
        steps = ";".join("-" if s is None else str(s) for s in t.steps_to_solve) if t.steps_to_solve else ""
        objective = "" if t.objective is None else f"{t.objective:.6f}"
        params = [str(t.params.get(k, "")) for k in keys]
        rows.append(
            ",".join([str(t.number), *params, objective, str(t.solved), steps, f"{t.wall_time_s:.1f}"])
        )
    return "\n".join(rows) + "\n"


def _same(a: dict[str, Any], b: dict[str, Any]) -> bool:
    return a.keys() == b.keys() and all(str(a[k]) == str(b[k]) for k in a)


def _value(text: Any) -> Any:
    """An override's text as YAML reads it (``null`` -> None, ``1.0`` -> 1.0)."""
    return yaml.safe_load(str(text))


def tuned_settings(tuning: Tuning) -> dict[str, Any]:
    """The best trial's settings, every key of the search space spelled out (untouched ones at the
    cell's default), nested as a config reads them."""
    assert tuning.best is not None, "tuned_settings needs a finished trial"
    p = {k: _value(v) for k, v in tuning.best.params.items()}
    return {
        "model": model_cell(tuning.model["name"]).settings(p, tuning.model),
        "optim": {"lr": float(p["optim.lr"])},
        "clip": p.get("clip"),
        "clip_relative": p.get("clip_relative"),
        "tuned_on": tuning.task,  # the run record's identity carries it (no file name is parsed)
    }


def tuned_yaml(tuning: Tuning, source: str) -> str:
    """The ``tuned`` group's config for this cell and lag, with a header saying how it was made."""
    best, seeds = tuning.best, ", ".join(map(str, tuning.seeds))
    if best is None or best.objective is None:
        raise ValueError(f"{tuning.folder}: no trial finished, nothing to write")
    made = (
        f"Tuned settings: {tuning.cell} on {tuning.task}, seq_len {tuning.seq_len}. Generated by "
        f"scripts/write_tuned.py from {source}/optimization_results.yaml; do not edit by hand. Made by: "
        f"{tuning.command} "
        f"(Optuna TPE, {len(tuning.trials)} trials, each on tuning seeds {seeds}; up to "
        f"{tuning.budget_sequences} training sequences per run). Best: trial {best.number}, objective "
        f"{best.objective:.3f}, {best.solved}/{len(tuning.seeds)} tuning seeds solved. Tuning compute: "
        f"{tuning.compute_s:.0f} core-s (sum of the runs' wall time), {tuning.elapsed_s:.0f} s of wall clock "
        f"for the sweep (one job at a time, threads=1). Use: +tuned={tuning.name}"
    )
    lines = textwrap.wrap(made, 100, break_long_words=False, break_on_hyphens=False)  # overrides whole
    header = ["# @package _global_", *(f"# {line}" for line in lines)]
    header += ["defaults:", f"  - override /model: {tuning.cell}", ""]
    body = yaml.safe_dump(tuned_settings(tuning), sort_keys=False, default_flow_style=False)
    return "\n".join(header) + body


def describe(config: dict[str, Any], tuned: bool) -> str:
    """A run's settings in words, from metrics.json's config: "the default-initialised tanh RNN (lr
    0.003, no clipping)", "the tuned LSTM (orthogonal, chrono gate bias, lr 0.0041, clip 1.0)"."""
    model, optim = config.get("model", {}), config.get("optim", {})
    name = model.get("name", "?")
    if name in model_names():  # the cell says what it is and what of its own settings matter
        words, details, init_named = model_cell(name).describe(model)
    else:
        words, details, init_named = name, [], False
    lead = "the tuned" if tuned else "the default-initialised" if model.get("init") == "default" else "the"
    if not init_named and lead != "the default-initialised":
        details.insert(0, f"{model.get('init', 'default')} init")
    details.append(f"lr {optim.get('lr', 0):.2g}")
    clip, relative = config.get("clip"), config.get("clip_relative")
    clips = [f"{clip:g}"] if clip is not None else []
    clips += [f"{relative:g}x median"] if relative is not None else []
    details.append(f"clip {' and '.join(clips)}" if clips else "no clipping")
    return f"{lead} {words} ({', '.join(details)})"
