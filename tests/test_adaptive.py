"""The adaptive grid of lengths and the honest horizons of the memory page.

The planner (``rnn_scratch.study.adaptive``) is pure: given each (task, cell)'s tallies so far it names the
lengths to run next. These tests pin its three rules (coarse upwards; nothing past a length where every seed
failed; refinement to a ratio <= 1.5 around the transition), then the horizon's reporting (a bracket where
outcomes are separated, no interval widened to the grid, the fitted curve), the fresh-eval confirmation of
"solved", and one real smoke-profile study of the memory preset.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml
from conftest import ROOT, run_script

from rnn_scratch.study.adaptive import (
    MAX_RATIO,
    Tally,
    adaptive_sweep,
    next_lengths,
    plan,
    refine,
    split_list,
    task_grid,
)  # fmt: skip
from rnn_scratch.study.horizon import (
    Outcome,
    horizon,
    horizon_words,
    logistic_curve,
    separated,
)  # fmt: skip
from rnn_scratch.study.memory import fisher_power, label, seeds_needed
from rnn_scratch.study.runs import Job, load_job

GRID = [10, 20, 50, 100, 200]


def tally(k: int, n: int = 5) -> Tally:
    return Tally(k, n)


@pytest.mark.parametrize(
    ("a", "b"), [(10, 20), (20, 50), (200, 500), (500, 1000), (21, 50), (10, 1000), (7, 11)]
)
def test_refine_keeps_every_neighbouring_ratio_within_the_limit(a: int, b: int) -> None:
    points = [a, *refine(a, b), b]
    assert points == sorted(set(points))
    assert all(q / p <= MAX_RATIO for p, q in zip(points, points[1:], strict=False))


def test_refine_adds_nothing_where_the_ratio_already_holds() -> None:
    assert refine(100, 150) == [] and refine(20, 27) == []


def test_coarse_phase_climbs_one_length_a_round() -> None:
    assert next_lengths(GRID, {}) == [10]
    assert next_lengths(GRID, {10: tally(5)}) == [20]
    assert next_lengths(GRID, {10: tally(5), 20: tally(5), 50: tally(4)}) == [100]


def test_nothing_is_run_past_a_length_where_every_seed_failed() -> None:
    done = {10: tally(5), 20: tally(5), 50: tally(0)}
    wanted = next_lengths(GRID, done)
    assert wanted == refine(20, 50) and all(t < 50 for t in wanted)
    assert next_lengths(GRID, {10: tally(0)}) == []  # fails at the shortest: nothing to refine


def test_refinement_spans_the_transition_and_then_stops() -> None:
    done = {10: tally(5), 20: tally(3), 50: tally(0)}
    wanted = next_lengths(GRID, done)
    assert wanted == [*refine(10, 20), *refine(20, 50)]
    done.update({t: tally(2) for t in wanted})
    assert next_lengths(GRID, done) == []


def test_solved_everywhere_needs_no_refinement_but_a_partial_top_does() -> None:
    assert next_lengths(GRID, {t: tally(5) for t in GRID}) == []
    partial_top = {**{t: tally(5) for t in GRID[:-1]}, 200: tally(2)}
    assert next_lengths(GRID, partial_top) == refine(100, 200)


def test_a_task_below_its_minimum_length_starts_at_the_minimum() -> None:
    assert task_grid(GRID, "copy") == GRID  # copy's lengths are Arjovsky's T = seq_len - 20, from T = 1
    assert task_grid([0, 10], "copy") == [1, 10]
    assert task_grid([20, 5], "temporal_order") == [10, 20]  # its MIN_SEQ_LEN


def test_plan_groups_the_round_by_task_and_length() -> None:
    seen = {("copy", "rnn"): {10: tally(5)}, ("copy", "lstm"): {10: tally(0)}}
    got = plan(["copy"], ["rnn", "lstm", "gru"], GRID, seen)
    assert got == {("copy", 20): ["rnn"], ("copy", 10): ["gru"]}


def test_adaptive_sweep_takes_the_planned_keys_and_keeps_the_rest_fixed() -> None:
    params = {"task": "a,b", "+cell": "rnn,lstm", "seq_len": "10,20", "seed": "0,1"}
    sweep, fixed = adaptive_sweep(params, ["seed=range(3)", "steps=4", "hydra/launcher=local"])
    assert sweep == {
        "task": ["a", "b"],
        "cell": ["rnn", "lstm"],
        "seq_len": ["10", "20"],
        "seed": ["0", "1", "2"],
    }
    assert fixed == ["steps=4", "hydra/launcher=local"]
    assert split_list("+cell=rnn") == ("cell", ["rnn"])
    with pytest.raises(ValueError, match="missing: seed"):
        adaptive_sweep({"task": "a", "cell": "rnn", "seq_len": "10"}, [])


def outcomes_at(cell: str, solved_by_length: dict[int, list[bool]]) -> list[Outcome]:
    return [
        Outcome(cell, T, str(seed), ok, 1000.0 if ok else 48000.0, 48000.0)
        for T, runs in solved_by_length.items()
        for seed, ok in enumerate(runs)
    ]


def test_separated_outcomes_are_a_bracket_not_an_interval() -> None:
    results = outcomes_at("rnn", {10: [True] * 5, 20: [True] * 5, 50: [False] * 5, 100: [False] * 5})
    assert separated(results, "rnn") == (20, 50)
    h = horizon(results, "rnn", resamples=200)
    assert horizon_words(results, h) == "between 20 and 50"


def test_an_interval_is_not_widened_to_the_grid() -> None:
    """Overlapping outcomes get the fit and its bootstrap as they come: the old rule stretched every
    interval to the grid lengths around T50; the bootstrap's own ends are kept now."""
    results = outcomes_at("rnn", {10: [True] * 5, 20: [True] * 4 + [False], 50: [True] + [False] * 4})
    assert separated(results, "rnn") is None
    h = horizon(results, "rnn", resamples=300)
    assert 20 < h.estimate < 50
    assert not (h.low == 20 and h.high == 50)
    assert horizon_words(results, h) == h.text()


