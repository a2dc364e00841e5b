"""Each cell at its own learning rate (issue 33, point 3): the length a cell is tuned at, the grid and its
widening, the choice written as config, the memory jobs taking it, and the ``lr`` column of summary.csv."""

from __future__ import annotations

import csv
import json
import math
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra

import rnn_scratch.study.lr_grid as lr_grid
from rnn_scratch.study.adaptive import by_lr
from rnn_scratch.study.lr_grid import (
    GRID,
    choose_length,
    half_decade,
    lr_override,
    run_point,
    search,
    write_choice,
)
from rnn_scratch.study.report import write_report

ROOT = Path(__file__).resolve().parents[1]


def summary(tmp_path: Path, outcomes: dict[int, list[bool]], cell: str = "rnn") -> Path:
    path = tmp_path / "summary.csv"
    with path.open("w", newline="") as f:
        out = csv.DictWriter(f, ["task", "cell", "seq_len", "status", "fresh_eval_acc"])
        out.writeheader()
        for T, runs in outcomes.items():
            for ok in runs:
                status = "solved" if ok else "completed"
                out.writerow(
                    {
                        "task": "copy",
                        "cell": cell,
                        "seq_len": T,
                        "status": status,
                        "fresh_eval_acc": 0.95 if ok else 0.3,
                    }
                )
    return path


def test_the_grid_ladder_goes_on_in_half_decades() -> None:
    assert [half_decade(lr, -1) for lr in (1e-3, 3e-4)] == pytest.approx([3e-4, 1e-4])
    assert [half_decade(lr, +1) for lr in (0.1, 0.3)] == pytest.approx([0.3, 1.0])


def test_the_length_is_neither_trivially_solved_nor_hopeless(tmp_path: Path) -> None:
    five, none = [True] * 5, [False] * 5
    assert (
        choose_length(summary(tmp_path, {10: five, 20: [True] * 3 + [False] * 2, 50: none}), "copy", "rnn")
        == 20
    )
    assert (
        choose_length(summary(tmp_path, {10: five, 50: five, 100: five}), "copy", "rnn") == 100
    )  # the longest
    assert choose_length(summary(tmp_path, {21: none, 28: none}), "copy", "rnn") == 21  # the least hopeless
    assert choose_length(summary(tmp_path, {50: five, 71: none, 100: none}), "copy", "rnn") == 50
    # solved in every run up to max_t, and published longer: refused (the objective would rank speed alone)
    with pytest.raises(ValueError, match=r"trivially solved there\); tune it longer: --max-t 200"):
        choose_length(summary(tmp_path, {50: five, 200: [True] * 2 + [False] * 3}), "copy", "rnn", 100)
    with pytest.raises(ValueError, match="no published runs of cell lstm"):
        choose_length(summary(tmp_path, {10: five}), "copy", "lstm")


def objective(value: float) -> dict[str, Any]:
    seeds = {
        "100": {
            "solved": value > 0.01,
            "steps_to_solve": 300 if value > 0.01 else None,
            "fresh_eval_acc": 0.95,
        }
    }
    return {"objective": value, "seeds": seeds, "wall_time_s": 1.0}


