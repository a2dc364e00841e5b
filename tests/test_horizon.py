"""The horizon: per-cell success against T, the logistic T50 with its bootstrap interval, the page and
its figure; and the cluster's SIGUSR2: checkpoint at the signal, hand it on, resume from that step."""

from __future__ import annotations

import json
import math
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import ROOT, TRAIN_SCRIPT, run_script

from rnn_scratch.study.horizon import (
    Outcome,
    fit_logistic,
    horizon,
    horizon_of,
    horizon_section,
    horizon_words,
)
from rnn_scratch.study.literature import LITERATURE, literature_tables
from rnn_scratch.study.render import render
from rnn_scratch.study.runs import load_job

PNG = b"\x89PNG"


def grid(rule: dict[int, int], cell: str = "c", seeds: int = 5) -> list[Outcome]:
    """Outcomes where ``rule[T]`` of ``seeds`` seeds solved at T (the first ones)."""
    return [Outcome(cell, T, str(s), s < k, 0.0, 1.0) for T, k in rule.items() for s in range(seeds)]


def test_logistic_fit_recovers_a_known_curve() -> None:
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 8, 20000)
    a, b = 6.0, -1.5  # T50 = exp(4)
    y = (rng.random(x.size) < 1 / (1 + np.exp(-(a + b * x)))).astype(float)
    fa, fb = fit_logistic(x, y)
    assert fa == pytest.approx(a, abs=0.15) and fb == pytest.approx(b, abs=0.05)


def test_horizon_ends_are_honest_and_separation_lands_between_the_lengths() -> None:
    T = np.array([10.0, 20, 50, 100, 200])
    assert horizon_of(T, np.ones(5, bool)) == math.inf
    assert horizon_of(T, np.zeros(5, bool)) == 0.0
    results = grid({10: 5, 20: 5, 50: 5, 100: 0, 200: 0})
    apart = horizon(results, "c", resamples=200)
    assert 50 < apart.estimate < 100  # finite although the MLE does not exist
    # every resample agrees, and the interval is not widened to the grid: the page reports the bracket.
    # A resample holds the same outcomes in another order of seeds, so its fit differs from the estimate
    # only by the order its float sums were taken in (a few ulps; which ulps depends on the processor's
    # kernels): rel=1e-9 tolerates that and nothing a different outcome would make.
    assert apart.low == pytest.approx(apart.estimate, rel=1e-9)
    assert apart.high == pytest.approx(apart.estimate, rel=1e-9)
    assert horizon_words(results, apart) == "between 50 and 100"
    assert horizon(grid({10: 5, 20: 5, 50: 5, 100: 5, 200: 5}), "c", 50).text() == "> 200"
    assert horizon(grid({10: 0, 20: 0, 50: 0, 100: 0, 200: 0}), "c", 50).text() == "< 10"
    assert (
        horizon(grid({10: 5, 20: 5, 50: 5, 100: 5, 200: 4}), "c", 50).estimate == math.inf
    )  # no extrapolation


def test_horizon_interval_narrows_with_more_seeds() -> None:
    few = horizon(grid({10: 5, 20: 4, 50: 3, 100: 1, 200: 0}), "c", resamples=500)
    many = horizon(grid({10: 50, 20: 40, 50: 30, 100: 10, 200: 0}, seeds=50), "c", resamples=500)
    assert few.low <= few.estimate <= few.high and many.low <= many.estimate <= many.high
    assert 20 < many.estimate < 100
    assert math.log(many.high / many.low) < math.log(few.high / few.low)


