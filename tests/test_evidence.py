"""The page's evidence read back from synthetic run folders: every interval, count, p-value, median and
sentence the page prints is recomputed here from the metrics.json files written into tmp_path.

A stability-like sweep: optim (adam at lr 0.003, sgd at 0.05 with momentum 0.9) x clip (null, 1.0),
5 seeds; sgd without clipping never solves, sgd with clipping always does, adam splits.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

from rnn_scratch.study.aggregate import time_to_solve
from rnn_scratch.study.pages import Preset, publish
from rnn_scratch.study.report import analyse
from rnn_scratch.study.stats import holm, kaplan_meier, mcnemar, p_text, success_text

BATCH, STEPS = 64, 1000
SOLVED_AT = {  # (optim, clip) -> steps to solve per seed (None: never)
    ("adam", "null"): [10, 20, 100, None, None],
    ("adam", "1.0"): [10, 20, None, None, None],
    ("sgd", "null"): [None] * 5,
    ("sgd", "1.0"): [100, 100, 200, 300, 400],
}
LR = {"adam": (0.003, 0.0), "sgd": (0.05, 0.9)}


def write_job(sweep: Path, optim: str, clip: str, seed: int, solved_at: int | None) -> None:
    folder = sweep / f"clip={clip},optim={optim},seed={seed}"
    (folder / ".hydra").mkdir(parents=True)
    (folder / ".hydra" / "overrides.yaml").write_text(
        yaml.safe_dump([f"optim={optim}", f"clip={clip}", f"seed={seed}"])
    )
    lr, momentum = LR[optim]
    acc = 0.95 + 0.01 * seed if solved_at else 0.13 + 0.01 * seed
    # the backward and forward views: equal for adam, 0.5 apart for sgd without clipping
    lam = -0.5 - 0.01 * seed
    gap = 0.5 if (optim, clip) == ("sgd", "null") else 0.0
    metrics = {
        "status": "solved" if solved_at else "completed", "eval_acc": 0.91 if solved_at else acc,
        "fresh_eval_acc": acc, "steps": solved_at or STEPS, "steps_to_solve": solved_at,
        "sequences_to_solve": solved_at * BATCH if solved_at else None, "budget_sequences": STEPS * BATCH,
        "solved_rule": "eval_acc >= 0.9", "chance_acc": 0.125,
        "grad_decay_init": lam + gap, "lyapunov_max_init": lam, "grad_decay_final": lam + gap,
        "lyapunov_max_final": lam, "saturation_final": 0.4 if gap else 0.0, "wall_time_s": 1.0,
        "config": {"seq_len": 50, "hidden_size": 128, "clip": None if clip == "null" else float(clip),
                   "steps": STEPS, "batch_size": BATCH, "seed": seed, "eval_size": 512, "eval_every": 100,
                   "task": {"name": "recall"}, "model": {"name": "rnn", "init": "orthogonal"},
                   "optim": {"name": optim, "lr": lr, "momentum": momentum}},
    }  # fmt: skip
    (folder / "metrics.json").write_text(json.dumps(metrics))


@pytest.fixture
def page(tmp_path: Path) -> tuple[str, Path]:
    sweep = tmp_path / "outputs" / "stability"
    for (optim, clip), times in SOLVED_AT.items():
        for seed, at in enumerate(times):
            write_job(sweep, optim, clip, seed, at)
    (sweep / "multirun.yaml").write_text(yaml.safe_dump({"hydra": {"sweeper": {"params": {
        "optim": "adam,sgd", "clip": "null,1.0", "seed": "0,1,2,3,4"}}}}))  # fmt: skip
    config = tmp_path / "stability.yaml"
    # its # @study block names the key its claim contrasts (rnn_scratch.study.presets)
    config.write_text(
        "# @package _global_\n# Claim: clipping rescues sgd.\nname: x\n\n"
        "# @study\n# page: 1\n# contrast: clip\n"
    )
    docs = tmp_path / "docs"
    written = publish(Preset("stability", config, sweep), docs, tmp_path)
    assert written[0] == docs / "study" / "stability.md"  # its page, its folder, nothing else
    assert all(p.is_relative_to(docs / "study" / "stability") for p in written[1:])
    return (docs / "study" / "stability.md").read_text(), sweep


def test_success_counts_intervals_and_paired_p_values_come_from_the_runs(page: tuple[str, Path]) -> None:
    """Both clip settings ran seeds 0-4: a paired design, so McNemar's exact test, Holm over the two."""
    text, _ = page
    k = {key: sum(t is not None for t in times) for key, times in SOLVED_AT.items()}
    solved = {key: [t is not None for t in times] for key, times in SOLVED_AT.items()}
    ps = [mcnemar(solved[(o, "null")], solved[(o, "1.0")]) for o in ("adam", "sgd")]
    assert ps == [1.0, pytest.approx(0.0625)]  # adam: one discordant seed; sgd: five, all one way
    for optim, p, q in zip(("adam", "sgd"), ps, holm(ps), strict=True):  # clip null against 1.0
        row = (f"| optim={optim} | clip=null: {success_text(k[(optim, 'null')], 5)} | "
               f"clip=1.0: {success_text(k[(optim, '1.0')], 5)} | McNemar (paired) | {p_text(p)} | "
               f"{p_text(q)} |")  # fmt: skip
        assert row in text
    assert "| optim=sgd | clip=null: 0/5 [0.00, 0.52] | clip=1.0: 5/5 [0.48, 1.00] | McNemar" in text
    assert "0 of 2 contrasts in clip have p < 0.05, 0 after Holm's correction over the 2" in text
    assert "the smallest p-value, p = 0.06 (Holm p = 0.12, McNemar (paired))" in text
    assert "with 5 seeds even 5 of 5 against 0 of 5 gives p = 0.062 (McNemar (paired))" in text


