"""Tuning each cell with an equal budget: the search space, and the objective over tuning seeds.

The tuning preset (``configs/experiment/tune.yaml``) runs Hydra's Optuna sweeper (TPE); this module gives
it two things, neither of which imports Hydra or Optuna:

* ``search_space(cfg, trial)``: the sweeper's ``custom_search_space``. What a careful practitioner would
  give each cell: the keys every cell shares, then the cell's own (``cfg.model.name``'s class declares
  them, ``RecurrentCell.suggest``):

  - ``optim.lr``: log-uniform in [1e-5, 1] (Adam): five decades, so a winner on an edge is a
    finding, not a wall;
  - the cell's: ``model.init`` ``default`` or ``orthogonal`` (a model whose init defines it, the IRNN
    of ``model=irnn``: W_hh = I with ReLU, keeps it and is tuned as a cell of its own); LSTM and GRU:
    ``model.gate_init`` ``constant`` (then ``model.forget_bias`` 1 or 3) or ``chrono``;
  - ``clip``: null or 1.0 (global norm); ``clip_relative``: null or 1.0 (x the running median norm).

* ``train_seeds(cfg, out_dir)``: one trial = the same settings trained on every tuning seed
  (``cfg.tune_seeds``), each run in ``out_dir/seed=<s>``; the trial's objective is the mean over seeds of
  ``score``. Seeds inside a trial, not trials over seeds: Optuna then compares settings, each judged
  on the same seeds, and the number of trials is the number of settings tried.

``score`` of a run: the fraction of the budget a run left unused when it solved (solved is confirmed
on a second eval set: ``rnn_scratch.training.loop.confirmed``), censored at the budget (an unsolved
run used all of it), with the fresh eval's accuracy as a tie-break worth at most 0.01::

    score = (1 - steps_to_solve / steps) + 0.01 * fresh_eval_acc   if solved      (in (0, 1.01))
          =                                0.01 * fresh_eval_acc   otherwise     (in [0, 0.01])

With the preset's eval schedule (geometric: steps 1, 2, 4, 8, 16, then every 25) the best possible score
is reached only by a run solved at step 1: the objective cannot saturate at the first eval, as the one
of issue 20 did (every 100 steps, so every fast setting tied at 1.833).
"""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path
from statistics import mean
from typing import Any

from rnn_scratch.models.registry import model_cell
from rnn_scratch.training.config import TrainConfig
from rnn_scratch.training.loop import train

LR_RANGE = (1e-5, 1.0)
TIE_BREAK = 0.01  # the fresh eval accuracy's weight: it orders runs that solved at the same eval


def search_space(cfg: Any, trial: Any) -> None:
    """Suggest one trial's settings (Optuna's define-by-run API); the sweeper turns ``trial.params``
    into overrides ``key=value``. ``cfg``: the sweep's composed config (``cfg.model.name`` picks the cell)."""
    trial.suggest_float("optim.lr", *LR_RANGE, log=True)
    model_cell(cfg.model.name).suggest(trial, cfg.model)
    trial.suggest_categorical("clip", ["null", 1.0])
    trial.suggest_categorical("clip_relative", ["null", 1.0])


def score(metrics: dict[str, Any]) -> float:
    """One run's score (see the module docstring): the budget left when it solved, censored at the
    budget, plus ``TIE_BREAK`` x the fresh eval accuracy (the eval accuracy where there was none)."""
    steps, solved_at = metrics.get("config", {}).get("steps"), metrics.get("steps_to_solve")
    acc = metrics.get("fresh_eval_acc", metrics.get("eval_acc"))
    tie = TIE_BREAK * float(acc if acc is not None and math.isfinite(acc) else 0.0)
    if metrics.get("solved") and solved_at is not None and steps:
        return (1.0 - solved_at / steps) + tie
    return tie


def train_seeds(cfg: TrainConfig, out_dir: Path) -> dict[str, Any]:
    """Train ``cfg`` once per seed of ``cfg.tune_seeds`` into ``out_dir/seed=<s>``; write and return
    ``objective.json``: the mean score, and per seed its score, solved flag, steps to solve, wall time."""
    assert cfg.tune_seeds, "tune_seeds must list the tuning seeds"
    runs, scores = {}, []
    for seed in cfg.tune_seeds:
        one = dataclasses.replace(cfg, seed=seed, tune_seeds=None)
        metrics = train(one, out_dir / f"seed={seed}", progress=False)
        scores.append(score(metrics))
        runs[str(seed)] = {
            "score": scores[-1], "solved": metrics.get("solved"), "eval_acc": metrics.get("eval_acc"),
            "fresh_eval_acc": metrics.get("fresh_eval_acc"),
            "unconfirmed_passes": metrics.get("unconfirmed_passes"),
            "steps_to_solve": metrics.get("steps_to_solve"), "status": metrics.get("status"),
            "wall_time_s": metrics.get("wall_time_s"),
        }  # fmt: skip
    result = {
        "objective": mean(scores),
        "seeds": runs,
        "wall_time_s": sum(r["wall_time_s"] or 0.0 for r in runs.values()),
        "budget_sequences_per_run": cfg.steps * cfg.batch_size,
    }
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "objective.json").write_text(json.dumps(result, indent=2) + "\n")
    return result
