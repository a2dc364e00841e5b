"""What the memory study runs (issue 33, points 4 and 5): per-task budgets, copy on Arjovsky's axis, the
chrono-against-constant LSTM preset, the IndRNN as Li et al. ran it, and --plan's estimate for new jobs."""

from __future__ import annotations

import csv
import math
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
import yaml
from conftest import ROOT

from rnn_scratch.models.cells.indrnn import IndRNNCell
from rnn_scratch.models.classifier import build_model
from rnn_scratch.models.config import ModelConfig
from rnn_scratch.models.layers import Recurrent
from rnn_scratch.study.adaptive import budget_override, min_length, offset, task_grid
from rnn_scratch.study.forecast import new_jobs, planned
from rnn_scratch.study.presets import Preset
from rnn_scratch.tasks.copy import MEMORYLESS_LOSS, Copy, blanks, seq_len_for
from rnn_scratch.training.config import TrainConfig
from rnn_scratch.training.loop import train

CONFIGS = ROOT / "configs"
MEMORY_TASKS = ("temporal_order", "recall_keys", "copy")


def steps_of(name: str) -> int:
    return int(yaml.safe_load((CONFIGS / "budget" / f"{name}.yaml").read_text())["steps"])


def test_each_memory_task_has_its_own_budget_and_copy_the_largest() -> None:
    for task in MEMORY_TASKS:
        assert budget_override(CONFIGS, "memory", task) == f"+budget=memory_{task}"
    assert budget_override(CONFIGS, "memory", "adding") is None  # no file: the preset's own steps
    assert steps_of("memory_copy") > max(steps_of("memory_temporal_order"), steps_of("memory_recall_keys"))


def test_copy_plans_and_reports_in_arjovskys_T() -> None:
    assert offset("copy") == 20 and offset("recall_keys") == 0
    assert min_length("copy") == 1 and min_length("temporal_order") == 10  # its own MIN_SEQ_LEN
    assert task_grid([10, 100, 500, 1000], "copy") == [10, 100, 500, 1000]  # T, not seq_len
    assert seq_len_for(500) == 520 and blanks(520) == 500
    task = Copy(seq_len=seq_len_for(100))
    assert task.info["blanks_T"] == 100 and task.baselines()["blanks_T"] == 100
    assert MEMORYLESS_LOSS == pytest.approx(math.log(8)) == pytest.approx(task.baselines()["memoryless_loss"])
    assert Copy.length_axis.startswith("T (Arjovsky")


def test_the_chrono_preset_differs_only_in_the_gate_init(compose_cfg: Callable[..., TrainConfig]) -> None:
    chrono = compose_cfg("+experiment=chrono", "+cell=lstm")
    constant = compose_cfg("+experiment=chrono", "+cell=lstm_constant")
    for cfg in (chrono, constant):
        assert cfg.seq_len == seq_len_for(500) and cfg.task.name == "copy"
        assert cfg.steps == steps_of("memory_copy") and cfg.optim.lr == pytest.approx(1e-2)
    assert (chrono.model.gate_init, constant.model.gate_init) == ("chrono", "constant")
    assert constant.model.forget_bias == 1.0
    chrono.model.gate_init, chrono.model.forget_bias = "constant", 1.0
    assert chrono == constant  # nothing else differs
    preset = Preset("chrono", CONFIGS / "experiment" / "chrono.yaml", Path("unused"))
    jobs = planned(preset, "quick")
    assert len(jobs) == 10 and {j["cell"] for j in jobs} == {"lstm", "lstm_constant"}


def test_indrnn_li_resolves_to_the_published_settings(compose_cfg: Callable[..., TrainConfig]) -> None:
    cfg = compose_cfg("+experiment=adding", "+cell=indrnn_li", "seq_len=1000")
    assert (cfg.model.name, cfg.model.num_layers, cfg.model.init) == ("indrnn", 2, "li")
    assert cfg.model.project_recurrent and cfg.hidden_size == 128 and cfg.batch_size == 32
    assert cfg.optim.lr == pytest.approx(2e-4)