def test_intervals_stay_in_range_and_split_groups_show_seeds(page: tuple[str, Path]) -> None:
    text, _ = page
    # n = 5: no order-statistic pair covers the median with 95%, so the cells say "range", not 95%
    bounds = [(float(a), float(b)) for a, b in re.findall(r"\(range (-?\d\.\d{3})-(-?\d\.\d{3})\)", text)]
    assert bounds and all(0.0 <= a <= b <= 1.0 for a, b in bounds)
    assert "0.970 (range 0.950-0.990)" in text  # sgd with clipping: fresh accs 0.95 to 0.99
    # adam clip=null solved 3 of 5: a split, so the median and every seed's fresh metric
    accs = [0.95, 0.96, 0.97, 0.16, 0.17]
    assert "median 0.950 (seeds " + ", ".join(f"{a:.3f}" for a in accs) + ")" in text


def test_kaplan_meier_median_in_training_sequences(page: tuple[str, Path]) -> None:
    text, sweep = page
    groups = {g.label: g for g in analyse(sweep).groups}
    sgd = groups["optim=sgd, clip=1.0"]
    times = [time_to_solve(j) for j in sgd.finished]
    assert sorted(t for t, _ in times) == [6400, 6400, 12800, 19200, 25600]  # steps x 64
    km = kaplan_meier([t for t, _ in times], [s for _, s in times])
    assert sgd.km() is not None and sgd.km().median == km.median == 12800
    # adam with clipping: 2 of 5 solved, the rest censored at 64000: the median is not reached
    assert groups["optim=adam, clip=1.0"].km().median is None  # type: ignore[union-attr]
    # interval-censored: each solved between the eval before (every 100 steps) and the one that passed
    assert sgd.solve_times().early.median == 6400 and sgd.solve_times().late.median == 12800  # type: ignore[union-attr]
    assert "| between 6,400 and 12,800 |" in text and ">64000 (not reached)" in text


def test_settings_per_group_and_no_absolute_paths(page: tuple[str, Path], tmp_path: Path) -> None:
    text, _ = page
    settings = next(line for line in text.splitlines() if line.startswith("Settings:"))
    assert "lr=" not in settings and "momentum" not in settings  # they differ between groups
    assert "Settings by group: optim=adam: lr=0.003, momentum=0.0; optim=sgd: lr=0.05, momentum=0.9." in text
    assert str(tmp_path) not in text
    assert str(tmp_path) not in (tmp_path / "docs" / "study" / "stability" / "findings.json").read_text()


def test_the_forward_backward_sentence_is_computed(page: tuple[str, Path]) -> None:
    text, _ = page
    sentence = next(line for line in text.splitlines() if line.startswith("Forward against backward"))
    assert (
        "At initialisation, the fitted gradient decay per step and λ_1 (medians over seeds) agree within"
        in sentence
    )
    assert "in 3 of 4 groups" in sentence  # sgd without clipping sits 0.5 above lambda_1
    assert (
        "they part in optim=sgd, clip=null: -0.020 against -0.520 (gap per seed +0.500 to +0.500), 40% of "
        "units saturated" in sentence
    )
    assert "the same sequences (the gradient probe's fixed batch)" in sentence
    for name in ("accuracy", "gradients", "solved", "decay_vs_lyapunov"):
        if name != "gradients":  # synthetic runs have no grad_norms.npz: no gradient figure
            assert f"](stability/{name}.png)" in text


def test_settings_by_group_name_the_fewest_swept_keys_that_decide_them(tmp_path: Path) -> None:
    """The memory preset's shape: lr set per (task, cell) and the same at every length, so a line per
    (task, cell), not per (task, cell, seq_len); where no smaller set decides them, a line per group."""
    from rnn_scratch.study.aggregate import Group
    from rnn_scratch.study.evidence import group_settings
    from rnn_scratch.study.runs import Job

    lr = {("copy", "lstm"): 0.01, ("copy", "rnn"): 0.003, ("recall", "lstm"): 0.003, ("recall", "rnn"): 0.01}
    groups = []
    for (task, cell), rate in lr.items():
        for T in ("10", "20"):
            values = {"task": task, "cell": cell, "seq_len": T}
            job = Job(tmp_path, values, "completed", {"config": {"optim": {"lr": rate}}})
            groups.append(Group(", ".join(f"{k}={v}" for k, v in values.items()), values, [job]))

    def brief(config: dict) -> dict:
        return {"lr": config["optim"]["lr"]}

    assert group_settings(groups, brief, ["task", "cell", "seq_len"]) == [
        "task=copy, cell=lstm: lr=0.01", "task=copy, cell=rnn: lr=0.003",
        "task=recall, cell=lstm: lr=0.003", "task=recall, cell=rnn: lr=0.01",
    ]  # fmt: skip
    groups[-1].jobs[0].metrics["config"]["optim"]["lr"] = 0.3  # recall, rnn at T = 20 alone: per group
    found = group_settings(groups, brief, ["task", "cell", "seq_len"])
    assert len(found) == 8 and found[-1] == "task=recall, cell=rnn, seq_len=20: lr=0.3"