def fake_run(folder: Path, cell: str, T: int, seed: int, solved_at: int | None, model: str = "rnn") -> None:
    """A finished job folder as scripts/train.py leaves it (overrides and metrics.json)."""
    (folder / ".hydra").mkdir(parents=True)
    (folder / ".hydra" / "overrides.yaml").write_text(f"- +cell={cell}\n- seq_len={T}\n- seed={seed}\n")
    metrics = {
        "status": "solved" if solved_at else "completed", "steps_to_solve": solved_at, "solved_rule": "x",
        "eval_acc": 0.95 if solved_at else 0.12, "wall_time_s": 1.0,
        "config": {"seq_len": T, "seed": seed, "steps": 100, "batch_size": 32, "model": {"name": model},
                   "task": {"name": "recall"}},
    }  # fmt: skip
    (folder / "metrics.json").write_text(json.dumps(metrics))


def test_horizon_section_reads_run_folders_into_a_table_and_figure(tmp_path: Path) -> None:
    for T, k in {10: 3, 100: 1, 1000: 0}.items():
        for seed in range(3):
            fake_run(tmp_path / "runs" / f"rnn-{T}-{seed}", "rnn", T, seed, 50 if seed < k else None)
            fake_run(tmp_path / "runs" / f"lstm-{T}-{seed}", "lstm", T, seed, 20, "lstm")
    metrics = json.loads((tmp_path / "runs" / "rnn-1000-2" / "metrics.json").read_text())
    (tmp_path / "runs" / "rnn-1000-2" / "metrics.json").write_text(
        json.dumps({**metrics, "status": "diverged"})
    )
    jobs = [load_job(p) for p in sorted((tmp_path / "runs").iterdir())]
    data, figure = horizon_section(jobs, tmp_path, "test")  # no sweep order: the registry's (rnn, lstm)
    text = render("sections/horizon.md.j2", section=data)
    swept = render(
        "sections/horizon.md.j2", section=horizon_section(jobs, tmp_path, "test", ["lstm", "rnn"])[0]
    )
    assert swept.index("| lstm |") < swept.index("| rnn |")  # the sweep's order, when it has one
    assert "| cell | T = 10 | T = 100 | T = 1000 |" in text
    assert "| rnn | 3/3 [0.29, 1.00] | 1/3 [0.01, 0.91] | 0/3 [0.00, 0.71], 1 diverged |" in text
    assert "| lstm | > 1000 | 9/9 |" in text and text.index("| rnn |") < text.index("| lstm |")  # cell order
    assert "3,200 training sequences" in text  # 100 steps x 32
    assert "| lstm | 640 | 640 | 640 |" in text  # every seed solved at step 20 x 32
    assert "| rnn | 1,600 | > 3,200 | > 3,200 |" in text  # 50 x 32; at 100: 1 of 3, censored at the budget
    assert figure is not None and figure.read_bytes().startswith(PNG)


def test_literature_table_puts_ours_beside_cited_numbers(tmp_path: Path) -> None:
    for seed in range(2):
        fake_run(tmp_path / f"a{seed}", "lstm", 100, seed, 40 if seed else None, "lstm")
    jobs = [load_job(tmp_path / f"a{s}") for s in range(2)]
    for job in jobs:
        job.metrics["config"]["task"]["name"] = "temporal_order"
    text = render("sections/literature.md.j2", section={"tasks": literature_tables(jobs)})
    assert any(ref.task == "temporal_order" and ref.T == 100 for ref in LITERATURE)
    assert "31,000" in text and "Hochreiter" in text
    assert "1/2" in text and "1,280" in text  # solved 1 of 2, at 40 x 32 sequences


STUDY = ROOT / "scripts" / "study.py"


