"""What a new user meets first: short runs, ``--help``, run folders, refused runs, the final line."""

from __future__ import annotations

import csv
import dataclasses
import importlib.util
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from types import ModuleType

import pytest
import torch
import yaml
from conftest import CONFIGS, TRAIN_SCRIPT, run_script

from rnn_scratch.errors import ConfigError
from rnn_scratch.models.classifier import build_model
from rnn_scratch.models.config import ModelConfig
from rnn_scratch.models.registry import idle_setting, model_cell, model_names
from rnn_scratch.study.adaptive import offset, task_grid
from rnn_scratch.study.presets import Study
from rnn_scratch.tasks import REGISTRY, make_task, order_free
from rnn_scratch.tasks.names import Names
from rnn_scratch.training.cli.job import resume_command
from rnn_scratch.training.commands import hydra_unquote, hydra_value
from rnn_scratch.training.results import hparam_values, sweep_summary
from rnn_scratch.training.resume import with_defaults

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
    task's own grid, as the planner runs it (copy in T = seq_len - 20)."""
    for preset in sorted((CONFIGS / "experiment").glob("*.yaml")):
        if Study.parse(preset.read_text(), str(preset)).grid != "adaptive":
            assert check(train_script, "-m", f"+experiment={preset.stem}") is None, preset.stem
            continue
        params = yaml.safe_load(preset.read_text())["hydra"]["sweeper"]["params"]
        for task in params["task"].split(","):
            grid = task_grid(map(int, str(params["seq_len"]).split(",")), task)
            lengths = ",".join(str(t + offset(task)) for t in grid)  # copy plans in T = seq_len - 20
            args = ("-m", f"+experiment={preset.stem}", f"task={task}", f"seq_len={lengths}")
            assert check(train_script, *args) is None, (preset.stem, task)
    # as a plain Cartesian sweep, the adaptive preset names the length copy cannot take, before any job
    said = check(train_script, "-m", "+experiment=memory")
    assert said is not None and said.startswith("error: seq_len: copy needs seq_len >= 21")


# -- issue 38: commands that work pasted, settings that do nothing refused, every task named as itself ----


