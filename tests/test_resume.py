"""Resume from what is published: the jobs a page lacks at this code version, a time budget spent one job
at a time that publishes each finished row and stops the running job at its deadline, and the data a
page needs about its runs (code status, hardware, what is missing)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from conftest import ROOT, run_script

from rnn_scratch.study.budget import publish_row, spend
from rnn_scratch.study.presets import Preset
from rnn_scratch.study.resume import estimate, missing_jobs
from rnn_scratch.study.runs import Job
from rnn_scratch.study.status import code_status, coverage, hardware
from rnn_scratch.training.record import Status
from rnn_scratch.training.version import code_version

STUDY = ROOT / "scripts" / "study.py"
EXPERIMENTS = ROOT / "configs" / "experiment"
NOW = code_version()["hash"]
SMOKE_VANISHING = ["seed=0,seq_len=4", "seed=1,seq_len=4", "seed=0,seq_len=8", "seed=1,seq_len=8"]


def preset(name: str, tmp_path: Path) -> Preset:
    return Preset(name, EXPERIMENTS / f"{name}.yaml", tmp_path / "outputs" / name)


def write_rows(docs: Path, preset: str, rows: list[dict[str, str]]) -> Path:
    """A page's summary.csv written by hand, as another machine or other code would have left it."""
    table = docs / "study" / preset / "summary.csv"
    table.parent.mkdir(parents=True, exist_ok=True)
    with table.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return table


def read(table: Path) -> list[dict[str, str]]:
    with table.open(newline="") as f:
        return list(csv.DictReader(f))


def vanishing_row(job: str, code: str, wall: str, status: str = "completed") -> dict[str, str]:
    keys = dict(p.split("=") for p in job.split(","))
    return {"job": job, "seed": keys["seed"], "seq_len": keys["seq_len"], "status": status,
            "wall_time_s": wall, "code": code}  # fmt: skip


def test_a_job_published_at_this_version_is_done_on_any_machine(tmp_path: Path) -> None:
    """The smoke grid of vanishing is named as Hydra names its folders; rows at this version (or at a
    version the page is certified at) are done, stale and interrupted rows and absent ones are missing,
    each with why and an estimate from the same job's wall time or its nearest neighbour's."""
    docs = tmp_path / "docs"
    van = preset("vanishing", tmp_path)
    assert [t.name for t in missing_jobs(van, "smoke", [], docs, NOW, ROOT)] == SMOKE_VANISHING
    write_rows(docs, "vanishing", [
        vanishing_row("seed=0,seq_len=4", NOW, "2.0"),
        vanishing_row("seed=1,seq_len=4", "000000000000", "3.0"),
        vanishing_row("seed=0,seq_len=8", NOW, "50.0", status="interrupted"),
    ])  # fmt: skip
    left = missing_jobs(van, "smoke", [], docs, NOW, ROOT)
    assert [(t.name, t.why, t.estimate_s) for t in left] == [
        ("seed=1,seq_len=4", "stale (made by 000000000000)", 3.0),
        ("seed=0,seq_len=8", "interrupted", 50.0),
        ("seed=1,seq_len=8", "never run", 50.0),  # the nearest: same seq_len, other seed
    ]
    (docs / "study" / "vanishing" / "certified.json").write_text(
        json.dumps({"certified": NOW, "made": {"000000000000": 1}})
    )
    assert [t.name for t in missing_jobs(van, "smoke", [], docs, NOW, ROOT)] == SMOKE_VANISHING[2:]
    status = code_status(docs / "study" / "vanishing", NOW)
    assert (status["state"], status["published"], status["stale"], status["unfinished"]) == (
        "certified",
        2,
        0,
        1,
    )
    assert code_status(docs / "study" / "vanishing", "111111111111")["state"] == "stale"


