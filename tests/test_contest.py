"""The contest's section from synthetic run folders: each cell judged on the task it was tuned on, the
paired test (every seed ran both ways) with Holm over the table, transfer rows untested, and the trial
tables summarised. Every number is recomputed here from what the runs say."""

from __future__ import annotations

from pathlib import Path

from rnn_scratch.study.aggregate import group_by_seed
from rnn_scratch.study.contest import contest, identity
from rnn_scratch.study.render import render
from rnn_scratch.study.runs import Job
from rnn_scratch.study.stats import holm, mcnemar, p_text
from rnn_scratch.study.sweep import Sweep

TUNED_ON = {
    "default_lstm": None,
    "recall_lstm_seq50": "recall",
    "temporal_order_lstm_seq50": "temporal_order",
}
# (setting, task) -> solved per seed 0-4
SOLVED = {
    ("default_lstm", "recall"): [False, False, False, False, False],
    ("recall_lstm_seq50", "recall"): [True, True, True, True, True],
    ("default_lstm", "temporal_order"): [True, False, False, True, False],
    ("temporal_order_lstm_seq50", "temporal_order"): [True, True, False, True, True],
    ("recall_lstm_seq50", "temporal_order"): [False, False, False, False, True],  # transfer
}


def job(setting: str, task: str, seed: int, solved: bool) -> Job:
    config = {"task": {"name": task}, "seq_len": 50, "seed": seed, "steps": 600, "batch_size": 64,
              "model": {"name": "lstm", "init": "default", "gate_init": "constant", "forget_bias": None},
              "optim": {"lr": 0.003}, "clip": None, "clip_relative": None}  # fmt: skip
    metrics = {
        "status": "solved" if solved else "completed",
        "steps": 100 if solved else 600,
        "steps_to_solve": 100 if solved else None,
        "fresh_eval_acc": 0.95 if solved else 0.3,
        "solved_rule": "eval_acc >= 0.9",
        "config": config,
        "identity": {"cell": "lstm", "task": task, "tuned_on": TUNED_ON.get(setting), "lr": 0.003},
    }
    return Job(Path(f"{setting}-{task}-{seed}"), {"tuned": setting, "task": task, "seed": str(seed)},
               metrics["status"], metrics)  # fmt: skip


def test_a_run_says_what_it_was_tuned_on_without_its_name_parsed(tmp_path: Path) -> None:
    """The record's identity says it; a run from before the record carried one: its config's
    ``tuned_on``, else the one its ``tuned`` config declares (the file Hydra read, not its name)."""
    assert identity(job("recall_lstm_seq50", "temporal_order", 0, True), tmp_path) == ("lstm", "recall")
    old = job("oddly_named", "recall", 0, True)
    del old.metrics["identity"]
    (tmp_path / "oddly_named.yaml").write_text("tuned_on: temporal_order\n")
    assert identity(old, tmp_path) == ("lstm", "temporal_order")
    old.metrics["config"]["tuned_on"] = "recall"
    assert identity(old, tmp_path) == ("lstm", "recall")


def test_contest_pairs_seeds_and_corrects_for_the_table(tmp_path: Path) -> None:
    jobs = [job(s, t, seed, ok) for (s, t), oks in SOLVED.items() for seed, ok in enumerate(oks)]
    groups = group_by_seed(jobs, ["tuned", "task", "seed"])
    sweep = Sweep(tmp_path, jobs, ["tuned", "task", "seed"], None, groups, "eval_acc")
    tuned = tmp_path / "tuned"
    tuned.mkdir()
    (tuned / "recall_lstm_seq50.trials.csv").write_text(
        "trial,optim.lr,objective,seeds_solved,steps_to_solve,wall_time_s\n"
        "0,0.001,0.500000,2,300;300,10.0\n1,0.1,0.900000,2,50;60,5.0\n2,1e-05,0.004000,0,-;-,20.0\n"
    )
    text = render("sections/contest.md.j2", section=contest(sweep, tuned))
    recall = mcnemar(SOLVED[("default_lstm", "recall")], SOLVED[("recall_lstm_seq50", "recall")])
    order = mcnemar(
        SOLVED[("default_lstm", "temporal_order")], SOLVED[("temporal_order_lstm_seq50", "temporal_order")]
    )
    assert (recall, order) == (0.0625, 0.5)  # 5 discordant one way; 2, both one way
    q = holm([recall, order])
    # a seed pairs default and tuned (one cell, one task, the same seeds): McNemar decides each row
    assert f"| McNemar (paired) | {p_text(recall)} | {p_text(q[0])} |" in text
    assert f"| McNemar (paired) | {p_text(order)} | {p_text(q[1])} |" in text
    assert "no paired success contrast can reach p < 0.05" in text
    # the settings tuned on recall, run on temporal order: a transfer row, not a test
    assert "| temporal_order | lstm | tuned on recall | 1/5 [0.01, 0.72] |" in text
    # the trial table: 3 trials, 2 solving both seeds, the best (trial 1) at lr 0.1: 1 decade below the edge
    row = "| `recall_lstm_seq50` | 3 | 2 | 0.900 (trial 1), 0.500 | 0.1 (4.0 above 1e-05, 1.0 below 1) |"
    assert row in text
    assert "`temporal_order_lstm_seq50` | no trial table in this checkout" in text