def bash(command: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """``command`` pasted into bash as printed, ``python`` being this interpreter."""
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    return subprocess.run(
        ["bash", "-c", command], cwd=cwd, env=env, capture_output=True, text=True, timeout=300
    )


def test_the_printed_resume_command_works_pasted_into_bash(tmp_path: Path) -> None:
    """A sweep job's folder holds ``=`` and ``,``: the printed line quotes it for Hydra and for bash, and
    the resume pre-check reads the quoted folder as Hydra does (it holds the checkpoint)."""
    folder = tmp_path / "sweep dir" / "clip=null,seq_len=5"
    given = ["seq_len=5", "clip=null", *SMALL]
    first = run_script([*given, "steps=2", f"hydra.run.dir='{folder}'"], cwd=tmp_path)
    assert first.returncode == 0, first.stderr[-2000:]
    command = resume_command([*given, "steps=4"], folder)
    assert "hydra.run.dir='" in command  # quoted for Hydra inside bash's double quotes
    pasted = bash(command, cwd=TRAIN_SCRIPT.parents[1])
    assert pasted.returncode == 0, pasted.stderr[-2000:]
    assert json.loads((folder / "metrics.json").read_text())["steps"] == 4


def test_the_printed_report_and_tuned_config_commands_reach_their_folder_through_bash(tmp_path: Path) -> None:
    sweep = tmp_path / "a sweep, named=odd$ly"
    sweep.mkdir()
    (sweep / "optimization_results.yaml").write_text("best_params: {}\n")
    lines = sweep_summary(sweep).splitlines()
    commands = [line.split(": ", 1)[1].split(" (", 1)[0] for line in lines if ": python " in line]
    assert len(commands) == 2, lines  # report.py, and write_tuned.py for a tuning sweep
    for command in commands:
        words = bash(f"printf '%s\\n' {command}", cwd=tmp_path).stdout.splitlines()
        assert words[0] == "python" and words[2] == str(sweep), (command, words)


@pytest.mark.parametrize(
    "text", ["/x/clip=null,seq_len=50", "/a b/c", "it's", "a\\b", "end\\", "q\\'x", "null", "1e3", "/x/[1,2]"]
)
def test_a_folder_quoted_for_hydra_reads_back_as_itself(text: str) -> None:
    from hydra.core.override_parser.overrides_parser import OverridesParser

    (override,) = OverridesParser.create().parse_overrides([f"k={hydra_value(text)}"])
    assert override.value() == text
    assert hydra_unquote(override.get_value_element_as_str()) == text  # the pre-check reads it so too


@pytest.mark.parametrize(
    ("args", "error"),
    [
        # a key of another task is named as such, not as a value of the wrong type
        (["task=copy", "task.n_classes=8"], "error: task.n_classes: not a key of task=copy (it takes none;"),
        (["task=temporal_order", "task.n_classes=8"], "error: task.n_classes: not a key of task=temporal_o"),
        (["task=copy", "task.foo=1"], "error: task.foo: not a key of task=copy (it takes none)"),
        (["task=recall", "task.lagg=3"], "error: task.lagg: not a key of task=recall (did you mean lag?)"),
        # a setting that does nothing for the model or task chosen
        (["model=rnn", "model.forget_bias=3"], "error: model.forget_bias: does nothing for model=rnn"),
        (["model=indrnn", "model.nonlinearity=tanh"], "error: model.nonlinearity: does nothing for model=i"),
        (["model=lstm", "model.nonlinearity=tanh"], "error: model.nonlinearity: does nothing for model=lstm"),
        (["model=rnn", "model.init_gain=2"], "error: model.init_gain: does nothing for model=rnn with"),
        (["model=torch_lstm", "model.init=orthogonal"], "error: model.init: does nothing for model=torch_ls"),
        (["model=gru", "model.chrono_tmax=50"], "error: model.chrono_tmax: does nothing for model=gru with"),
        (["task=recall_keys", "task.distractors=separate"], "error: task.distractors: does nothing for task"),
        (["task=recall_keys", "task.n_distractors=4"], "error: task.n_distractors: does nothing for task"),
        # in every job of a sweep, refused; in some, noted (below)
        (["-m", "model=rnn,irnn", "model.forget_bias=3"], "error: model.forget_bias: does nothing for model"),
    ],
)  # fmt: skip
def test_a_setting_for_another_cell_or_task_is_refused_in_one_line(
    train_script: ModuleType, args: list[str], error: str
) -> None:
    said = check(train_script, *args) or ""
    assert said.startswith(error) and "\n" not in said, said
    assert "n_distractors" not in said or "task=recall_keys" in said  # no other task's keys listed


@pytest.mark.parametrize(
    "args",
    [
        ["model=rnn", "model.nonlinearity=relu"],
        ["model=indrnn", "model.nonlinearity=relu"],
        ["model=lstm", "model.forget_bias=3"],
        ["model=lstm", "model.gate_init=chrono", "model.chrono_tmax=50"],
        ["model=rnn", "model.init=orthogonal", "model.init_gain=0.9"],
        ["task=recall", "task.distractors=keys", "task.n_classes=4"],
        ["task=recall_keys", "task.n_classes=4"],
    ],
)
def test_a_setting_the_model_or_task_reads_passes(train_script: ModuleType, args: list[str]) -> None:
    assert check(train_script, *args) is None


def test_a_setting_some_jobs_of_a_sweep_read_is_noted_once(
    train_script: ModuleType, capsys: pytest.CaptureFixture[str]
) -> None:
    assert check(train_script, "-m", "model=rnn,lstm", "model.forget_bias=3") is None
    notes = capsys.readouterr().err.strip().splitlines()
    assert notes == [
        "note: model.forget_bias: does nothing for model=rnn (it applies to model=lstm, gru); "
        "those jobs run as without it"
    ]


CELL_SETTINGS = [
    ("nonlinearity", {}, "relu"), ("nonlinearity", {"nonlinearity": "relu"}, "tanh"),
    ("forget_bias", {}, 3.0), ("forget_bias", {"gate_init": "chrono"}, 3.0), ("gate_init", {}, "chrono"),
    ("chrono_tmax", {}, 7.0), ("chrono_tmax", {"gate_init": "chrono"}, 7.0), ("init", {}, "orthogonal"),
    ("init_gain", {}, 2.0), ("init_gain", {"init": "orthogonal"}, 2.0),
]  # fmt: skip


@pytest.mark.parametrize("model", model_names())
@pytest.mark.parametrize(("key", "base", "value"), CELL_SETTINGS)
def test_a_setting_refused_as_doing_nothing_changes_nothing(
    model: str, key: str, base: dict, value: object
) -> None:
    """The registry's word against the model built: a setting it calls idle leaves the parameters and
    the output as they were; one it lets through changes them, unless it restates what the cell is
    (each registered model, each setting)."""
    before = ModelConfig(name=model, **base)
    after = dataclasses.replace(before, **{key: value})
    try:
        for cfg in (before, after):
            model_cell(model).check_config(cfg, 20, model)
    except ConfigError:
        pytest.skip("a value this model refuses outright (validate)")
    x = torch.randint(0, 5, (4, 20), generator=torch.Generator().manual_seed(1))
    outs = []
    for cfg in (before, after):
        torch.manual_seed(0)
        net = build_model(cfg, 5, 6, 3, seq_len=20)
        outs.append((torch.cat([p.detach().flatten() for p in net.parameters()]), net(x)[0].detach()))
    same = all(torch.equal(a, b) for a, b in zip(*outs, strict=True))
    restates = key == "nonlinearity" and model_cell(model).nonlinearities == (value,)  # IndRNN's relu
    idle = idle_setting(model, key, after)
    assert same == (idle is not None or restates), idle


def test_recall_keys_is_its_own_task_everywhere(tmp_path: Path, compose_cfg) -> None:
    proc = run_script(["task=recall_keys", "steps=2", "seq_len=6", *SMALL], cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    (run_dir,) = (tmp_path / "outputs" / "runs").glob("*/*")
    assert run_dir.name.endswith("_recall_keys-rnn-seq6"), run_dir.name  # its TensorBoard run's name too
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["config"]["task"]["name"] == "recall_keys"
    assert hparam_values(compose_cfg("task=recall_keys"))["task"] == "recall_keys"  # the HParams table's
    # the same sequences as recall with distractors drawn from the keys, and a run saved so reads the same
    gen = [torch.Generator().manual_seed(3) for _ in range(2)]
    a, b = (
        make_task("recall_keys", 30).sample(64, gen[0]),
        make_task("recall", 30, distractors="keys").sample(64, gen[1]),
    )
    assert torch.equal(a.x, b.x) and torch.equal(a.y, b.y)
    old = {**metrics["config"], "task": {**metrics["config"]["task"], "name": "recall"}}
    cfg = compose_cfg("task=recall_keys", "seq_len=6")
    assert with_defaults(old, cfg)["task"] == dataclasses.asdict(cfg.task)


@pytest.mark.parametrize("task", sorted(REGISTRY))
def test_order_free_takes_every_task_the_training_command_takes(
    task: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """A table, or one line saying why the task has none (real-valued inputs, data to point at)."""
    assert (CONFIGS / "task" / f"{task}.yaml").is_file()  # the training command's name for it
    try:
        order_free.main([task, "24"])
    except SystemExit as stop:
        assert stop.code == 2
        err = capsys.readouterr().err.strip()
        assert err.startswith("error: ") and "\n" not in err, err
    else:
        assert capsys.readouterr().out.startswith("| T | integrator acc")


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (["seq_len", "50"], "error: seq_len: an override is key=value (seq_len=50?)"),
        (["-m", "seq_len=5,6", "clip", "1.0"], "error: clip: an override is key=value (clip=1.0?)"),
        (["--cfg", "jobb"], "error: --cfg jobb: choose one of job, hydra, all"),
        (["--cfg"], "error: --cfg: choose one of job, hydra, all"),
        (["--info", "confg"], "error: --info confg: choose one of all, config, defaults, defaults-tree, "
         "plugins, searchpath"),
        (["--cfg", "job", "seq_len=5"], None),
        (["--info", "config"], None),
        (["~clip"], None),
    ],
)  # fmt: skip
def test_a_word_without_equals_or_a_bad_flag_value_is_one_line(
    train_script: ModuleType, args: list[str], error: str | None
) -> None:
    assert train_script.cli.check_words(["train.py", *args], train_script.hydra_flags()) == error


def test_the_virtual_environment_is_ignored() -> None:
    root = TRAIN_SCRIPT.parents[1]
    ignored = subprocess.run(["git", "check-ignore", "-q", ".venv/bin/python"], cwd=root)
    assert ignored.returncode == 0


def test_the_readme_lands_on_the_point() -> None:
    """TensorBoard opens on the gradient view; the headline caption is at most 5 lines and names no
    issue or internal config; the long profile's time is the sum of its published wall times."""
    readme = (TRAIN_SCRIPT.parents[1] / "README.md").read_text()
    assert (
        "tensorboard --logdir outputs            # then open http://localhost:6006/?tagFilter=grad#timeseries"
        in readme
    )
    lines = readme.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("![") and "headline.png" in line) + 2
    caption = lines[start : lines.index("", start)]
    assert caption[0].startswith("*") and caption[-1].endswith("*") and len(caption) <= 5, caption
    assert not any(word in " ".join(caption) for word in ("issue", "rnn_tuned", "_tuned")), caption
    with (TRAIN_SCRIPT.parents[1] / "docs" / "study" / "memory" / "summary.csv").open() as f:
        times = [float(row["wall_time_s"]) for row in csv.DictReader(f) if row["wall_time_s"]]
    total = sum(times)
    said = f"The long profile's {len(times)} published runs took {total:,.0f} s ({total / 3600:.1f} hours)"
    assert said in " ".join(readme.split()), said
