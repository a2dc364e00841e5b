"""A finished tuning sweep read back, and the tuned settings it yields as a committed YAML.

The tuning preset (``configs/experiment/tune.yaml``) leaves, in its sweep folder, Optuna's
``optimization_results.yaml`` (``best_params``, ``best_value``) and one job folder per trial (``<i>/``:
``.hydra/``, ``objective.json``, and a run per tuning seed in ``seed=<s>/``). ``read_tuning`` gathers
them; ``tuned_yaml`` writes the best trial's settings as a config of the ``tuned`` group
(``configs/tuned/<task>_<cell>_seq<T>.yaml``, used as ``+tuned=<name>``), with a header saying how it
was made. ``describe`` words a run's settings for the study's claims ("the tuned LSTM (orthogonal, ...)").
"""

from __future__ import annotations

import json
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

CELL_WORDS = {"rnn": "tanh RNN", "lstm": "LSTM", "gru": "GRU"}
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


@dataclass
class Tuning:
    folder: Path
    task: str
    cell: str
    seq_len: int
    seeds: list[int]
    budget_sequences: int  # per run: steps x batch_size
    trials: list[Trial]
    best: Trial
    elapsed_s: float  # wall clock of the whole sweep: first trial's start to the results file

    @property
    def compute_s(self) -> float:
        """Sum of every run's wall time: core-seconds (one thread per run)."""
        return sum(t.wall_time_s for t in self.trials)

    @property
    def name(self) -> str:
        return f"{self.task}_{self.cell}_seq{self.seq_len}"


def _overrides(job: Path) -> dict[str, str]:
    lines = yaml.safe_load((job / ".hydra" / "overrides.yaml").read_text()) or []
    return dict(str(line).split("=", 1) for line in lines if "=" in str(line))


def read_tuning(folder: Path | str) -> Tuning:
    """The trials of a tuning sweep and its best one; FileNotFoundError without optimization_results.yaml."""
    folder = Path(folder)
    results = yaml.safe_load((folder / "optimization_results.yaml").read_text())
    best_params = {str(k): v for k, v in results["best_params"].items()}
    trials = []
    for job in sorted((p.parent for p in folder.glob("*/.hydra")), key=lambda p: int(p.name)):
        chosen = {k: v for k, v in _overrides(job).items() if k in SEARCH_KEYS}
        found = job / "objective.json"
        objective = json.loads(found.read_text()) if found.is_file() else None
        trials.append(
            Trial(
                int(job.name), chosen, None if objective is None else float(objective["objective"]),
                0.0 if objective is None else float(objective["wall_time_s"]),
                0 if objective is None else sum(bool(s["solved"]) for s in objective["seeds"].values()),
            )
        )  # fmt: skip
    best = next(t for t in trials if t.objective == results["best_value"] and _same(t.params, best_params))
    config = yaml.safe_load((folder / str(best.number) / ".hydra" / "config.yaml").read_text())
    budget = int(config["steps"]) * int(config["batch_size"])
    seeds = [int(s) for s in config["tune_seeds"]]
    task, cell = config["task"]["name"], config["model"]["name"]
    first = folder / str(trials[0].number) / ".hydra" / "config.yaml"
    elapsed = (folder / "optimization_results.yaml").stat().st_mtime - first.stat().st_mtime
    return Tuning(folder, task, cell, int(config["seq_len"]), seeds, budget, trials, best, elapsed)


def _same(a: dict[str, Any], b: dict[str, Any]) -> bool:
    return a.keys() == b.keys() and all(str(a[k]) == str(b[k]) for k in a)


def _value(text: Any) -> Any:
    """An override's text as YAML reads it (``null`` -> None, ``1.0`` -> 1.0)."""
    return yaml.safe_load(str(text))


def tuned_settings(tuning: Tuning) -> dict[str, Any]:
    """The best trial's settings, every key of the search space spelled out (untouched ones at the
    cell's default), nested as a config reads them."""
    p = {k: _value(v) for k, v in tuning.best.params.items()}
    model: dict[str, Any] = {"init": p.get("model.init", "default")}
    if tuning.cell == "rnn":
        model["nonlinearity"] = p.get("model.nonlinearity", "tanh")
    else:
        model["gate_init"] = p.get("model.gate_init", "constant")
        if model["gate_init"] == "constant":
            model["forget_bias"] = p.get("model.forget_bias")
    return {
        "model": model,
        "optim": {"lr": float(p["optim.lr"])},
        "clip": p.get("clip"),
        "clip_relative": p.get("clip_relative"),
    }


def tuned_yaml(tuning: Tuning, source: str) -> str:
    """The ``tuned`` group's config for this cell and lag, with a header saying how it was made."""
    best, seeds = tuning.best, ", ".join(map(str, tuning.seeds))
    made = (
        f"Tuned settings: {tuning.cell} on {tuning.task}, seq_len {tuning.seq_len}. Generated by "
        f"scripts/write_tuned.py from {source}/optimization_results.yaml; do not edit by hand. Made by: "
        f"python scripts/train.py -m +experiment=tune model={tuning.cell} seq_len={tuning.seq_len} "
        f"(Optuna TPE, {len(tuning.trials)} trials, each on tuning seeds {seeds}; up to "
        f"{tuning.budget_sequences} training sequences per run). Best: trial {best.number}, objective "
        f"{best.objective:.3f}, {best.solved}/{len(tuning.seeds)} tuning seeds solved. Tuning compute: "
        f"{tuning.compute_s:.0f} core-s (sum of the runs' wall time), {tuning.elapsed_s:.0f} s of wall clock "
        f"for the sweep (one job at a time, threads=1). Use: +tuned={tuning.name}"
    )
    header = ["# @package _global_", *(f"# {line}" for line in textwrap.wrap(made, 100))]
    header += ["defaults:", f"  - override /model: {tuning.cell}", ""]
    body = yaml.safe_dump(tuned_settings(tuning), sort_keys=False, default_flow_style=False)
    return "\n".join(header) + body


def describe(config: dict[str, Any], tuned: bool) -> str:
    """A run's settings in words, from metrics.json's config: "the default-initialised tanh RNN (lr
    0.003, no clipping)", "the tuned LSTM (orthogonal, chrono gate bias, lr 0.0041, clip 1.0)"."""
    model, optim = config.get("model", {}), config.get("optim", {})
    cell = model.get("name", "?")
    if cell == "rnn" and model.get("nonlinearity") == "relu":
        words = "IRNN (ReLU, W_hh = I)" if model.get("init") == "identity" else "ReLU RNN"
    else:
        words = CELL_WORDS.get(cell, cell)
    details = []
    irnn = cell == "rnn" and model.get("nonlinearity") == "relu" and model.get("init") == "identity"
    lead = "the tuned" if tuned else "the default-initialised" if model.get("init") == "default" else "the"
    if not irnn and lead != "the default-initialised":
        details.append(f"{model.get('init', 'default')} init")
    if cell in ("lstm", "gru"):
        if model.get("gate_init") == "chrono":
            details.append("chrono gate bias")
        else:
            bias = model.get("forget_bias")
            details.append(
                "torch's gate bias" if bias is None and cell == "gru" else f"gate bias {bias or 1.0:g}"
            )
    details.append(f"lr {optim.get('lr', 0):.2g}")
    clip, relative = config.get("clip"), config.get("clip_relative")
    clips = [f"{clip:g}"] if clip is not None else []
    clips += [f"{relative:g}x median"] if relative is not None else []
    details.append(f"clip {' and '.join(clips)}" if clips else "no clipping")
    return f"{lead} {words} ({', '.join(details)})"
