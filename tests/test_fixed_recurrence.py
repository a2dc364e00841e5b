"""The fixed-recurrence null (issue 33, point 2): a bank of leaky integrators and an echo state network,
untrained but for a softmax read-out, beside the order-free read-outs."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
import torch

from rnn_scratch.study.baselines import fixed_memory_reach, fixed_recurrence_rows, fixed_table
from rnn_scratch.tasks import make_task
from rnn_scratch.tasks.fixed_recurrence import (
    decays,
    esn_step,
    fixed_scores,
    lengths_of,
    run_fixed,
    write_csv,
)

torch.set_num_threads(1)


def test_the_bank_spans_timescales_from_t_down_to_two() -> None:
    lams = decays(100)
    assert lams[0] == pytest.approx(0.99) and lams[-1] == pytest.approx(0.5) and len(lams) == 8
    assert all(a > b for a, b in zip(lams, lams[1:], strict=False))
    assert lengths_of("copy") == [50, 100, 200, 500, 1000] and lengths_of("recall_keys")[0] == 10


def test_the_reservoir_state_is_gathered_at_each_supervised_step() -> None:
    task = make_task("copy", 25)
    batch = task.sample(8, torch.Generator().manual_seed(0))
    step, width = esn_step(0.9, 0.5, task.input_size, 30, torch.Generator().manual_seed(1))
    X, y = run_fixed(task, batch, step, width)
    assert X.shape == (8 * 10, 30) and y.shape == (80,)  # copy: its 10 recall steps, one row each
    assert torch.equal(y, batch.y.T[batch.mask.T])  # row order: step by step, then sequence
    assert X.abs().max() <= 1  # a tanh reservoir's state


def test_a_leaky_filter_solves_temporal_order_where_counts_cannot() -> None:
    """Temporal order's two symbols sit in [10%, 20%) and [50%, 60%) of T: a filter with timescale ~T
    weighs them differently, so a linear read-out tells XY from YX; the counts cannot (ceiling 3/4)."""
    rows = {(r["baseline"], r["setting"]): r for r in fixed_scores(make_task("temporal_order", 50), 512, 512)}
    assert (
        rows[("leaky", "lambda=0.98")]["accuracy"] >= 0.9
        and rows[("leaky", "lambda=0.98")]["solved_rule_pass"]
    )
    assert (
        rows[("counts", "symbol counts")]["accuracy"] < 0.8
        and not rows[("counts", "symbol counts")]["solved_rule_pass"]
    )
    assert {b for b, _ in rows} == {"integrator", "counts", "leaky", "leaky_bank", "esn"}
    assert all(r["solved_rule_pass"] == (r["accuracy"] >= 0.9) for r in rows.values())


def test_the_csv_has_a_row_per_task_length_and_setting(tmp_path: Path) -> None:
    path = tmp_path / "fixed.csv"
    write_csv(path, {"copy": {}}, (10, 21), n_train=64, n_eval=64)
    with path.open() as f:
        rows = list(csv.DictReader(f))
    assert {r["T"] for r in rows} == {"21"}  # copy cannot take T = 10
    assert len(rows) == 2 + 8 + 1 + 9 and all(r["task"] == "copy" for r in rows)
    assert {r["n_train"] for r in rows} == {"64"}
    write_csv(path, {"copy": {}}, (21, 22), n_train=64, n_eval=64)  # resumes: 21 is kept, 22 added
    with path.open() as f:
        again = list(csv.DictReader(f))
    assert again[: len(rows)] == rows and {r["T"] for r in again[len(rows) :]} == {"22"}


def test_the_page_says_where_a_task_starts_needing_learned_memory(tmp_path: Path) -> None:
    path = tmp_path / "fixed_recurrence.csv"
    with path.open("w", newline="") as f:
        out = csv.writer(f)
        out.writerow(
            ["task", "T", "baseline", "setting", "accuracy", "solved_rule_pass", "features", "seconds"]
        )
        # copy's CSV rows are at the generated seq_len; the page reads them on Arjovsky's T = seq_len - 20
        for T, acc in ((30, 0.97), (40, 0.93), (70, 0.6), (120, 0.95)):  # T = 100 passes again: not counted
            out.writerow(["copy", T, "esn", "N=100", acc, acc >= 0.9, 100, 1.0])
            out.writerow(["copy", T, "leaky_bank", "K=8", 0.3, False, 80, 1.0])
    rows = fixed_recurrence_rows(path, "copy")
    assert fixed_memory_reach(rows) == 20 and fixed_recurrence_rows(path, "recall_keys") == {}
    table = fixed_table(rows)  # the page's table; its template says where learned memory starts
    assert ["20", "-", "0.300", "0.930", "esn (N=100): 0.930", "met"] in table.rows