def test_li_init_sets_the_top_layer_apart() -> None:
    T = 100
    model = build_model(ModelConfig(name="indrnn", num_layers=2, init="li"), 2, 128, 1, seq_len=T)
    assert isinstance(model.core, Recurrent)
    low, top = model.core.cells
    bound = 2 ** (1 / T)
    assert low.weight_hh.min() >= 0 and low.weight_hh.max() <= bound and low.weight_hh.min() < 0.5
    assert top.weight_hh.min() >= 1 / bound and top.weight_hh.max() <= bound
    assert low.weight_ih.std() < 0.01 and low.bias_ih is not None and not low.bias_ih.any()


def test_project_brings_the_parameter_into_the_bound() -> None:
    cell = IndRNNCell(3, 5, recurrent_max=1.01)
    with torch.no_grad():
        cell.weight_hh.copy_(torch.tensor([-3.0, -0.5, 0.0, 0.5, 3.0]))
    cell.project_()
    assert cell.weight_hh.tolist() == pytest.approx([-1.01, -0.5, 0.0, 0.5, 1.01])


@pytest.mark.parametrize("project", [True, False])
def test_the_constraint_holds_after_training(
    compose_cfg: Callable[..., TrainConfig], tmp_path: Path, project: bool
) -> None:
    """A real run at a large lr that pushes w past 2^(1/T): with projection every parameter stays
    inside the bound; without it (the forward clamp only) some parameter leaves it (so the check can fail)."""
    cfg = compose_cfg(
        "task=adding", "model=indrnn", "model.num_layers=2", f"model.project_recurrent={project}",
        "seq_len=10", "steps=30", "batch_size=16", "hidden_size=16", "optim.lr=0.5", "eval_every=30",
        "eval_size=32", "log_every=30", "analysis=false", "checkpoint_every=30", "diverge_above=null",
    )  # fmt: skip
    train(cfg, tmp_path / "run", progress=False)
    state = torch.load(tmp_path / "run" / "checkpoint.pt", weights_only=True)["model"]
    w = torch.cat([v.flatten() for k, v in state.items() if "weight_hh" in k])
    inside = bool(torch.all(w.abs() <= 2 ** (1 / 10) + 1e-6))
    assert inside == project


def test_plan_lists_the_jobs_no_row_holds_with_a_cost(tmp_path: Path) -> None:
    """Hermetic: a docs tree of its own, with the memory rows the costs come from and 4 of chrono's
    10 quick jobs published, so the plan is the other 6 whatever the project has published."""
    docs = tmp_path / "docs"
    (docs / "study" / "memory").mkdir(parents=True)
    shutil.copy(ROOT / "docs" / "study" / "memory" / "summary.csv", docs / "study" / "memory")
    chrono = Preset("chrono", CONFIGS / "experiment" / "chrono.yaml", Path("unused"))
    quick = planned(chrono, "quick")
    (docs / "study" / "chrono").mkdir()
    with (docs / "study" / "chrono" / "summary.csv").open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=sorted(quick[0]))
        writer.writeheader()
        writer.writerows(quick[:4])
    found = new_jobs(chrono, "quick", docs, CONFIGS)
    assert found.jobs == quick[4:] and found.core_seconds > 0 and "chrono: 6 jobs" in found.line()
    adding = Preset("adding", CONFIGS / "experiment" / "adding.yaml", Path("unused"))
    li = [j for j in planned(adding, "long") if j.get("cell") == "indrnn_li"]
    assert sorted({int(j["seq_len"]) for j in li}) == [100, 500, 1000] and len(li) == 15
    memory = Preset("memory", CONFIGS / "experiment" / "memory.yaml", Path("unused"))
    copy = {int(j["seq_len"]) for j in planned(memory, "long") if j["task"] == "copy"}
    assert {seq_len_for(T) for T in (10, 100, 500, 1000)} <= copy
    empty = new_jobs(memory, "quick", tmp_path, CONFIGS)  # no published rows: every job is new
    assert len(empty.jobs) == len(planned(memory, "quick"))