def test_the_fitted_curve_falls_through_one_half_near_t50() -> None:
    results = outcomes_at("rnn", {10: [True] * 5, 20: [True] * 4 + [False], 50: [True] + [False] * 4})
    T, p = logistic_curve(results, "rnn") or (np.array([]), np.array([]))
    assert len(T) == 200 and np.all(np.diff(p) < 0)
    t50 = horizon(results, "rnn", resamples=10).estimate
    assert p[np.argmin(abs(T - t50))] == pytest.approx(0.5, abs=0.02)


def job(solved: bool, fresh_acc: float | None) -> Job:
    config = {"task": {"name": "temporal_order"}, "seq_len": 20, "batch_size": 32, "steps": 100, "seed": 0}
    metrics = {"status": "solved" if solved else "completed", "steps": 100, "config": config,
               "steps_to_solve": 64 if solved else None, "fresh_eval_acc": fresh_acc}  # fmt: skip
    return Job(Path("."), {"cell": "rnn"}, metrics["status"], metrics)


def test_solved_counts_only_where_the_fresh_eval_confirms_it() -> None:
    """One meaning of solved (``Job.solved``): the eval passed and the fresh eval confirms it."""
    assert job(True, 0.95).solved and not job(True, 0.897).solved and not job(False, 0.99).solved
    assert job(True, 0.897).overturned and not job(True, 0.95).overturned
    assert job(True, None).solved  # no fresh eval measured: the eval's verdict stands
    # interval-censored: solved after the eval before step 64 on its schedule (32, geometric) and by 64
    geometric = job(True, 0.95)
    geometric.metrics["config"].update(eval_every=100, eval_schedule="geometric")
    assert geometric.solve_bounds == (32, 64)
    geometric.metrics["solve_after"] = 50  # recorded by the loop: an unconfirmed pass at 50
    assert geometric.solve_bounds == (50, 64)


def test_fisher_power_and_the_seeds_a_contrast_needs() -> None:
    assert fisher_power(1.0, 0.0, 5) == pytest.approx(1.0)  # 5/5 against 0/5: p = 0.008
    assert fisher_power(1.0, 0.0, 3) == 0.0  # 3/3 against 0/3: p = 0.1, never significant
    n = seeds_needed(0.9, 0.1)
    assert n is not None and fisher_power(0.9, 0.1, n) >= 0.8 > fisher_power(0.9, 0.1, n - 1)


def test_cells_are_labelled_by_what_they_are() -> None:
    def cell_job(cell: str, model: dict, lr: float = 0.003) -> Job:
        config = {"model": model, "optim": {"lr": lr}}
        return Job(Path("."), {"cell": cell}, "completed", {"status": "completed", "config": config})

    jobs = [cell_job("rnn_tuned", {"name": "rnn", "nonlinearity": "relu", "init": "identity"}, 1.12e-4),
            cell_job("rnn_orthogonal", {"name": "rnn", "init": "orthogonal"})]  # fmt: skip
    assert label(jobs, "rnn_tuned") == "IRNN (ReLU, W_hh = I), tuned lr 1.1e-04"
    assert label(jobs, "rnn_orthogonal") == "tanh RNN, orthogonal init"
    assert label(jobs, "gru") == "gru"  # no run: the +cell name
    per_task = [
        *jobs,
        cell_job("rnn_tuned", {"name": "rnn", "nonlinearity": "relu", "init": "identity"}, 0.01),
    ]
    assert label(per_task, "rnn_tuned") == "IRNN (ReLU, W_hh = I), tuned, lr per task"


@pytest.mark.slow
def test_the_memory_preset_runs_adaptively_in_the_smoke_profile(tmp_path: Path) -> None:
    """A real study: rounds of Hydra multiruns, folders named by task, cell, length and seed; at the smoke
    budget every seed fails at the first length, so no longer length is run; the page and figure exist."""
    proc = run_script(["--profile", "smoke", "--only", "memory", "--outputs", str(tmp_path)], cwd=ROOT,
                      script=ROOT / "scripts" / "study.py", timeout=600)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "adaptive grid done after 1 rounds" in proc.stdout
    folders = sorted(p.name for p in (tmp_path / "smoke" / "memory").iterdir() if p.is_dir())
    assert (
        "+cell=lstm,seed=0,seq_len=30,task=copy" in folders  # T = 10
        and "+cell=rnn,seed=1,seq_len=10,task=temporal_order" in folders
    )
    assert not any("seq_len=20," in f for f in folders)
    # each job at its cell's lr for the task where one was chosen (configs/lr), else the preset's 3e-3
    for folder in (tmp_path / "smoke" / "memory").glob("+cell=*"):
        job = load_job(folder)
        chosen = ROOT / "configs" / "lr" / f"{job.overrides['task']}_{job.overrides['cell']}.yaml"
        want = yaml.safe_load(chosen.read_text())["optim"]["lr"] if chosen.exists() else 3e-3
        assert job.config["optim"]["lr"] == pytest.approx(want), folder.name
    page = (tmp_path / "smoke" / "pages" / "study" / "memory.md").read_text()  # the preset's own page
    assert "#### copy memory" in page and "#### temporal order" in page and "Order-free baselines" in page
    assert (tmp_path / "smoke" / "pages" / "study" / "memory" / "memory.png").is_file()
