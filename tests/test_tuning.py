"""Issue 20: relative clipping and spike counts, the tuning search space and objective, the Optuna sweep
end to end, the committed tuned settings, and the contest and stability sections of the study page.

Runs are real (scripts/train.py and scripts/study.py in subprocesses, or ``train``); Optuna's own
``Trial`` objects drive the search space. Nothing is mocked.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable
from pathlib import Path

import optuna
import pytest
import yaml
from conftest import ROOT, TINY, run_script
from omegaconf import OmegaConf

from rnn_scratch.errors import ConfigError
from rnn_scratch.study.tuning import describe, read_tuning
from rnn_scratch.training.config import ModelConfig, TrainConfig, validate
from rnn_scratch.training.loop import train
from rnn_scratch.training.spikes import SPIKE_FACTOR, WARMUP, NormHistory
from rnn_scratch.training.tuning import score, search_space

WRITE_TUNED = ROOT / "scripts" / "write_tuned.py"
REPORT_SCRIPT = ROOT / "scripts" / "report.py"
STUDY_SCRIPT = ROOT / "scripts" / "study.py"


# --- relative clipping and spikes -----------------------------------------------------------------


def test_norm_history_median_threshold_and_spikes() -> None:
    history = NormHistory()
    for _ in range(WARMUP - 1):
        assert not history.add(1.0)
    assert history.median() is None and history.threshold(None, 2.0) is None  # still warming up
    assert history.threshold(5.0, 2.0) == 5.0
    history.add(3.0)
    assert history.median() == 1.0
    assert history.threshold(None, 2.0) == 2.0 and history.threshold(1.5, 2.0) == 1.5
    assert not history.add(SPIKE_FACTOR * 1.0)  # equal is not above
    assert history.add(SPIKE_FACTOR * 1.0 + 1e-9) and history.add(float("inf"))
    assert history.spikes == 2 and float("inf") not in history.norms
    again = NormHistory(**history.state_dict())
    assert list(again.norms) == list(history.norms) and again.spikes == 2


def test_relative_clipping_in_a_real_run(tmp_path: Path) -> None:
    """clip_relative=1.0 clips about half the steps after the warm-up (the norm is above its median about
    half the time); metrics.json counts spikes; without clipping nothing is clipped."""
    cfg = TrainConfig(
        seq_len=10, hidden_size=8, batch_size=8, steps=60, eval_every=60, eval_size=32, log_every=10,
        analysis=False, device="cpu", clip_relative=1.0, model=ModelConfig(init="orthogonal"),
    )  # fmt: skip
    clipped = train(cfg, tmp_path / "rel", progress=False)
    assert 0.25 < clipped["clipped_fraction"] < 0.75, clipped["clipped_fraction"]
    assert isinstance(clipped["grad_spikes"], int) and clipped["grad_spikes"] >= 0
    free = train(TrainConfig(**{**cfg.__dict__, "clip_relative": None}), tmp_path / "free", progress=False)
    assert free["clipped_fraction"] == 0.0


@pytest.mark.parametrize(
    ("changes", "key"),
    [
        ({"clip_relative": 0.0}, "clip_relative"),
        ({"clip_relative": 1.0, "clip_mode": "value"}, "clip_relative"),
        ({"tune_seeds": []}, "tune_seeds"),
    ],
)
def test_bad_clipping_and_tuning_keys(changes: dict, key: str) -> None:
    with pytest.raises(ConfigError) as info:
        validate(TrainConfig(**changes))
    assert info.value.key == key


# --- the search space and the objective -----------------------------------------------------------


@pytest.mark.parametrize("model", ["rnn", "irnn", "lstm", "gru"])
def test_search_space_per_cell(model: str) -> None:
    """What each cell may get: every trial an lr in [1e-5, 1] and both clipping keys; the tanh RNN
    and the gated cells an init, default or orthogonal (never identity); the IRNN (model=irnn) keeps its
    identity init and ReLU, searched over lr and clipping only: a cell of its own; gated cells a gate
    init, constant 1 or 3 or chrono."""
    base = {
        "rnn": {"name": "rnn", "init": "default", "nonlinearity": "tanh"},
        "irnn": {"name": "rnn", "init": "identity", "nonlinearity": "relu"},
        "lstm": {"name": "lstm", "init": "default"},
        "gru": {"name": "gru", "init": "default"},
    }[model]
    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.RandomSampler(seed=0))
    seen: set[tuple[str, ...]] = set()
    lrs = []
    for _ in range(60):
        trial = study.ask()
        search_space(OmegaConf.create({"model": base}), trial)
        p = trial.params
        lrs.append(p["optim.lr"])
        assert 1e-5 <= p["optim.lr"] <= 1.0 and {"clip", "clip_relative"} <= set(p)
        assert "model.nonlinearity" not in p and p.get("model.init") != "identity"
        if model == "irnn":
            assert "model.init" not in p
        if model in ("rnn", "irnn"):
            assert "model.gate_init" not in p
        else:
            assert (p["model.gate_init"] == "constant") == ("model.forget_bias" in p)
            assert p.get("model.forget_bias", 1.0) in (1.0, 3.0)
        seen.add((str(p.get("model.init")), str(p.get("model.gate_init")), str(p.get("model.forget_bias"))))
        study.tell(trial, 0.0)
    expected = {"rnn": 2, "irnn": 1, "lstm": 6, "gru": 6}[model]  # every branch of the space is reachable
    assert len(seen) == expected, seen
    assert min(lrs) < 1e-4 and max(lrs) > 1e-2  # the range reaches past the old one's edges


def test_score_cannot_saturate_at_the_first_eval() -> None:
    """The budget left when solved, censored at the budget, + 0.01 x the fresh eval accuracy."""
    fast = {"solved": True, "steps_to_solve": 25, "fresh_eval_acc": 0.95, "config": {"steps": 600}}
    faster = {**fast, "steps_to_solve": 16}
    slow = {**fast, "steps_to_solve": 500, "fresh_eval_acc": 0.99}
    unsolved = {"solved": False, "steps_to_solve": None, "fresh_eval_acc": 0.89, "config": {"steps": 600}}
    assert score(fast) == pytest.approx(1 - 25 / 600 + 0.0095)
    assert score(faster) > score(fast) > score(slow) > score(unsolved) == pytest.approx(0.0089)
    tie = {**fast, "fresh_eval_acc": 0.99}  # solved at the same eval: the fresh eval breaks the tie
    assert score(tie) > score(fast)
    assert score({**unsolved, "fresh_eval_acc": float("nan")}) == 0.0  # diverged: nothing to add


# --- the Optuna sweep, end to end -----------------------------------------------------------------


def header_of(path: Path) -> str:
    """A generated config's header comment as one line."""
    return " ".join(line[2:] for line in path.read_text().splitlines() if line.startswith("# "))


