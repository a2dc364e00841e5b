"""What a new user meets first: short runs, ``--help``, run folders, refused runs, the final line."""

from __future__ import annotations

import importlib.util
import json
import time
from pathlib import Path
from types import ModuleType

import pytest
import yaml
from conftest import CONFIGS, TRAIN_SCRIPT, run_script

from rnn_scratch.study.adaptive import task_grid
from rnn_scratch.study.presets import Study
from rnn_scratch.tasks.names import Names

SMALL = ["eval_size=32", "batch_size=8", "hidden_size=8"]


@pytest.mark.parametrize("steps", [1, 100])
def test_a_short_run_needs_only_steps(train_run, steps: int) -> None:
    """Periods longer than the run are clamped to it with a notice, not refused."""
    proc, run_dir = train_run(f"steps={steps}", "seq_len=5", *SMALL, tiny=False)
    assert proc.returncode == 0, proc.stderr
    assert f"clamped to {steps}" in proc.stdout + proc.stderr
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["status"] == "completed" and metrics["steps"] == steps
    assert metrics["eval_acc"] is not None  # evaluated at the last step
    # the final line names the chance level beside the metric
    assert "(chance 0.125)" in proc.stdout + proc.stderr


def test_help_lists_real_choices_presets_and_keys(tmp_path: Path) -> None:
    proc = run_script(["--help"], cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    text = proc.stdout
    assert "_schema" not in text
    for preset in (CONFIGS / "experiment").glob("*.yaml"):
        assert f"+experiment={preset.stem}" in text
    for choice in ("recall*", "temporal_order", "torch_lstm", "adam*", "sgd", "joblib", "rnn_orthogonal"):
        assert choice in text
    for key in ("seq_len=50", "clip=null", "steps=1500", "heatmap_range=null"):
        assert key in text
    assert "python scripts/train.py -m" in text


def test_a_refused_run_leaves_no_folder(tmp_path: Path) -> None:
    proc = run_script(["seq_len=0"], cwd=tmp_path)
    assert proc.returncode == 2 and "seq_len" in proc.stderr
    runs = tmp_path / "outputs" / "runs"
    assert not runs.exists() or not any(runs.iterdir()), list(runs.rglob("*"))


def test_a_run_folder_says_what_ran(tmp_path: Path) -> None:
    proc = run_script(["steps=2", "seq_len=6", "model=gru", *SMALL], cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    (run,) = (tmp_path / "outputs" / "runs").glob("*/*")
    assert run.name.endswith("_recall-gru-seq6"), run.name
    proc = run_script(["steps=2", "seq_len=6", "name=mine", *SMALL], cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert any(p.name.endswith("_mine") for p in (tmp_path / "outputs" / "runs").glob("*/*"))


def test_a_sweep_job_is_named_by_the_swept_keys_only(tmp_path: Path) -> None:
    sweep = tmp_path / "sweep"
    args = ["-m", "seq_len=5,6", "steps=2", *SMALL, f"hydra.sweep.dir={sweep}"]
    proc = run_script(args, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert sorted(p.name for p in sweep.iterdir() if p.is_dir()) == ["seq_len=5", "seq_len=6"]


def test_counts_in_metrics_are_integers(tmp_path: Path) -> None:
    for label, names in {"A": "Ann\nAnn\nBo\nCy\n", "B": "Dee\nEd\nFay\nGus\n"}.items():
        (tmp_path / f"{label}.txt").write_text(names)
    baselines = Names(seq_len=8, data_dir=str(tmp_path), eval_fraction=0.25).baselines()
    assert baselines["names_duplicate"] == 1 and isinstance(baselines["names_duplicate"], int)
    counts = {k: v for k, v in baselines.items() if k.startswith("names_")}
    assert all(isinstance(v, int) for v in counts.values()), counts
    assert json.dumps(counts).count(".") == 0  # written as 1, not 1.0


@pytest.fixture(scope="module")
def train_script() -> ModuleType:
    """``scripts/train.py`` as a module (its ``__main__`` part does not run): its checks in-process."""
    spec = importlib.util.spec_from_file_location("train_script", TRAIN_SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def check(train_script: ModuleType, *args: str) -> str | None:
    argv = ["train.py", *args]
    return train_script.check_values(argv, train_script.parse(train_script.cli.override_args(argv)))


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (["-m", "seq_len=10,-5,20", "steps=100"], "error: seq_len: must be > 0, got -5"),
        (["-m", "seq_len=10,5O"], "error: seq_len: must be an integer, got '5O'"),
        (["-m", "seq_len=range(1,3)", "optim.lr=1e-3,1e-3x"], "error: optim.lr: must be a number"),
        # a value wrong only beside another's: every job of a small sweep is checked
        (["-m", "task=recall,temporal_order", "seq_len=20,5"], "error: seq_len: temporal_order needs"),
        (["-m", "model=rnn,lstm", "model.forget_bias=abc"], "error: model.forget_bias: must be a number"),
        (["-m", "+experiment=cells", "task.n_classes=1"], "error: task.n_classes: must be >= 2"),
        (["seq_len=abc"], "error: seq_len: must be an integer, got 'abc'"),
        (["resume=true"], "error: resume: nothing to resume: pass resume=<run folder>"),
    ],
)  # fmt: skip
def test_every_value_of_a_command_is_checked_before_hydra_starts(
    train_script: ModuleType, args: list[str], error: str
) -> None:
    assert (check(train_script, *args) or "").startswith(error)


def test_a_sweep_of_a_hundred_values_checks_them_all_in_about_a_second(train_script: ModuleType) -> None:
    many = ",".join(str(n) for n in range(1, 100))
    start = time.perf_counter()
    assert check(train_script, "-m", f"seq_len={many},0") == "error: seq_len: must be > 0, got 0"  # the last
    took = time.perf_counter() - start
    assert took < 5, took  # ~1 s on 2 loaded cores; one Hydra composition per value would take 10-30 s


def test_every_preset_passes_the_check(train_script: ModuleType) -> None:
    """Every preset's sweep is valid; an adaptive one (its lengths chosen per task in rounds) on each
    task's own grid, as the planner runs it (copy starts at its minimum length, 21)."""
    for preset in sorted((CONFIGS / "experiment").glob("*.yaml")):
        if Study.parse(preset.read_text(), str(preset)).grid != "adaptive":
            assert check(train_script, "-m", f"+experiment={preset.stem}") is None, preset.stem
            continue
        params = yaml.safe_load(preset.read_text())["hydra"]["sweeper"]["params"]
        for task in params["task"].split(","):
            lengths = ",".join(str(t) for t in task_grid(map(int, str(params["seq_len"]).split(",")), task))
            args = ("-m", f"+experiment={preset.stem}", f"task={task}", f"seq_len={lengths}")
            assert check(train_script, *args) is None, (preset.stem, task)
    # as a plain Cartesian sweep, the adaptive preset names the length copy cannot take, before any job
    said = check(train_script, "-m", "+experiment=memory")
    assert said is not None and said.startswith("error: seq_len: copy needs seq_len >= 21")
