"""A published study is what the code makes: each run's code version, resuming that does not mix
versions, pages that say (and refuse to mix) their versions, and ``scripts/study.py --verify``."""

from __future__ import annotations

import csv
import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
from conftest import ROOT, TINY, run_script

from rnn_scratch.study.presets import Preset
from rnn_scratch.study.runs import Job
from rnn_scratch.study.verify import (
    UNRECORDED,
    job_overrides,
    mixed_pages,
    published_jobs,
    round_robin,
    versions,
)
from rnn_scratch.training.record import RunRecord
from rnn_scratch.training.version import code_version, machine, source_files, source_hash

STUDY = ROOT / "scripts" / "study.py"


def make_tree(root: Path) -> None:
    files = [("rnn_scratch/models/cell.py", "x = 1\n"), ("rnn_scratch/study/page.py", "y = 1\n"),
             ("scripts/train.py", "print()\n"), ("configs/train.yaml", "seq_len: 10\n")]  # fmt: skip
    for name, text in files:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)


def test_the_hash_follows_the_sources_that_shape_a_run(tmp_path: Path) -> None:
    make_tree(tmp_path)
    names = [p.relative_to(tmp_path).as_posix() for p in source_files(tmp_path)]
    assert names == ["configs/train.yaml", "rnn_scratch/models/cell.py", "scripts/train.py"]
    before = source_hash(tmp_path)
    (tmp_path / "rnn_scratch/study/page.py").write_text("y = 2\n")  # the study reads runs: no new version
    assert source_hash(tmp_path) == before
    (tmp_path / "configs/train.yaml").write_text("seq_len: 20\n")
    assert source_hash(tmp_path) != before and len(source_hash(tmp_path)) == 12