@pytest.mark.slow  # 3 trials x 2 seeds of a 6-step run, Hydra and Optuna: 47 s on the loaded 2 cores
def test_optuna_tuning_sweep_and_write_tuned(tmp_path: Path) -> None:
    sweep = tmp_path / "tune"
    args = ["-m", "+experiment=tune", "model=lstm", "seq_len=8", *TINY, "hydra.sweeper.n_trials=3"]
    proc = run_script([*args, f"hydra.sweep.dir={sweep}"], cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = yaml.safe_load((sweep / "optimization_results.yaml").read_text())
    objectives = [json.loads((sweep / str(i) / "objective.json").read_text()) for i in range(3)]
    assert results["best_value"] == max(o["objective"] for o in objectives)
    for o in objectives:  # one trial: the same setting on both tuning seeds, the mean score
        assert set(o["seeds"]) == {"100", "101"}
        assert o["objective"] == pytest.approx(sum(s["score"] for s in o["seeds"].values()) / 2)
    seeds_run = json.loads((sweep / "0" / "seed=101" / "metrics.json").read_text())["config"]
    assert seeds_run["seed"] == 101 and seeds_run["tune_seeds"] is None
    assert not any(o["seeds"][s]["solved"] for o in objectives for s in o["seeds"])  # 6 steps: none solved

    # the sweep ends as a tuning: trials, seeds, the best, its runs (none failed), no alembic lines
    best = read_tuning(sweep).best
    assert best is not None and best.objective == results["best_value"]
    told = proc.stdout.strip().splitlines()
    lead = (
        f"tuning: 3 trials x 2 seeds (100, 101), best objective {best.objective:.4g} (trial {best.number}: "
    )
    assert told[-4].startswith(lead + "optim.lr=")
    assert told[-3] == f"runs: 6 finished (0 solved), 0 diverged, 0 failed or interrupted -> {sweep}"
    assert told[-1].endswith("(no tuning seed solved: it refuses unless --force)")
    assert "alembic" not in proc.stdout + proc.stderr

    # the report reads it as tuning: a section on the trials, a group per trial, no job missing
    proc = run_script([str(sweep), "--out", str(tmp_path / "report")], cwd=tmp_path, script=REPORT_SCRIPT)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[-2:] == told[-4:-2]
    md = (tmp_path / "report" / "summary.md").read_text()
    assert "Tuning: lstm on recall, seq_len 8: 3 trials x 2 tuning seeds (100, 101)" in md
    assert f"| {best.number} (best) |" in md and "**missing**" not in md
    with (tmp_path / "report" / "grouped.csv").open() as f:
        assert [r["trial"] for r in csv.DictReader(f)] == ["0", "1", "2"]

    # no seed solved: write_tuned refuses (one line, exit 2, nothing written) unless forced
    out = tmp_path / "tuned"
    proc = run_script([str(sweep), "--out", str(out)], cwd=tmp_path, script=WRITE_TUNED)
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1 and "no tuning seed solved" in proc.stderr
    assert not out.exists()
    proc = run_script([str(sweep), "--out", str(out), "--force"], cwd=tmp_path, script=WRITE_TUNED)
    assert proc.returncode == 0, proc.stderr
    written = out / "recall_lstm_seq8.yaml"
    text = written.read_text()
    assert text.startswith("# @package _global_") and "do not edit by hand" in text and "3 trials" in text
    command = " ".join(["python scripts/train.py", *args])  # every override, in the order given
    assert f"Made by: {command} (Optuna TPE" in header_of(written)
    settings = yaml.safe_load(text)
    assert settings["defaults"] == [{"override /model": "lstm"}]
    assert settings["optim"]["lr"] == pytest.approx(float(best.params["optim.lr"]))
    assert settings["model"]["init"] == best.params["model.init"]
    assert settings["model"]["gate_init"] == best.params["model.gate_init"]


@pytest.mark.slow  # 1 trial x 2 seeds of a 30-step run that solves (~25 s on the loaded 2 cores)
def test_write_tuned_never_overwrites_a_file_unless_forced(tmp_path: Path) -> None:
    sweep, out = tmp_path / "tune", tmp_path / "tuned"
    easy = ["seq_len=3", "task.n_classes=2", "steps=30", "eval_every=5", "log_every=5", "eval_size=64"]
    args = ["-m", "+experiment=tune", "model=rnn", *easy, "batch_size=32", "hidden_size=16"]
    proc = run_script([*args, "hydra.sweeper.n_trials=1", f"hydra.sweep.dir={sweep}"], cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    solved = [json.loads(p.read_text())["solved"] for p in sweep.glob("0/seed=*/metrics.json")]
    assert solved == [True, True]
    assert f"runs: 2 finished (2 solved), 0 diverged, 0 failed or interrupted -> {sweep}" in proc.stdout
    proc = run_script([str(sweep), "--out", str(out)], cwd=tmp_path, script=WRITE_TUNED)
    assert proc.returncode == 0, proc.stderr
    written = out / "recall_rnn_seq3.yaml"
    assert "hydra.sweeper.n_trials=1" in header_of(written) and "task.n_classes=2" in header_of(written)
    written.write_text("# committed by hand\n")
    proc = run_script([str(sweep), "--out", str(out)], cwd=tmp_path, script=WRITE_TUNED)
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1 and "exists" in proc.stderr
    assert written.read_text() == "# committed by hand\n"  # left as it was
    proc = run_script([str(sweep), "--out", str(out), "--force"], cwd=tmp_path, script=WRITE_TUNED)
    assert proc.returncode == 0 and written.read_text().startswith("# @package _global_")


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_committed_tuned_settings_compose(cell: str, compose_cfg: Callable[..., TrainConfig]) -> None:
    """configs/tuned/recall_<cell>_seq50.yaml, written by write_tuned.py, composes to what its file says;
    default_<cell> is the model's defaults."""
    path = ROOT / "configs" / "tuned" / f"recall_{cell}_seq50.yaml"
    saved = yaml.safe_load(path.read_text())
    cfg = compose_cfg(f"+tuned=recall_{cell}_seq50")
    assert cfg.model.name == cell and cfg.optim.lr == pytest.approx(saved["optim"]["lr"])
    assert cfg.clip == saved["clip"] and cfg.clip_relative == saved["clip_relative"]
    for key, value in saved["model"].items():
        assert getattr(cfg.model, key) == value, key
    default = compose_cfg(f"+tuned=default_{cell}")
    assert default.model.name == cell and default.model.init == "default" and default.clip is None
    assert default.optim.lr == 3e-3 and default.clip_relative is None


def test_describe_names_what_ran() -> None:
    rnn = {"model": {"name": "rnn", "init": "default", "nonlinearity": "tanh"}, "optim": {"lr": 3e-3}}
    assert describe(rnn, False) == "the default-initialised tanh RNN (lr 0.003, no clipping)"
    irnn = {
        "model": {"name": "rnn", "init": "identity", "nonlinearity": "relu"}, "optim": {"lr": 1.1e-4},
        "clip_relative": 1.0,
    }  # fmt: skip
    assert describe(irnn, True) == "the tuned IRNN (ReLU, W_hh = I) (lr 0.00011, clip 1x median)"
    lstm = {"model": {"name": "lstm", "init": "orthogonal", "gate_init": "chrono"}, "optim": {"lr": 0.01}}
    assert (
        describe({**lstm, "clip": 1.0}, True)
        == "the tuned LSTM (orthogonal init, chrono gate bias, lr 0.01, clip 1)"
    )


# --- the study's contest and stability sections ---------------------------------------------------


@pytest.mark.slow  # two smoke presets, 12 tiny jobs: 107 s on the loaded 2-core machine
def test_contest_and_stability_sections(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    command = ["--profile", "smoke", "--only", "contest,stability", "--outputs", str(tmp_path / "out")]
    proc = run_script(
        [*command, "--docs", str(docs), "hydra/launcher=basic"], cwd=tmp_path, script=STUDY_SCRIPT
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    contest = (docs / "study" / "contest.md").read_text().split("### Default against tuned")[1]
    # the smoke profile: one multirun, the tanh RNN's defaults and its settings tuned on each task, on both
    assert "| recall | rnn | the default-initialised tanh RNN (lr 0.003, no clipping) | 0/2 [" in contest
    assert "| temporal_order | rnn | the default-initialised tanh RNN" in contest
    assert "| recall | rnn | tuned on temporal_order |" in contest  # the other task's settings: transfer
    assert "deciding test | p | Holm p |" in contest and "p = 1.00" in contest  # 0/2 against 0/2 at 4 steps
    assert "`configs/tuned/recall_rnn_seq50.yaml`: Tuned settings" in contest
    assert "| `recall_rnn_seq50` | 24 |" in contest  # its trial table, summarised
    page = (docs / "study" / "stability.md").read_text()
    stability = page.split("### Clipping against the run's own gradient norms")[1]
    assert "| 0.05 | null | 0/2 [0.00, 0.84] | 0/2 |" in stability
    assert "- lr 0.05, clip_relative 1.0: rescued 0 of 2 seeds (none); hurt 0 (none)" in stability
