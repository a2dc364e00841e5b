"""Smoke test of scripts/benchmark.py: it runs, and writes its CSV and JSON (no timing assertions)."""

from __future__ import annotations

import csv
import json
import re
import subprocess
import sys
from pathlib import Path

import torch

from rnn_scratch.benchmark import timing as bm

ROOT = Path(__file__).resolve().parents[1]


ONE_RNN_RUN = ("--families", "rnn", "--runs", "1", "--run-args")  # then the runs' overrides


def run_benchmark(out: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``scripts/benchmark.py --tiny ARGS --out OUT`` in a subprocess."""
    command = [sys.executable, str(ROOT / "scripts" / "benchmark.py"), "--tiny", *args, "--out", str(out)]
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300)


def test_benchmark_tiny_writes_results(tmp_path: Path) -> None:
    proc = run_benchmark(tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    with open(tmp_path / "results.csv") as f:
        rows = list(csv.DictReader(f))
    impls = {r["impl"] for r in rows}
    assert {"rnn autograd", "rnn manual BPTT", "torch.nn.RNN"} <= impls
    assert all(float(r["fwd_bwd_ms"]) > 0 and float(r["fwd_ms"]) > 0 for r in rows)
    summary = json.loads((tmp_path / "results.json").read_text())
    assert len(summary["results"]) == len(rows)
    assert summary["config"]["tiny"] is True
    with open(tmp_path / "memory.csv") as f:
        mem = list(csv.DictReader(f))
    assert [int(r["T"]) for r in mem] == [4, 8]
    assert "speedup" in proc.stdout
    # The Markdown page for docs/: how it was measured, the manual-BPTT grid, every implementation.
    page = (tmp_path / "results.md").read_text()
    assert "python scripts/benchmark.py --tiny" in page
    grid = page.split("## Manual BPTT")[1].split("##")[0]
    assert "| 8 × 4 |" in grid and grid.count("·") == len(bm.available_families())
    for r in rows:  # each speed-up lies within its quartiles over repeats
        assert float(r["speedup_q1"]) <= float(r["speedup_fwd_bwd"]) <= float(r["speedup_q3"])


def test_paired_ratio_cancels_drift_between_repeats() -> None:
    # The machine slowed down 10x in repeat 2: each pair still says "twice as fast".
    ours, torch_nn = [1.0, 10.0, 1.1], [2.0, 20.0, 2.2]
    assert bm.paired_ratio(torch_nn, ours) == (2.0, 2.0, 2.0)
    med, q1, q3 = bm.paired_ratio([1.0, 2.0, 3.0, 4.0, 5.0], [1.0] * 5)
    assert (med, q1, q3) == (3.0, 2.0, 4.0)


def test_benchmark_times_whole_training_runs(tmp_path: Path) -> None:
    proc = run_benchmark(tmp_path, *ONE_RNN_RUN, "seq_len=5 steps=2 eval_size=8")
    assert proc.returncode == 0, proc.stderr[-3000:]
    with open(tmp_path / "runs.csv") as f:
        runs = list(csv.DictReader(f))
    assert [(r["run"], r["bptt"]) for r in runs] == [
        ("model=rnn seq_len=5 steps=2 eval_size=8", mode) for mode in ("autograd", "manual")
    ]
    assert all(0 < float(r["train_s"]) < float(r["total_s"]) for r in runs)
    assert all(r["metric"].startswith("eval_acc=") for r in runs)
    assert "## Whole training runs" in (tmp_path / "results.md").read_text()


def test_benchmark_failing_run_is_one_error(tmp_path: Path) -> None:
    proc = run_benchmark(tmp_path, *ONE_RNN_RUN, "seq_len=5 steps=2 no_such_key=1")
    assert proc.returncode != 0
    assert "error: --runs:" in proc.stderr and "no_such_key" in proc.stderr
    assert not (tmp_path / "results.md").exists()


def test_held_bytes_linear_in_t_and_bounded_by_chunks() -> None:
    torch.manual_seed(0)
    layer = bm.hand_written("rnn", 5, 8, bptt="manual")
    held, chunked = [], []
    for steps in (8, 16):
        x = bm.one_hot_input(steps, 4, 5, "cpu", torch.float32)
        held.append(bm.peak_memory_bytes(lambda x=x: layer(x)[0], layer, x, "cpu"))
        chunked.append(bm.chunked_peak_bytes(layer, x, 2, "cpu"))
    # The manual path keeps exactly its output (T, B, H) and h0 (B, H), float32.
    assert held == [(8 + 1) * 4 * 8 * 4, (16 + 1) * 4 * 8 * 4]
    # Streamed in chunks of 2 steps it does not grow with T: one chunk's output, plus the previous
    # chunk's, which the carried state (a view of it) keeps alive.
    assert chunked == [2 * (2 * 4 * 8 * 4)] * 2


def test_benchmark_shows_progress_and_states_its_duration(tmp_path: Path) -> None:
    proc = run_benchmark(tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "benchmark: shapes (H, T)" in proc.stderr  # tqdm's bar
    assert re.search(r"wrote .* \(\d+ s in all\)", proc.stdout)
    assert re.search(r"The whole benchmark took \d+ s of wall clock", (tmp_path / "results.md").read_text())
