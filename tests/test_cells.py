"""Every cell the package registers gets the whole cell suite (tests/cell_suite.py), ReLU cells included."""

from __future__ import annotations

import yaml
from cell_suite import CellSuite, package_cells, pytest_generate_tests  # noqa: F401 (the hook expands cases)
from conftest import CONFIGS

from rnn_scratch.models.registry import baseline_names, cell_names, model_names


class TestEveryRegisteredCell(CellSuite):
    cells = package_cells()


def test_the_registry_lists_the_cells_and_their_torch_twins() -> None:
    assert cell_names() == ("rnn", "lstm", "gru", "indrnn")
    assert baseline_names() == ("torch_rnn", "torch_lstm", "torch_gru")  # the IndRNN has none in torch.nn


def test_every_model_option_is_a_registered_model_and_back() -> None:
    """``model=`` choices are configs/model/*.yaml: each names a registered model, and each registered
    model of the package has its file (irnn.yaml is the rnn cell with its IRNN settings)."""
    names = {p.stem: yaml.safe_load(p.read_text())["name"] for p in (CONFIGS / "model").glob("*.yaml")}
    assert set(names.values()) <= set(model_names())
    assert {*(c.name for c in package_cells()), *baseline_names()} <= set(names)
    assert all(stem == name for stem, name in names.items() if stem != "irnn")