def test_a_preset_of_several_multiruns_tells_alike_named_jobs_apart(tmp_path: Path) -> None:
    """contest runs one multirun per task, so its jobs are named alike in each (``+tuned=...,seed=0``):
    the task column, not the name alone, says which is done, and publishing one leaves the other."""
    docs = tmp_path / "docs"
    contest = preset("contest", tmp_path)
    jobs = missing_jobs(contest, "quick", [], docs, NOW, ROOT)
    names = [t.name for t in jobs]
    assert len(names) > len(set(names))  # the same name in two multiruns
    first = jobs[0]
    row = {"job": first.name, "tuned": first.values["tuned"], "task": first.values["task"],
           "seed": first.values["seed"], "status": "solved", "wall_time_s": "7", "code": NOW}  # fmt: skip
    write_rows(docs, "contest", [row])
    left = missing_jobs(contest, "quick", [], docs, NOW, ROOT)
    assert len(left) == len(jobs) - 1 and first.name in [t.name for t in left]


def test_an_adaptive_preset_plans_its_next_round_from_the_published_rows(tmp_path: Path) -> None:
    """memory's smoke planner (rnn, lstm; temporal_order at T = 10, 20; copy at Arjovsky's T = 10, 20, i.e.
    seq_len 30, 40; seeds 0, 1): with no row at this version it asks for round one; with round one
    published (copy's rnn failing), the next round is T = 20 for every cell that solved T = 10."""
    docs = tmp_path / "docs"
    memory = preset("memory", tmp_path)
    first = missing_jobs(memory, "smoke", [], docs, NOW, ROOT)
    assert sorted({(t.values["task"], t.values["seq_len"]) for t in first}) == [
        ("copy", "30"), ("temporal_order", "10")
    ]  # fmt: skip
    assert len(first) == 8
    solved = {("temporal_order", "rnn"): True, ("temporal_order", "lstm"): True, ("copy", "rnn"): False,
              ("copy", "lstm"): True}  # fmt: skip
    rows = [
        {"job": t.name, "task": t.values["task"], "cell": t.values["cell"], "seq_len": t.values["seq_len"],
         "seed": t.values["seed"], "status": "solved" if solved[(t.values["task"], t.values["cell"])]
         else "completed", "wall_time_s": "1.5", "code": NOW}
        for t in first
    ]  # fmt: skip
    write_rows(docs, "memory", rows)
    after = missing_jobs(memory, "smoke", [], docs, NOW, ROOT)
    assert sorted(t.name for t in after) == sorted(
        [f"+cell={c},seed={s},seq_len=20,task=temporal_order" for c in ("rnn", "lstm") for s in (0, 1)]
        + [f"+cell=lstm,seed={s},seq_len=40,task=copy" for s in (0, 1)]
    )
    copy_job = next(t for t in after if "task=copy" in t.name)
    assert "+budget=memory_copy" in copy_job.overrides  # its task's own budget
    assert all(t.estimate_s == 1.5 and t.why == "never run" for t in after)
    write_rows(docs, "memory", [{**r, "code": "000000000000"} for r in rows])  # other code: round one again
    assert len(missing_jobs(memory, "smoke", [], docs, NOW, ROOT)) == 8


