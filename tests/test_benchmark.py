"""Smoke test of scripts/benchmark.py: it runs, and writes its CSV and JSON (no timing assertions)."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import torch

from rnn_scratch import benchmark as bm

ROOT = Path(__file__).resolve().parents[1]


def test_benchmark_tiny_writes_results(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "benchmark.py"), "--tiny", "--out", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
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