def copy_checkout(root: Path) -> None:
    """The sources that shape a run, copied from this checkout into ``root``."""
    shutil.copytree(ROOT / "rnn_scratch", root / "rnn_scratch", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(ROOT / "configs", root / "configs")
    (root / "scripts").mkdir()
    shutil.copy(ROOT / "scripts" / "train.py", root / "scripts" / "train.py")


def test_the_version_follows_what_the_loop_does_not_how_it_is_written(tmp_path: Path) -> None:
    copy_checkout(tmp_path)
    before = source_hash(tmp_path)
    assert before == source_hash()  # the copy is this checkout's code
    loop = tmp_path / "rnn_scratch/training/loop.py"
    text = loop.read_text()
    reworded = text.replace('"""The training loop:', '"""The loop that trains a model:', 1)
    reworded = reworded.replace("from __future__ import annotations\n", "from __future__ import annotations\n"
                                "# a comment the version never sees\n\n\n", 1)  # fmt: skip
    assert reworded.count("\n") > text.count("\n") and "loop that trains" in reworded
    loop.write_text(reworded)
    assert source_hash(tmp_path) == before  # a docstring, a comment and blank lines: the same code
    config = tmp_path / "configs/train.yaml"
    config.write_text("# a comment in a config\n" + config.read_text())
    assert source_hash(tmp_path) == before  # a config's comment is not its values
    loop.write_text(reworded + "\nUNUSED = 1\n")  # one statement more: new code
    assert source_hash(tmp_path) != before


def test_a_hydra_package_line_counts_in_a_config(tmp_path: Path) -> None:
    make_tree(tmp_path)
    before = source_hash(tmp_path)
    (tmp_path / "configs/train.yaml").write_text("# @package _global_\nseq_len: 10\n")
    assert source_hash(tmp_path) != before  # Hydra reads this comment: it moves the keys


def test_a_run_records_its_code_version(tmp_path: Path) -> None:
    proc = run_script([*TINY, "threads=1", f"hydra.run.dir={tmp_path / 'run'}"], cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    code = json.loads((tmp_path / "run" / "metrics.json").read_text())["code"]
    assert code["hash"] == code_version()["hash"] == source_hash()
    assert set(code) == {"hash", "git", "dirty"}
    record = RunRecord.read(tmp_path / "run")
    here = {**machine("cpu"), "threads": 1}
    assert record.machine == here and record.machine["torch"] == torch.__version__
    assert record.machine["cpu_capability"] == torch.backends.cpu.get_cpu_capability()
    assert record.machine["threads"] == 1 and record.machine["processor"]
    old = {k: v for k, v in json.loads((tmp_path / "run" / "metrics.json").read_text()).items()
           if k != "machine"}  # fmt: skip
    assert RunRecord.from_json(old).machine == {"device": "cpu"}  # a file from before: its device alone


def test_skip_completed_reruns_a_finished_job_of_other_code(tmp_path: Path) -> None:
    run = tmp_path / "run"
    args = [*TINY, "skip_completed=true", f"hydra.run.dir={run}"]
    assert run_script(args, cwd=tmp_path).returncode == 0
    metrics = json.loads((run / "metrics.json").read_text())
    metrics["code"]["hash"] = "000000000000"  # as if an older checkout had made it
    (run / "metrics.json").write_text(json.dumps(metrics))
    proc = run_script(args, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "held a finished run of other code" in proc.stdout + proc.stderr
    kept = run / "superseded" / "000000000000" / "metrics.json"
    assert json.loads(kept.read_text())["code"]["hash"] == "000000000000"  # nothing lost
    now = json.loads((run / "metrics.json").read_text())
    assert now["code"]["hash"] == code_version()["hash"]
    again = run_script(args, cwd=tmp_path)  # same code now: skipped, the file untouched
    assert again.returncode == 0 and json.loads((run / "metrics.json").read_text()) == now


def fake_job(folder: Path, hash_: str | None) -> None:
    (folder / ".hydra").mkdir(parents=True)
    (folder / ".hydra" / "overrides.yaml").write_text("- seed=0\n")
    metrics = {"status": "completed", "steps": 1, "config": {"seed": 0}}
    if hash_:
        metrics["code"] = {"hash": hash_, "git": None, "dirty": None}
    (folder / "metrics.json").write_text(json.dumps(metrics))


def test_a_page_mixing_code_versions_is_named(tmp_path: Path) -> None:
    runs = tmp_path / "vanishing"
    fake_job(runs / "seed=0", "aaaaaaaaaaaa")
    fake_job(runs / "seed=1", "aaaaaaaaaaaa")
    preset = Preset("vanishing", ROOT / "configs" / "experiment" / "vanishing.yaml", runs)
    assert mixed_pages([preset]) == ""
    fake_job(runs / "seed=2", None)
    assert mixed_pages([preset]) == f"vanishing (aaaaaaaaaaaa (2 runs), {UNRECORDED} (1 runs))"


def test_versions_count_finished_runs_only() -> None:
    done = Job(Path("a"), {}, "completed", {"code": {"hash": "h"}})
    assert versions([done, Job(Path("b"), {}, "missing", {})]) == {"h": 1}


def test_a_published_row_gives_back_its_overrides() -> None:
    row = {"job": "+cell=irnn,seed=0", "task": "adding", "seq_len": "200", "cell": "irnn", "seed": "0"}
    assert job_overrides(row, ["task", "seq_len", "cell", "seed"]) == [
        "+cell=irnn", "seed=0", "task=adding", "seq_len=200",
    ]  # fmt: skip


def test_round_robin_spreads_the_sample_over_presets() -> None:
    from rnn_scratch.study.verify import Published

    jobs = [Published(p, {"job": str(i)}, []) for p in ("a", "b") for i in range(3)]
    assert [(j.preset, j.row["job"]) for j in round_robin(jobs, 3)] == [("a", "0"), ("b", "0"), ("a", "1")]
    assert round_robin(jobs, None) == jobs


def rewrite(table: Path, edit: Callable[[list[dict[str, str]]], None]) -> list[dict[str, str]]:
    """Edit a published summary.csv by hand, as if another machine or other code had made it."""
    rows = list(csv.DictReader(table.open()))
    edit(rows)
    with table.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return rows


@pytest.mark.slow
def test_verify_plan_and_certify_on_a_published_study(tmp_path: Path) -> None:
    """A smoke study published into a folder of its own: --plan finds it all published at this version;
    --verify passes it, then passes a float nudged within the tolerance (and prints how far), names a
    metric beyond it and reports an outcome flip as one; pages of other code are missing to --plan until
    --certify re-runs one job and finds it the same, and a page whose job differs is not certified."""
    docs, outputs = tmp_path / "docs", tmp_path / "outputs"
    smoke = ["--profile", "smoke", "--only", "vanishing", "--outputs", str(outputs), "--docs", str(docs)]
    made = run_script(smoke, cwd=ROOT, script=STUDY, timeout=600)
    assert made.returncode == 0, made.stderr[-2000:]
    kept = shutil.move(outputs, tmp_path / "kept")  # a fresh clone: what docs/ holds is all there is
    base = ["--profile", "smoke", "--only", "vanishing", "--docs", str(docs)]
    now = code_version()["hash"]
    planned = run_script([*base, "--plan"], cwd=ROOT, script=STUDY)
    assert f"[plan] vanishing: 4 published at {now}, 0 missing" in planned.stdout, planned.stdout
    check = [*base, "--verify", "all"]
    same = run_script(check, cwd=ROOT, script=STUDY, timeout=600)
    assert same.returncode == 0, same.stdout[-2000:] + same.stderr[-2000:]
    assert "[verify] 4 of 4 published jobs re-run to the same outcomes and metrics" in same.stdout
    table = docs / "study" / "vanishing" / "summary.csv"
    original = list(csv.DictReader(table.open()))

    def nudge(rows: list[dict[str, str]]) -> None:  # another processor: the last digits differ
        rows[0]["train_loss"] = repr(float(rows[0]["train_loss"]) * (1 + 3e-6))

    rows = rewrite(table, nudge)
    close = run_script(check, cwd=ROOT, script=STUDY, timeout=600)
    assert close.returncode == 0, close.stdout[-2000:]
    assert "largest relative difference per metric: train_loss 3.0e-06" in close.stdout
    rows = rewrite(table, lambda rows: rows[0].update(train_loss="0.5"))
    caught = run_script(check, cwd=ROOT, script=STUDY, timeout=600)
    assert caught.returncode == 1
    assert (
        f"vanishing/{rows[0]['job']}: DIFFERS beyond 0.0001 relative: train_loss 0.5 published"
        in caught.stdout
    )
    flipped = "completed" if rows[1]["status"] == "solved" else "solved"
    rows = rewrite(table, lambda rows: rows[1].update(status=flipped))
    flip = run_script(check, cwd=ROOT, script=STUDY, timeout=600)
    assert (
        flip.returncode == 1
        and f"vanishing/{rows[1]['job']}: OUTCOME FLIPPED: status {flipped}" in flip.stdout
    )
    # made by other code: missing to --plan, nothing to --verify --random, until --certify re-runs one job
    rewrite(
        table, lambda rows: [r.update(o, code="000000000000") for r, o in zip(rows, original, strict=True)]
    )
    stale = run_script([*base, "--plan"], cwd=ROOT, script=STUDY)
    assert (
        f"[plan] vanishing: 0 published at {now}, 4 missing (4 stale; made by 000000000000 (4))"
        in stale.stdout
    )
    drawn = run_script([*base, "--verify", "2", "--random"], cwd=ROOT, script=STUDY)
    assert drawn.returncode == 0 and f"no published job is at code version {now}" in drawn.stdout
    # a checkout whose outputs/ still holds the runs: the page is rendered from docs/, its records kept
    shutil.move(kept, outputs)
    superseded = docs / "study" / "vanishing" / "superseded.csv"
    superseded.write_text("job,code\nold,111111111111\n")
    published = table.read_text()
    at = ["--outputs", str(outputs)]
    certified = run_script([*base, *at, "--certify"], cwd=ROOT, script=STUDY, timeout=600)
    assert certified.returncode == 0, certified.stdout[-2000:] + certified.stderr[-2000:]
    assert "re-running 1 of its 4 jobs" in certified.stdout and f"certified at {now}" in certified.stdout
    assert table.read_text() == published and superseded.read_text() == "job,code\nold,111111111111\n"
    assert json.loads((docs / "study" / "vanishing" / "certified.json").read_text())["certified"] == now
    assert (
        f"made by code version 000000000000; certified at {now} by re-running 1"
        in (docs / "study" / "vanishing.md").read_text()  # rendered from certified.json
    )
    after = run_script([*base, "--plan"], cwd=ROOT, script=STUDY)
    assert f"[plan] vanishing: 4 published at {now}, 0 missing (certified at {now})" in after.stdout
    (docs / "study" / "vanishing" / "certified.json").unlink()
    rewrite(table, lambda rows: [r.update(train_loss="0.5") for r in rows])  # other code, other results
    refused = run_script([*base, "--certify"], cwd=ROOT, script=STUDY, timeout=600)
    assert refused.returncode == 1 and "vanishing: differs: stale at" in refused.stdout
    cert = json.loads((docs / "study" / "vanishing" / "certified.json").read_text())  # the verdict as data
    assert cert["certified"] is None and cert["stale_at"] == now and cert["differences"]
    assert f"**stale at {now}**: re-running 1 of its jobs" in (docs / "study" / "vanishing.md").read_text()


def test_a_run_saved_before_an_option_existed_is_still_the_same_config(tmp_path: Path) -> None:
    """``task.distractors`` is newer than many finished runs: one without it ran as its default does, so
    ``skip_completed`` keeps it (same code) instead of re-running it or refusing its folder."""
    run = tmp_path / "run"
    args = [*TINY, "skip_completed=true", f"hydra.run.dir={run}"]
    assert run_script(args, cwd=tmp_path).returncode == 0
    metrics = json.loads((run / "metrics.json").read_text())
    del metrics["config"]["task"]["distractors"]
    (run / "metrics.json").write_text(json.dumps(metrics))
    again = run_script(args, cwd=tmp_path)
    assert again.returncode == 0, again.stderr[-2000:]
    assert json.loads((run / "metrics.json").read_text()) == metrics  # kept as written: skipped


def test_a_memory_row_re_runs_with_the_budget_and_lr_its_planner_gave_it() -> None:
    """The adaptive planner gives each job its task's budget and its cell's lr, left out of the folder
    name: a re-run without them would train another run (other steps, other lr) and differ."""
    preset = Preset("memory", ROOT / "configs" / "experiment" / "memory.yaml", ROOT / "outputs" / "unused")
    rows = [j for j in published_jobs(ROOT / "docs", [preset], "quick") if j.row.get("task") == "copy"]
    lstm = [j for j in rows if j.row.get("cell") == "lstm"]
    assert lstm and all("+budget=memory_copy" in j.overrides and "+lr=copy_lstm" in j.overrides for j in lstm)


def test_a_row_of_one_of_several_multiruns_re_runs_with_that_multiruns_overrides() -> None:
    """Adding's long profile runs IndRNN as published as a multirun of its own (``+cell=indrnn_li``,
    ``steps=6000``), which no column of the page names: a re-run from the row alone trained the default
    IndRNN for 3000 steps and read as an outcome flip."""
    preset = Preset("adding", ROOT / "configs" / "experiment" / "adding.yaml", ROOT / "outputs" / "unused")
    rows = published_jobs(ROOT / "docs", [preset], "quick")
    li = [j for j in rows if j.row.get("model") == "indrnn"]
    assert li and all({"+cell=indrnn_li", "steps=6000"} <= set(j.overrides) for j in li)
    cells = [j for j in rows if j.row.get("model") != "indrnn"]
    assert cells and not any("+cell=indrnn_li" in j.overrides or "steps=6000" in j.overrides for j in cells)


def test_a_certificate_re_runs_every_row_the_solved_rule_overturns() -> None:
    """A row saying ``solved`` whose fresh eval misses the task's rule (made before a pass had to be
    confirmed) is the outcome a new version can flip: certify re-runs it beside the cheapest jobs. A row
    without a task column is its preset's task (adding: MSE <= 0.1 x 1/6)."""
    from rnn_scratch.study.ledger import overturned
    from rnn_scratch.study.verify import Published

    adding = {"status": "solved", "seq_len": "10"}
    rows = [
        Published("adding", {**adding, "job": "a", "fresh_eval_mse": "0.5"}, []),
        Published("adding", {**adding, "job": "b", "fresh_eval_mse": "0.001"}, []),
        Published("adding", {**adding, "job": "c", "status": "completed", "fresh_eval_mse": "0.5"}, []),
        Published("contest", {**adding, "job": "d", "task": "recall", "fresh_eval_acc": "0.89"}, []),
    ]
    assert [j.row["job"] for j in overturned(rows, ROOT / "configs")] == ["a", "d"]