def test_the_grid_widens_past_an_edge_and_the_choice_is_config(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An objective peaked at lr 1e-4, below the grid: two half-decade steps down, still at the edge."""
    monkeypatch.setattr(
        lr_grid, "run_point", lambda *a: objective(max(0.0, 0.9 - 0.2 * abs(math.log10(a[-1]) + 4)))
    )
    points = search(tmp_path, tmp_path / "out", "copy", "gru", 21)
    assert len(points) == len(GRID) + 2 and min(points) == pytest.approx(1e-4)
    path = write_choice(tmp_path / "configs", "copy", "gru", 21, points)
    config = yaml.safe_load(path.read_text())
    assert config["optim"]["lr"] == pytest.approx(1e-4) and "edge even after widening" in path.read_text()
    with (tmp_path / "configs" / "lr" / "copy_gru.grid.csv").open() as f:
        grid = list(csv.DictReader(f))
    assert [float(r["lr"]) for r in grid] == pytest.approx([1e-4, 3e-4, *GRID])
    # an interior best: the grid is not widened and the file says so
    monkeypatch.setattr(
        lr_grid, "run_point", lambda *a: objective(max(0.0, 0.9 - 0.2 * abs(math.log10(a[-1]) + 2)))
    )
    inner = search(tmp_path, tmp_path / "out2", "copy", "lstm", 21)
    assert list(inner) == list(GRID)
    assert (
        "Not at the grid's edge" in write_choice(tmp_path / "configs", "copy", "lstm", 21, inner).read_text()
    )
    # no point solved a tuning seed: the file says the choice rests on the tie-break
    monkeypatch.setattr(lr_grid, "run_point", lambda *a: objective(0.009 if a[-1] == 0.01 else 0.005))
    flat = search(tmp_path, tmp_path / "out3", "copy", "rnn", 21)
    text = write_choice(tmp_path / "configs", "copy", "rnn", 21, flat).read_text()
    assert "rests on the tie-break" in text and yaml.safe_load(text)["optim"]["lr"] == 0.01


def test_memory_jobs_take_their_cells_lr(tmp_path: Path) -> None:
    """The planner adds ``+lr=<task>_<cell>`` where a choice exists, and it composes over the cell's own."""
    configs = tmp_path / "configs"
    shutil.copytree(ROOT / "configs", configs, ignore=shutil.ignore_patterns("*.csv"))
    shutil.rmtree(configs / "lr", ignore_errors=True)  # only the choice this test makes
    (configs / "lr").mkdir()
    (configs / "lr" / "recall_keys_rnn_tuned.yaml").write_text("# @package _global_\noptim:\n  lr: 0.0316\n")
    assert lr_override(configs, "recall_keys", "rnn_tuned") == "+lr=recall_keys_rnn_tuned"
    assert lr_override(configs, "copy", "rnn_tuned") is None
    assert by_lr(configs, "recall_keys", ["rnn", "rnn_tuned", "lstm"]) == {
        None: ["rnn", "lstm"],
        "+lr=recall_keys_rnn_tuned": ["rnn_tuned"],
    }
    GlobalHydra.instance().clear()
    with initialize_config_dir(str(configs), version_base="1.3"):
        base = ["+experiment=memory", "task=recall_keys", "+cell=rnn_tuned"]
        assert compose("train", overrides=base).optim.lr != pytest.approx(0.0316)  # its tuned lr
        assert compose("train", overrides=[*base, "+lr=recall_keys_rnn_tuned"]).optim.lr == pytest.approx(
            0.0316
        )
    GlobalHydra.instance().clear()


@pytest.mark.slow
def test_a_grid_point_trains_the_memory_run_on_the_tuning_seeds(tmp_path: Path) -> None:
    small = ("steps=4", "eval_every=2", "eval_size=16", "final_eval_size=32", "hidden_size=8", "batch_size=4")
    found = run_point(ROOT, tmp_path / "p", "temporal_order", "rnn", 10, 0.01, small)
    assert set(found["seeds"]) == {"100", "101"} and 0.0 <= found["objective"] <= 1.01
    metrics = json.loads((tmp_path / "p" / "seed=100" / "metrics.json").read_text())
    assert metrics["config"]["optim"]["lr"] == 0.01 and metrics["config"]["seq_len"] == 10


def test_summary_csv_carries_each_runs_lr_and_the_studys_solved(tmp_path: Path) -> None:
    for seed, (lr, fresh) in enumerate([(0.01, 0.95), (0.1, 0.897)]):
        folder = tmp_path / "sweep" / f"seed={seed}"
        (folder / ".hydra").mkdir(parents=True)
        (folder / ".hydra" / "overrides.yaml").write_text(f"- seed={seed}\n")
        config = {"task": {"name": "temporal_order"}, "seq_len": 20, "seed": seed, "steps": 100,
                  "batch_size": 32, "optim": {"name": "adam", "lr": lr}}  # fmt: skip
        metrics = {"status": "solved", "steps": 40, "eval_acc": 0.92, "fresh_eval_acc": fresh,
                   "steps_to_solve": 40, "solved_rule": "eval_acc >= 0.9", "config": config}  # fmt: skip
        (folder / "metrics.json").write_text(json.dumps(metrics))
    with write_report(tmp_path / "sweep", tmp_path / "report")["csv"].open() as f:
        rows = sorted(csv.DictReader(f), key=lambda r: r["job"])
    assert [float(r["lr"]) for r in rows] == [0.01, 0.1]
    assert [r["solved"] for r in rows] == ["True", "False"]  # the old file's "solved" status, overturned


def test_a_page_reads_back_what_each_lr_rests_on(tmp_path: Path) -> None:
    """The choice ``write_choice`` wrote, read back for the page (``lr_choices``): the lr, the grid, the
    tuning length, the tuning seeds solved, the edge, and whether any grid point solved a seed at all."""
    from rnn_scratch.study.lr_choices import lr_choice

    configs = tmp_path / "configs"
    peaked = {lr: objective(0.5 if lr == 0.01 else 0.005) for lr in GRID}
    write_choice(configs, "copy", "lstm", 120, peaked)
    found = lr_choice(configs, "copy", "lstm")
    assert found is not None and (found.lr, found.grid, found.tuned_at) == (0.01, GRID, 120)
    assert (found.solved, found.seeds, found.at_edge, found.informative) == (1, 1, False, True)
    assert found.words().endswith("1/1 tuning seeds solved; not at the edge")
    flat = {lr: objective(0.009 if lr == 0.1 else 0.005) for lr in GRID}  # nothing solved; 0.1 by tie-break
    write_choice(configs, "copy", "rnn", 21, flat)
    found = lr_choice(configs, "copy", "rnn")
    assert found is not None and found.lr == 0.1 and found.at_edge and not found.informative
    assert "no grid point solved one, so the grid does not inform the lr" in found.words()
    assert lr_choice(configs, "copy", "gru") is None  # no grid run for it
