"""Issue 22: nothing a user runs loses results or misleads.

A trial study leaves the repository as it was; a sweep's jobs get a folder each and end with a summary;
a finished run folder is never overwritten; a resumed run names the folder that holds it; a typo'd key
fails with the closest known one; an instrument that cannot apply never fails a run that trained.
"""

from __future__ import annotations

import json
import re
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import matplotlib.pyplot as plt
import pytest
import torch
from conftest import ROOT, TRAIN_SCRIPT, run_script
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.errors import ConfigCompositionException, MissingConfigException

from rnn_scratch.models.classifier import build_model
from rnn_scratch.models.config import ModelConfig
from rnn_scratch.models.registry import model_names
from rnn_scratch.study import aggregate, plots
from rnn_scratch.study.aggregate import Group
from rnn_scratch.study.runs import Job
from rnn_scratch.tasks import make_task
from rnn_scratch.training.instruments import eval_dynamics

TINY = ["steps=3", "eval_every=3", "log_every=1", "eval_size=8", "batch_size=4", "seq_len=5"]
CELLS = model_names()  # every registered cell and torch.nn twin


def git_status() -> str:
    return subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=all"], cwd=ROOT, capture_output=True, text=True,
        check=True,
    ).stdout  # fmt: skip


def job_folders(sweep: Path) -> list[Path]:
    return sorted(p.parent for p in sweep.rglob(".hydra") if p.parent != sweep)


