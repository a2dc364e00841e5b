"""Sweeps for real: a preset run by joblib, a sweep by submitit_local, the report, HParams per run.

Hydra, its launchers and TensorBoard are the real ones; only the budget is tiny (conftest.TINY).
"""

from __future__ import annotations

import csv
import json
import re
import shutil
from pathlib import Path

import pytest
from conftest import CONFIGS, ROOT, TINY, run_script
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from tensorboard.backend.event_processing.plugin_event_multiplexer import EventMultiplexer
from tensorboard.plugins.hparams import plugin_data_pb2

from rnn_scratch.study.report import analyse, markdown
from rnn_scratch.training.parallel import (
    choose_gpu,
    gpus_assigned_by_scheduler,
    job_threads,
    launcher_name,
)
from rnn_scratch.training.record import RunRecord, Status
from rnn_scratch.training.results import sweep_lines, sweep_summary

REPORT_SCRIPT = ROOT / "scripts" / "report.py"
PNG = b"\x89PNG\r\n\x1a\n"
FIGURES = ("accuracy.png", "gradients.png", "solved.png", "decay_vs_lyapunov.png", "losses.png")


def jobs_in(sweep: Path) -> list[Path]:
    return sorted(p for p in sweep.iterdir() if (p / ".hydra").is_dir())


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open() as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def joblib_sweep(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The vanishing preset, its sweep changed on the command line: 2 seq_len x 2 clip, one seed."""
    root = tmp_path_factory.mktemp("joblib")
    sweep = root / "sweep"
    sweep_over = ["seq_len=5,8", "clip=null,1.0", "seed=0"]
    args = ["-m", "+experiment=vanishing", *sweep_over, *TINY, "hydra/launcher=joblib"]
    proc = run_script([*args, f"hydra.sweep.dir={sweep}"], cwd=root)
    assert proc.returncode == 0, proc.stderr
    return sweep


@pytest.mark.slow
def test_a_preset_sweep_runs_in_parallel_with_limited_threads(joblib_sweep: Path) -> None:
    jobs = jobs_in(joblib_sweep)
    assert len(jobs) == 4
    seen = set()
    for job in jobs:
        metrics = json.loads((job / "metrics.json").read_text())
        cfg = metrics["config"]
        assert metrics["status"] == "completed" and cfg["model"]["name"] == "rnn"
        seen.add((cfg["seq_len"], cfg["clip"]))
        # folders are named by what was swept, not by the preset's name
        parts = set(job.name.split(","))
        assert f"seq_len={cfg['seq_len']}" in parts and "experiment" not in job.name
        assert {"clip=null", "clip=1.0"} & parts
        # one torch thread per job, as a single run has (null: the run's default, 1)
        assert cfg["threads"] is None
    assert seen == {(5, None), (5, 1.0), (8, None), (8, 1.0)}


@pytest.mark.slow
def test_each_run_of_a_sweep_carries_hparams_for_tensorboard(joblib_sweep: Path) -> None:
    """A session per run, and the sweep's experiment in each run (the swept keys first and marked);
    TensorBoard's own reader lists the jobs as the runs, not the sweep's root."""
    for job in jobs_in(joblib_sweep):
        acc = EventAccumulator(str(job / "tb"))
        acc.Reload()
        content = acc.PluginTagToContent("hparams")
        assert "_hparams_/session_start_info" in content
        start = plugin_data_pb2.HParamsPluginData.FromString(content["_hparams_/session_start_info"])
        hparams = start.session_start_info.hparams
        cfg = json.loads((job / "metrics.json").read_text())["config"]
        assert hparams["seq_len"].number_value == cfg["seq_len"]
        assert hparams["clip"].string_value == ("none" if cfg["clip"] is None else str(cfg["clip"]))
        assert hparams["model"].string_value == "rnn"
        assert start.session_start_info.group_name == f"{job.name} ({joblib_sweep.name})"  # the trial's name
        experiment = plugin_data_pb2.HParamsPluginData.FromString(content["_hparams_/experiment"]).experiment
        infos = list(experiment.hparam_infos)
        assert {i.name for i in infos[:2]} == {"seq_len", "clip"}  # the preset's and the command line's sweep
        assert {i.name for i in infos if i.differs} == {"seq_len", "clip"}
        assert {m.name.tag for m in experiment.metric_infos} >= {"eval/acc", "eval/loss"}
    mux = EventMultiplexer().AddRunsFromDirectory(str(joblib_sweep))
    mux.Reload()
    assert sorted(mux.Runs()) == sorted(f"{job.name}/tb" for job in jobs_in(joblib_sweep))


def report(sweep: Path, out: Path) -> list[dict[str, str]]:
    proc = run_script([str(sweep), "--out", str(out)], cwd=out.parent, script=REPORT_SCRIPT, timeout=120)
    assert proc.returncode == 0, proc.stderr
    for name in FIGURES:
        assert (out / name).read_bytes().startswith(PNG), name
    return read_csv(out / "summary.csv")


@pytest.mark.slow
def test_the_report_summarises_every_job(joblib_sweep: Path, tmp_path: Path) -> None:
    rows = report(joblib_sweep, tmp_path / "report")
    assert len(rows) == 4
    assert {"job", "seq_len", "clip", "status", "eval_acc", "eval_loss", "wall_time_s"} <= set(rows[0])
    assert {(r["seq_len"], r["clip"]) for r in rows} == {(s, c) for s in ("5", "8") for c in ("null", "1.0")}
    assert all(r["status"] == "completed" and 0 <= float(r["eval_acc"]) <= 1 for r in rows)
    md = (tmp_path / "report" / "summary.md").read_text()
    assert md.count("| completed |") == 4
    # the preset measures a fresh eval set (final_eval_size): the tables show it, and say so
    assert (
        "Final eval accuracy (`fresh_eval_acc`) by seq_len" in md
        and "| seq_len | clip=null | clip=1.0 |" in md
    )
    assert "| fresh_eval_acc (median [95% CI] or range, or seeds) |" in md
    assert not (joblib_sweep / "summary.csv").exists()  # --out: the sweep folder is left alone


@pytest.mark.slow
def test_a_job_without_metrics_is_reported_missing(joblib_sweep: Path, tmp_path: Path) -> None:
    sweep = tmp_path / "sweep"
    shutil.copytree(joblib_sweep, sweep)
    gone = sweep / "seq_len=11"  # as a killed job leaves it: Hydra's files, no results
    shutil.copytree(jobs_in(sweep)[0] / ".hydra", gone / ".hydra")
    overrides = gone / ".hydra" / "overrides.yaml"
    overrides.write_text(re.sub(r"seq_len=\d+", "seq_len=11", overrides.read_text()))
    rows = report(sweep, sweep)  # default-like: written into the sweep folder itself
    assert len(rows) == 5
    missing = [r for r in rows if r["status"] == "missing"]
    assert [(r["job"], r["seq_len"], r["eval_acc"]) for r in missing] == [(gone.name, "11", "")]
    md = (sweep / "summary.md").read_text()
    assert "**missing** (1):" in md and f"`{gone.name}`" in md


def test_report_refuses_a_folder_without_jobs(tmp_path: Path) -> None:
    proc = run_script([str(tmp_path)], cwd=tmp_path, script=REPORT_SCRIPT, timeout=60)
    assert proc.returncode == 2 and "no job folders" in proc.stderr


@pytest.mark.slow
def test_a_sweep_through_submitit_local(tmp_path: Path) -> None:
    """submitit's local executor: each job a separate process, as on a cluster; default sweep folder."""
    args = ["-m", *TINY, "seq_len=4,6", "name=cluster", "hydra/launcher=submitit_local"]
    proc = run_script([*args, "hydra.launcher.cpus_per_task=1", "hydra.launcher.timeout_min=5"], cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    (sweep,) = (tmp_path / "outputs" / "multirun").glob("*/*_cluster")
    jobs = jobs_in(sweep)
    assert len(jobs) == 2 and all("name=" not in j.name for j in jobs)
    assert [[p for p in j.name.split(",") if p.startswith("seq_len=")] for j in jobs] == [
        ["seq_len=4"],
        ["seq_len=6"],
    ]
    for job in jobs:
        metrics = json.loads((job / "metrics.json").read_text())
        assert metrics["status"] == "completed" and metrics["config"]["threads"] == 1  # = cpus_per_task
    assert any((sweep / ".submitit").iterdir())  # submitit's own logs and pickles, skipped by the report
    rows = report(sweep, tmp_path / "report")
    assert [r["seq_len"] for r in rows] == ["4", "6"]


def hydra_cfg(*overrides: str):  # noqa: ANN201 - a DictConfig
    GlobalHydra.instance().clear()
    with initialize_config_dir(str(CONFIGS), version_base="1.3"):
        return compose("train", overrides=list(overrides), return_hydra_config=True)


@pytest.mark.parametrize("preset", sorted(p.stem for p in (CONFIGS / "experiment").glob("*.yaml")))
def test_every_experiment_preset_composes_and_declares_its_sweep(preset: str) -> None:
    cfg = hydra_cfg(f"+experiment={preset}")
    assert cfg.name == preset  # the sweep folder: <time>_<preset>
    if preset == "tune":  # Optuna's search space is per cell, in code (rnn_scratch/training/tuning.py)
        sweeper = cfg.hydra.sweeper
        assert sweeper._target_.endswith("OptunaSweeper") and sweeper.n_trials == 24
        assert sweeper.sampler.n_startup_trials == 8  # at most a third of the trials at random
        assert sweeper.custom_search_space == "rnn_scratch.training.tuning.search_space"
        assert list(cfg.tune_seeds) == [100, 101]
        return
    params = cfg.hydra.sweeper.params
    assert params and all("," in str(v) for v in params.values())


def test_the_vanishing_preset() -> None:
    cfg = hydra_cfg("+experiment=vanishing")
    assert cfg.model.name == "rnn"
    assert cfg.hydra.sweeper.params == {"seq_len": "10,25,50", "seed": "0,1,2"}
    assert cfg.stop_when_solved and cfg.model.bptt == "manual"


def test_launcher_presets() -> None:
    local = hydra_cfg("hydra/launcher=local").hydra.launcher
    assert launcher_name(local._target_) == "joblib" and local.n_jobs == 2
    slurm = hydra_cfg("hydra/launcher=slurm").hydra.launcher
    assert slurm._target_.endswith("SlurmLauncher") and slurm.partition is None
    assert slurm.max_num_timeout > 0 and slurm.cpus_per_task and slurm.timeout_min and slurm.mem_gb


def test_job_threads_by_launcher() -> None:
    plugins = "hydra_plugins.hydra_{0}_launcher.{0}_launcher."
    assert launcher_name(plugins.format("joblib") + "JoblibLauncher") == "joblib"
    assert launcher_name(plugins.format("submitit") + "SlurmLauncher") == "submitit"
    assert launcher_name("hydra._internal.core_plugins.basic_launcher.BasicLauncher") == "basic"
    assert job_threads("basic") is None  # one job at a time: a run's default, one thread
    assert job_threads("joblib") is None  # one thread each, whatever n_jobs: the cores may be shared
    assert job_threads("submitit", cpus_per_task=4) == 4  # its own allocation
    assert job_threads("submitit") is None


def test_choose_gpu() -> None:
    assert [choose_gpu(n, 2, {}) for n in range(5)] == [0, 1, 0, 1, 0]  # round-robin over the GPUs
    assert choose_gpu(7, 4, {}) == 3
    assert choose_gpu(None, 4, {}) is None  # a single run: torch's current device
    assert choose_gpu(3, 0, {}) is None  # no GPU
    # the user narrowed the visible GPUs: spread over those (torch counts only them)
    assert choose_gpu(3, 2, {"CUDA_VISIBLE_DEVICES": "2,3"}) == 1
    # a scheduler gave this job its own GPU(s): keep them
    slurm = {"CUDA_VISIBLE_DEVICES": "5", "SUBMITIT_EXECUTOR": "slurm"}
    assert gpus_assigned_by_scheduler(slurm) and choose_gpu(3, 1, slurm) is None
    local = {"CUDA_VISIBLE_DEVICES": "0,1", "SUBMITIT_EXECUTOR": "local"}
    assert choose_gpu(1, 2, local) is None
    assert not gpus_assigned_by_scheduler({"SUBMITIT_EXECUTOR": "slurm"})


# --- one meaning of solved (issue 28) -------------------------------------------------------------


def write_run(folder: Path, record: RunRecord | None, seq_len: int) -> None:
    """A job folder as a sweep leaves it: Hydra's overrides, and the run's metrics.json as training
    writes it (``RunRecord.to_json``); ``record`` None: a job that failed before writing one."""
    (folder / ".hydra").mkdir(parents=True)
    (folder / ".hydra" / "overrides.yaml").write_text(f"- seq_len={seq_len}\n")
    if record is not None:
        (folder / "metrics.json").write_text(json.dumps(record.to_json()))


def test_the_sweep_line_counts_solved_as_metrics_json_and_the_report_do(tmp_path: Path) -> None:
    """A completed run whose rule held (no stop_when_solved) is solved, as is a run stopped when solved;
    the sweep line, metrics.json's "solved" and the report agree."""
    rule = "eval_acc >= 0.9"
    runs = {  # folder: (record, seq_len)
        "completed_solved": (RunRecord(Status.COMPLETED, 300, steps_to_solve=250, solved_rule=rule), 10),
        "stopped_solved": (RunRecord(Status.SOLVED, 100, steps_to_solve=100, solved_rule=rule), 10),
        "unsolved": (RunRecord(Status.COMPLETED, 300, solved_rule=rule), 50),
        "diverged": (RunRecord(Status.DIVERGED, 20, solved_rule=rule), 50),
        "failed": (None, 50),
    }
    sweep = tmp_path / "sweep"
    for name, (record, seq_len) in runs.items():
        if record is not None:
            record.measured = {"eval_acc": 0.95 if record.steps_to_solve else 0.13}
        write_run(sweep / name, record, seq_len)
    written = [json.loads(p.read_text())["solved"] for p in sorted(sweep.glob("*/metrics.json"))]
    assert sorted(written) == [False, False, True, True]  # metrics.json's "solved": RunRecord.solved
    assert sweep_lines(sweep) == [
        f"sweep: 5 jobs: 3 finished (2 solved), 1 diverged, 1 failed or interrupted -> {sweep}"
    ]
    read = analyse(sweep)
    assert [(g.label, g.solved, len(g.finished)) for g in read.groups] == [
        ("seq_len=10", 2, 2),
        ("seq_len=50", 0, 2),
    ]
    assert "(steps to solve: the first such eval step): 2 of 4 finished runs." in markdown(read)
    assert "summary and figures: python scripts/report.py" in sweep_summary(sweep)


@pytest.mark.slow  # 2 runs of 60 steps, one of them solved (~25 s on the loaded 2 cores)
def test_a_real_sweep_ends_with_the_solved_count_of_its_runs_and_its_report(tmp_path: Path) -> None:
    """The README's kind of sweep, without stop_when_solved: every run "completed", the short one solved."""
    sweep = tmp_path / "sweep"
    quick = ["hidden_size=32", "batch_size=32", "steps=60", "eval_every=10", "log_every=5", "eval_size=64"]
    proc = run_script(
        ["-m", "seq_len=4,30", *quick, "hydra/launcher=basic", f"hydra.sweep.dir={sweep}"], cwd=tmp_path
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    metrics = {p.parent.name: json.loads(p.read_text()) for p in sweep.glob("*/metrics.json")}
    assert {k: (m["status"], m["solved"]) for k, m in metrics.items()} == {
        "seq_len=4": ("completed", True), "seq_len=30": ("completed", False)
    }  # fmt: skip
    line = f"sweep: 2 jobs: 2 finished (1 solved), 0 diverged, 0 failed or interrupted -> {sweep}"
    assert line in proc.stdout.splitlines()
    out = tmp_path / "report"
    proc = run_script([str(sweep), "--out", str(out)], cwd=tmp_path, script=REPORT_SCRIPT, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[-1] == line  # the report ends with the sweep's own line
    assert "1 of 2 finished runs." in (out / "summary.md").read_text()
    assert [r["solved"] for r in read_csv(out / "grouped.csv")] == ["1", "0"]