@pytest.mark.slow  # 12 tiny jobs in one process: ~20 s on an idle core
def test_the_study_writes_the_horizon_section_and_headline_and_the_literature_by_task(
    tmp_path: Path,
) -> None:
    out, docs = tmp_path / "out", tmp_path / "docs"
    where = ["--outputs", str(out), "--docs", str(docs)]
    proc = run_script(["--profile", "smoke", "--only", "horizon,literature", *where, "hydra/launcher=basic"],
                      cwd=tmp_path, script=STUDY, timeout=600)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    page = (docs / "study" / "horizon.md").read_text()  # a page per preset
    assert "# horizon" in page and "| cell | T = 10 | T = 20 |" in page
    assert "| cell | T50 [bootstrap range] |" in page
    assert "](horizon/horizon.png)" in page
    figure = docs / "study" / "horizon" / "horizon.png"
    assert figure.is_file() and not (docs / "study" / "headline.png").exists()  # the memory preset draws it
    literature = (docs / "study" / "literature.md").read_text()
    assert "#### temporal order" in literature and "#### adding" in literature  # grouped by task
    assert "| 100 | lstm | solved (T = 100-110) |" in literature and "not compared" in literature
    assert "literature/horizon.png" not in literature  # one T of each task: no horizon fitted, none pooled


# A run long enough to signal mid-way, short enough for seconds; checkpoints every 100 steps.
BUDGET = ["steps=1500", "eval_every=500", "log_every=10", "eval_size=64", "batch_size=8",
          "hidden_size=8", "seq_len=12", "checkpoint_every=100"]  # fmt: skip
WRAPPER = """\
import json, runpy, signal, sys
import torch

marker, run_dir = sys.argv[1], sys.argv[2]

def previous(signum, frame):  # stands for submitit's handler: note what it found, then exit as it does
    step = torch.load(run_dir + "/checkpoint.pt", weights_only=False)["step"]
    open(marker, "w").write(json.dumps({"signal": signum, "checkpoint_step": step}))
    sys.exit(17)

signal.signal(signal.SIGUSR2, previous)
sys.argv = [sys.argv[3], *sys.argv[4:]]
runpy.run_path(sys.argv[0], run_name="__main__")
"""


@pytest.mark.slow  # three short runs: ~15 s on an idle core
def test_sigusr2_saves_a_checkpoint_hands_on_and_the_requeued_run_continues(tmp_path: Path) -> None:
    straight, broken, marker = tmp_path / "straight", tmp_path / "broken", tmp_path / "marker.json"
    assert run_script([*BUDGET, f"hydra.run.dir={straight}"], cwd=tmp_path).returncode == 0
    wrapper = tmp_path / "wrapper.py"
    wrapper.write_text(WRAPPER)
    command = [sys.executable, str(wrapper), str(marker), str(broken), str(TRAIN_SCRIPT), *BUDGET,
               f"hydra.run.dir={broken}"]  # fmt: skip
    proc = subprocess.Popen(command, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not (broken / "checkpoint.pt").exists():  # the first periodic checkpoint: it is mid-run
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
        time.sleep(0.05)
    proc.send_signal(signal.SIGUSR2)
    stdout, stderr = proc.communicate(timeout=60)
    stderr += stdout  # Hydra's log may go to either
    assert proc.returncode == 17, stderr  # the previous handler ran and exited, as submitit's does
    found = json.loads(marker.read_text())
    assert found["signal"] == signal.SIGUSR2
    said = [line for line in stderr.splitlines() if "SIGUSR2: checkpoint at step" in line]
    assert len(said) == 1, stderr
    step = int(said[0].split("checkpoint at step ")[1].split(";")[0])
    assert found["checkpoint_step"] == step and 100 <= step < 1500  # saved before handing on
    assert not (broken / "metrics.json").exists()  # not finished: the requeued job carries on

    resumed = run_script([*BUDGET, f"hydra.run.dir={broken}"], cwd=tmp_path)  # resume=null, as requeued
    assert resumed.returncode == 0, resumed.stderr
    assert f"resumed from step {step} of" in resumed.stdout + resumed.stderr
    a, b = (json.loads((d / "metrics.json").read_text()) for d in (straight, broken))
    assert b["status"] == "completed" and b["steps"] == 1500
    assert a["eval_acc"] == b["eval_acc"] and a["train_loss"] == b["train_loss"]
    assert np.array_equal(
        np.load(straight / "grad_norms.npz")["loss"], np.load(broken / "grad_norms.npz")["loss"]
    )