@pytest.mark.slow  # the smoke hidden preset: 4 jobs of 4 steps, then its pages (~25 s)
def test_a_smoke_study_leaves_the_repository_clean_and_runs_every_job(tmp_path: Path) -> None:
    before = git_status()
    proc = run_script(
        ["--profile", "smoke", "--only", "hidden", "--outputs", str(tmp_path), "hydra/launcher=basic"],
        cwd=tmp_path, timeout=600, script=ROOT / "scripts" / "study.py",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert git_status() == before  # docs/study.md, docs/study/**, the headline: untouched
    pages = tmp_path / "smoke" / "pages"
    assert (pages / "study.md").is_file() and (pages / "study" / "hidden").is_dir()
    # hidden_size=4 (every smoke preset) then hidden_size=4,8 (this one): 2 sizes x 2 seeds, 4 folders
    jobs = job_folders(tmp_path / "smoke" / "hidden")
    assert len(jobs) == 4, [j.name for j in jobs]
    sizes = {json.loads((j / "metrics.json").read_text())["config"]["hidden_size"] for j in jobs}
    assert sizes == {4, 8}
    assert "Jobs: 4 finished of 4" in (pages / "study" / "hidden.md").read_text()
    assert "sweep: 4 jobs: 4 finished" in proc.stdout


def test_a_key_given_fixed_then_swept_names_the_job_folders(tmp_path: Path) -> None:
    sweep = tmp_path / "sweep"
    args = [
        "-m",
        *TINY,
        "hidden_size=2",
        "hidden_size=2,3",
        "hydra/launcher=basic",
        f"hydra.sweep.dir={sweep}",
    ]
    proc = run_script(args, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert [p.name for p in job_folders(sweep)] == ["hidden_size=2", "hidden_size=3"]
    # the sweep ends with its summary and the command that reports it
    lines = proc.stdout.strip().splitlines()
    assert (
        lines[-2] == f"sweep: 2 jobs: 2 finished (0 solved), 0 diverged, 0 failed or interrupted -> {sweep}"
    )
    assert lines[-1] == f"summary and figures: python scripts/report.py {sweep}"


@pytest.mark.slow  # 2 tiny jobs per model in one process (~30 s)
def test_every_cell_at_hidden_size_1_and_2_finishes_with_its_outputs(tmp_path: Path) -> None:
    sweep = tmp_path / "sweep"
    args = ["-m", *TINY, f"model={','.join(CELLS)}", "hidden_size=1,2", "hydra/launcher=basic",
            f"hydra.sweep.dir={sweep}"]  # fmt: skip
    proc = run_script(args, cwd=tmp_path, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr
    jobs = job_folders(sweep)
    assert len(jobs) == 2 * len(CELLS)
    for job in jobs:
        metrics = json.loads((job / "metrics.json").read_text())
        assert metrics["status"] == "completed" and metrics["eval_acc"] is not None, job.name
        assert (job / "checkpoint.pt").is_file(), job.name
    # a 1-D state has no PCA plane: the trajectories figure is skipped with a one-line notice
    assert "instrument dynamics/trajectories skipped: a 1-D state has no PCA plane" in proc.stdout
    assert f"sweep: {len(jobs)} jobs: {len(jobs)} finished" in proc.stdout


@pytest.mark.parametrize("name", ["rnn", "gru", "torch_rnn"])
def test_the_instruments_skip_what_cannot_apply_and_measure_the_rest(name: str) -> None:
    torch.manual_seed(0)
    task = make_task("recall", 6)
    model = build_model(ModelConfig(name=name), task.input_size, 1, task.n_outputs)
    data = task.eval_set(32, torch.Generator().manual_seed(1))
    skipped: dict[str, str] = {}
    scalars, drawn = eval_dynamics(model, data, figures=True, skipped=skipped)
    assert set(skipped) == {"dynamics/trajectories"}  # a 1-D state: no PCA plane
    assert {"memory/capacity", "dynamics/lyapunov_max"} <= set(scalars) and "memory/curve" in drawn
    few: dict[str, str] = {}
    scalars, _ = eval_dynamics(model, task.eval_set(2, torch.Generator().manual_seed(1)), skipped=few)
    assert "too few" in few["memory"] and "dynamics/lyapunov_max" in scalars
    for fig in drawn.values():
        plt.close(fig)


def test_a_finished_run_folder_is_refused_and_left_as_it_was(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    first = run_script([*TINY, f"hydra.run.dir={run_dir}"], cwd=tmp_path)
    assert first.returncode == 0, first.stderr[-2000:]
    kept = {p: p.read_bytes() for p in run_dir.rglob("*") if p.is_file()}
    for extra in (["seq_len=6"], ["seq_len=5", "skip_completed=false"]):
        proc = run_script([*TINY, *extra, f"hydra.run.dir={run_dir}"], cwd=tmp_path)
        assert proc.returncode == 2, (extra, proc.stderr)
        assert proc.stderr.strip().splitlines() == [proc.stderr.strip()], proc.stderr  # one line
        assert proc.stderr.startswith(f"error: hydra.run.dir: {run_dir} already holds a finished run")
        assert ("(seq_len=5)" in proc.stderr) == ("seq_len=6" in extra)
    assert {p: p.read_bytes() for p in run_dir.rglob("*") if p.is_file()} == kept


@pytest.mark.slow  # interrupt a run, then resume it by its own last line and from another folder (~15 s)
def test_an_interrupted_run_says_how_to_resume_and_resuming_elsewhere_names_its_folder(
    tmp_path: Path,
) -> None:
    run_dir = tmp_path / "run"
    budget = ["steps=400", "eval_every=400", "log_every=10", "eval_size=8", "batch_size=4", "seq_len=5",
              "hidden_size=4", "checkpoint_every=5"]  # fmt: skip
    proc = subprocess.Popen(
        [sys.executable, str(TRAIN_SCRIPT), *budget, f"hydra.run.dir={run_dir}"],
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    deadline = time.monotonic() + 120
    while not (run_dir / "checkpoint.pt").exists():
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
        time.sleep(0.02)
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 128 + signal.SIGINT, stderr
    last = stdout.strip().splitlines()[-1]  # Hydra logs to stdout
    ended = stdout.strip().splitlines()[-2]  # the step it reached, never an empty metrics slot
    assert "interrupted at step " in ended and " of 400: " in ended and ":  in" not in ended, ended
    command = last.split("to resume: ", 1)[1]
    assert command.endswith(f"resume=true hydra.run.dir={run_dir.resolve()}"), last
    # the printed command continues it, from any folder, with more steps
    args = [a for a in shlex.split(command)[2:] if not a.startswith("steps=")]
    resumed = run_script([*args, "steps=410"], cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert json.loads((run_dir / "metrics.json").read_text())["steps"] == 410
    # resume=<folder> from elsewhere: the final line and that folder's train.log say where the run went
    elsewhere = tmp_path / "elsewhere"
    more = [*(a for a in args if not a.startswith(("resume=", "hydra.run.dir="))), "steps=420"]
    again = run_script([*more, f"resume={run_dir}", f"hydra.run.dir={elsewhere}"], cwd=tmp_path)
    assert again.returncode == 0, again.stderr[-2000:]
    assert again.stdout.strip().splitlines()[-1].endswith(f"-> {run_dir}")
    log = (run_dir / "train.log").read_text().strip().splitlines()
    assert "completed" in log[-1] and log[-1].endswith(f"-> {run_dir}")
    assert any(f"resuming the run in {run_dir}" in line for line in log)
    assert not elsewhere.exists()  # Hydra's folder for the command held nothing of the run


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("seq_lenn=10", "error: seq_lenn: unknown key (did you mean seq_len?)"),
        ("+seq_lenn=10", "error: seq_lenn: unknown key (did you mean seq_len?)"),
        (
            "model.forget_biass=3",
            "error: model.forget_biass: unknown key of model (did you mean forget_bias?)",
        ),
        ("task.lagg=3", "error: task.lagg: not a key of task=recall (did you mean lag?)"),
        ("model=lstmm", "error: model=lstmm: no such option (did you mean lstm?)"),
        ("model=LSTM", "error: model=LSTM: no such option (did you mean lstm?)"),  # case aside
        ("task=recal", "error: task=recal: no such option (did you mean recall?)"),
        ("model=model_schema", "error: model=model_schema: no such option"),
        ("+cell=lstmm", "error: cell=lstmm: no such option (did you mean lstm?)"),  # every group of configs/
    ],
)
def test_an_unknown_key_or_option_fails_with_the_closest_known_one(
    tmp_path: Path, override: str, message: str
) -> None:
    proc = run_script([override], cwd=tmp_path)
    assert proc.returncode == 2
    assert proc.stderr.startswith(message) and len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert not (tmp_path / "outputs").exists()  # nothing written


@pytest.mark.parametrize(
    "override", ["model=model", "model=model_schema", "task=recall_schema", "optim=optim"]
)
def test_schemas_are_not_choices_of_a_group(override: str) -> None:
    GlobalHydra.instance().clear()
    try:
        with initialize_config_dir(str(ROOT / "configs"), version_base="1.3"):
            with pytest.raises(MissingConfigException):
                compose("train", overrides=[override])
            cfg = compose("train", overrides=["model=lstm", "task=adding", "optim=sgd"])
            with pytest.raises(ConfigCompositionException, match="forget_bias"):  # still typed by its schema
                compose("train", overrides=["model=lstm", "model.forget_bias=abc"])
    finally:
        GlobalHydra.instance().clear()
    assert cfg.model.forget_bias == 1.0 and cfg.task.name == "adding" and cfg.optim.name == "sgd"


def test_help_keeps_each_preset_description_whole(tmp_path: Path) -> None:
    proc = run_script(["--help"], cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    rows = [ln for ln in proc.stdout.splitlines() if ln.strip().startswith("+experiment=")]
    assert len(rows) == len(list((ROOT / "configs" / "experiment").glob("*.yaml")))
    for row in rows:
        assert not re.search(r"\bal\.?( \.\.\.)?$", row), row  # not cut at "et al."
    assert any("(Hochreiter & Schmidhuber 1997; Le et al. 2015)" in row for row in rows)  # kept whole


def _group(init: str, accs: list[float]) -> Group:
    metrics = [{"eval_acc": a, "clipped_fraction": 0.5} for a in accs]
    jobs = [Job(Path(f"/x/{init}{i}"), {"model.init": init}, "completed", m) for i, m in enumerate(metrics)]
    return Group(f"model.init={init}", {"model.init": init}, jobs)


def test_a_categorical_x_is_not_joined_by_lines(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    drawn: list[plt.Figure] = []
    save = plots._save
    monkeypatch.setattr(
        plots, "_save", lambda fig, path, bottom=0.0: drawn.append(fig) or save(fig, path, bottom)
    )
    groups = [
        _group("default", [0.1, 0.2, 0.3]),
        _group("identity", [0.9, 1.0, 0.8]),
        _group("orthogonal", [0.5]),
    ]
    assert plots.plot_metric(groups, "model.init", "eval_acc", tmp_path / "a.png")
    lines = [line for ax in drawn[0].axes for line in ax.lines]
    assert lines and all(
        len(line.get_xdata()) == 1 or line.get_linestyle() in ("None", "", " ") for line in lines
    )  # markers and CI bars only: no line from one category to the next
    header = aggregate.grouped_markdown(groups, "eval_acc")[0]
    assert "clipped steps (fraction)" in header