def test_a_published_row_replaces_its_own_and_names_its_machine(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    table = write_rows(docs, "vanishing", [vanishing_row(j, "000000000000", "1") for j in SMOKE_VANISHING])
    machine = {"torch": "2.13.0+cpu", "processor": "AMD EPYC", "cpu_capability": "AVX2", "threads": 1,
               "device": "cpu"}  # fmt: skip
    metrics = {"wall_time_s": 1.25, "code": {"hash": NOW}, "machine": machine, "steps": 4}
    job = Job(tmp_path / "seed=1,seq_len=4", {"seed": "1", "seq_len": "4"}, Status.COMPLETED, metrics)
    publish_row(docs, "vanishing", job, ["seed", "seq_len"])
    after = read(table)
    assert [r["job"] for r in after] == SMOKE_VANISHING  # in its own place
    mine = after[1]
    assert (mine["code"], mine["wall_time_s"], mine["processor"], mine["threads"]) == (
        NOW,
        "1.25",
        "AMD EPYC",
        "1",
    )
    assert not (table.parent / ".summary.csv.tmp").exists()
    published, missing = coverage(table.parent, NOW)
    assert [r["job"] for r in published] == ["seed=1,seq_len=4"] and missing is None
    new = Job(tmp_path / "seed=2,seq_len=4", {"seed": "2", "seq_len": "4"}, Status.COMPLETED, metrics)
    publish_row(docs, "vanishing", new, ["seed", "seq_len"])
    assert [r["job"] for r in read(table)] == [*SMOKE_VANISHING, "seed=2,seq_len=4"]  # a new job: at the end
    assert hardware(table.parent) == [
        {"torch": None, "processor": None, "cpu_capability": None, "threads": None, "gpu": None, "runs": 3},
        {"torch": "2.13.0+cpu", "processor": "AMD EPYC", "cpu_capability": "AVX2", "threads": "1",
         "gpu": None, "runs": 2},
    ]  # fmt: skip


def test_an_estimate_takes_the_nearest_published_job() -> None:
    from rnn_scratch.study.resume import Todo

    rows = [vanishing_row("seed=0,seq_len=10", NOW, "4"), vanishing_row("seed=0,seq_len=50", NOW, "40"),
            vanishing_row("seed=1,seq_len=50", NOW, "44")]  # fmt: skip
    job = Todo("vanishing", Path("."), "seed=2,seq_len=40", ["seed=2", "seq_len=40"])
    assert estimate(job, rows, ["seed", "seq_len"]) == 44.0  # T = 50 is nearer 40 than 10; the slower seed
    assert estimate(job, [], ["seed", "seq_len"]) is None


@pytest.mark.slow
def test_a_time_budget_runs_what_fits_publishes_it_and_a_second_call_resumes(tmp_path: Path) -> None:
    """A page of other code whose seq_len = 4 jobs took 1 s and seq_len = 8 jobs 1e6 s: a 1 h budget runs
    the two that fit (each re-made by this code), publishes exactly those two rows at this version and
    lists the other two as missing; a 700 h budget then runs those and leaves nothing missing."""
    docs, outputs = tmp_path / "docs", tmp_path / "outputs"
    stale = [vanishing_row(j, "000000000000", "1" if j.endswith("=4") else "1e6") for j in SMOKE_VANISHING]
    table = write_rows(docs, "vanishing", stale)
    base = ["--profile", "smoke", "--only", "vanishing", "--docs", str(docs), "--outputs", str(outputs)]
    first = run_script([*base, "--time-budget", "1h"], cwd=ROOT, script=STUDY, timeout=600)
    assert first.returncode == 0, first.stdout[-2000:] + first.stderr[-2000:]
    rows = {r["job"]: r for r in read(table)}
    assert sorted(j for j, r in rows.items() if r["code"] == NOW) == SMOKE_VANISHING[:2]
    assert all(rows[j]["status"] == "completed" and rows[j]["steps"] == "4" for j in SMOKE_VANISHING[:2])
    assert [r["job"] for r in read(table.parent / "missing.csv")] == SMOKE_VANISHING[2:]
    assert "does not fit" in first.stdout
    assert f"2 jobs published at {NOW}; still missing: vanishing (2 jobs, ~2000000 s)" in first.stdout
    again = run_script(
        [*base, "--time-budget", "700h", "--workers", "2"], cwd=ROOT, script=STUDY, timeout=600
    )
    assert again.returncode == 0, again.stdout[-2000:] + again.stderr[-2000:]
    said = [
        line.split(": ", 1)[1].split(" ")[0]
        for line in again.stdout.splitlines()
        if line.startswith("[budget]")
    ]
    assert said[:2] == ["running", "running"], said  # two workers: both jobs start before either is reaped
    assert sorted(r["job"] for r in read(table) if r["code"] == NOW) == sorted(SMOKE_VANISHING)
    assert read(table.parent / "missing.csv") == []
    assert "still missing: nothing" in again.stdout
    planned = run_script([*base, "--plan"], cwd=ROOT, script=STUDY)
    assert f"[plan] vanishing: 4 published at {NOW}, 0 missing" in planned.stdout


def test_a_folder_holding_a_run_of_other_code_and_config_is_set_aside_and_the_job_run_again(
    tmp_path: Path,
) -> None:
    """A job whose lr changed with the code finds its folder holding the old run, which train.py refuses
    as another config's: the budget moves that run to ``superseded/<its code>/`` and publishes the new
    run, never the old one's row."""
    docs, outputs = tmp_path / "docs", tmp_path / "outputs"
    base = ["--profile", "smoke", "--only", "vanishing", "--docs", str(docs), "--outputs", str(outputs),
            "--time-budget", "1h", "--workers", "2"]  # fmt: skip
    assert run_script(base, cwd=ROOT, script=STUDY, timeout=600).returncode == 0
    job = SMOKE_VANISHING[0]
    run = outputs / "smoke" / "vanishing" / job
    metrics = json.loads((run / "metrics.json").read_text())
    metrics["code"]["hash"], metrics["config"]["optim"]["lr"] = "000000000000", 0.3
    (run / "metrics.json").write_text(json.dumps(metrics))
    table = docs / "study" / "vanishing" / "summary.csv"
    write_rows(
        docs, "vanishing", [{**r, "code": "000000000000"} if r["job"] == job else r for r in read(table)]
    )
    again = run_script(base, cwd=ROOT, script=STUDY, timeout=600)
    assert again.returncode == 0, again.stdout[-2000:] + again.stderr[-2000:]
    assert f"vanishing/{job}: its run of other code moved to" in again.stdout
    assert (
        json.loads((run / "superseded" / "000000000000" / "metrics.json").read_text())["config"]["optim"][
            "lr"
        ]
        == 0.3
    )
    assert {r["job"]: r["code"] for r in read(table)} == dict.fromkeys(SMOKE_VANISHING, NOW)


def test_a_budget_runs_only_the_jobs_its_glob_names(tmp_path: Path) -> None:
    """``--jobs 'seed=1,*'``: the two seed-1 jobs run and are published; the seed-0 ones stay missing."""
    docs, outputs = tmp_path / "docs", tmp_path / "outputs"
    args = ["--profile", "smoke", "--only", "vanishing", "--docs", str(docs), "--outputs", str(outputs),
            "--time-budget", "1h", "--workers", "2", "--jobs", "seed=1,*"]  # fmt: skip
    done = run_script(args, cwd=ROOT, script=STUDY, timeout=600)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    page = docs / "study" / "vanishing"
    assert sorted(r["job"] for r in read(page / "summary.csv")) == ["seed=1,seq_len=4", "seed=1,seq_len=8"]
    assert sorted(r["job"] for r in read(page / "missing.csv")) == ["seed=0,seq_len=4", "seed=0,seq_len=8"]


@pytest.mark.slow
def test_the_deadline_stops_the_running_job_and_publishes_nothing_of_it(tmp_path: Path) -> None:
    """A 40 s budget, two workers and jobs of 10^6 steps: the two running jobs are stopped at the deadline
    (SIGTERM: each checkpoints and ends interrupted), no row is published, and the command exits 0 naming
    what is missing."""
    docs, outputs = tmp_path / "docs", tmp_path / "outputs"
    args = ["--profile", "smoke", "--only", "vanishing", "--docs", str(docs), "--outputs", str(outputs),
            "--time-budget", "40s", "--workers", "2", "steps=1000000"]  # fmt: skip
    done = run_script(args, cwd=ROOT, script=STUDY, timeout=600)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    stopped = [f"vanishing/{job}" for job in SMOKE_VANISHING[:2]]
    assert all(f"{job}: the time budget ran out; stopped" in done.stdout for job in stopped)
    last = [line for line in done.stdout.splitlines() if line.startswith("[study] --time-budget:")]
    assert last == [
        f"[study] --time-budget: 0 jobs published at {NOW} (stopped at the deadline: {', '.join(stopped)}); "
        "still missing: vanishing (4 jobs, no estimate)"
    ]
    assert not (docs / "study" / "vanishing" / "summary.csv").exists()
    assert [r["job"] for r in read(docs / "study" / "vanishing" / "missing.csv")] == SMOKE_VANISHING
    for job in SMOKE_VANISHING[:2]:
        run = outputs / "smoke" / "vanishing" / job
        assert json.loads((run / "metrics.json").read_text())["status"] == "interrupted"
    bad = run_script([*args[:-3], "--workers", "0"], cwd=ROOT, script=STUDY)
    assert bad.returncode == 2 and bad.stderr.strip().splitlines()[-1] == (
        "error: --workers: 0 is not 1 or more jobs at once"
    )


def test_a_rebuild_with_nothing_missing_moves_the_rows_of_other_code_aside(tmp_path: Path) -> None:
    """While a job is missing, rows of other code stay (the page says it mixes versions); once nothing
    is missing at this version, the rows no plan of this code holds (here a length the grid dropped)
    move to superseded.csv, the page's table keeps this version's rows alone, and nothing is lost."""
    docs = tmp_path / "docs"
    old = vanishing_row("seed=0,seq_len=16", "000000000000", "9")
    ours = [vanishing_row(j, NOW, "1") for j in SMOKE_VANISHING]
    table = write_rows(docs, "vanishing", [old, *ours[:3]])
    stale_left = spend([preset("vanishing", tmp_path)], "smoke", [], docs, 0.0, ROOT)
    assert [t.name for t in stale_left.missing["vanishing"]] == SMOKE_VANISHING[3:]
    assert len(read(table)) == 4 and not (table.parent / "superseded.csv").exists()
    write_rows(docs, "vanishing", [old, *ours])
    done = spend([preset("vanishing", tmp_path)], "smoke", [], docs, 0.0, ROOT)
    assert done.missing["vanishing"] == [] and done.published == []
    assert read(table) == ours and read(table.parent / "superseded.csv") == [old]
    assert code_status(table.parent)["state"] == "current"
    from rnn_scratch.study.pages.preset import code_status as page_status
    from rnn_scratch.study.render import ENV

    jobs = [Job(table.parent / j, {}, Status.COMPLETED, {"code": {"hash": NOW}}) for j in SMOKE_VANISHING]
    line = ENV.get_template("macros.md.j2").module.code_line(page_status(table.parent, jobs, NOW))
    assert "Runs of earlier code that no plan of this code holds (1) are kept in `superseded.csv`" in line


def test_a_budget_tries_every_job_of_a_preset_whose_sweeps_name_jobs_alike(tmp_path: Path) -> None:
    """contest runs one sweep per task, and both hold ``+tuned=default_rnn,seed=0``: a budget knows a job
    by its folder, so it offers each of the 80 once, both tasks' alike-named jobs included (it once
    knew them by name and ran only the first task's)."""
    from rnn_scratch.study.budget import next_job

    contest = preset("contest", tmp_path)
    jobs = missing_jobs(contest, "quick", [], tmp_path / "docs", NOW, ROOT)
    assert len(jobs) == 80 and len({t.name for t in jobs}) == 60  # 20 names in both sweeps
    passed: set[Path] = set()
    while found := next_job([contest], "quick", [], tmp_path / "docs", NOW, ROOT, passed):
        passed.add(found[0].sweep_dir / found[0].name)
    assert passed == {t.sweep_dir / t.name for t in jobs}
