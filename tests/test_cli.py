"""``rnn_scratch.training.cli``: what ``scripts/train.py`` and ``scripts/sample.py`` do, called without
Hydra or a subprocess (the scripts themselves are run for real in test_train_script.py and
test_first_hour.py)."""

from __future__ import annotations

import dataclasses
import json
import logging
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import yaml
from conftest import CONFIGS, TINY, run_script

from rnn_scratch.errors import ConfigError
from rnn_scratch.training.checkpoint import load_trained
from rnn_scratch.training.cli import argv as cli
from rnn_scratch.training.cli import values
from rnn_scratch.training.cli.job import (
    Job,
    discard_refused,
    end_line,
    final_line,
    log_also_to,
    resume_command,
    run_job,
    share_the_machine,
)
from rnn_scratch.training.cli.sample import sample_text
from rnn_scratch.training.cli.usage import first_sentence, help_text, preset_about
from rnn_scratch.training.config import TrainConfig
from rnn_scratch.training.overrides import wrong_type

# --- usage: the choices and keys of --help -------------------------------------------------------------


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))


@pytest.fixture
def configs(tmp_path: Path) -> Path:
    """A small configs/ folder: two tasks, one model, a cell, two presets, train.yaml with a hydra: part."""
    root = tmp_path / "configs"
    write(root / "train.yaml", """\
        # The primary config.
        defaults:
          - train_schema
          - _self_
          - model: rnn
          - task: recall
        seq_len: 50        # characters per sequence
        clip: null         # no clipping
        nested:
          inner: 1         # not a top-level key

        hydra:
          job:
            config:
              override_dirname:
                exclude_keys: [name, device]
          later: 1         # after hydra: never listed
        """)  # fmt: skip
    for path in ("task/recall", "task/adding", "model/rnn", "cell/irnn", "hydra/launcher/slurm"):
        write(root / f"{path}.yaml", "name: x\n")
    write(root / "experiment" / "long.yaml", "# @package _global_\n# " + "word " * 30 + "end.\n")
    write(root / "experiment" / "short.yaml", """\
        # @package _global_
        # Claim: as in Le et al. 2015, e.g. with ReLU. Then more.
        """)  # fmt: skip
    return root


def test_help_groups_mark_defaults_and_list_presets(configs: Path) -> None:
    rows = help_text(configs, "groups").splitlines()
    assert rows[0] == "  task=            adding, recall*"
    assert rows[1] == "  model=           rnn*"
    assert rows[2] == "  optim=           "  # a group without files is listed, empty
    assert rows[3] == "  hydra/launcher=  slurm, joblib, submitit_local, submitit_slurm"
    assert rows[4] == "  +cell=           irnn (configs/cell/: a cell at its own init)"
    long_about = rows[5].removeprefix(f"  {'+experiment=long':<28}")
    assert long_about.endswith(" ...") and len(long_about) <= 90 and "end" not in long_about
    assert rows[6] == f"  {'+experiment=short':<28}Claim: as in Le et al. 2015, e.g. with ReLU"


def test_help_keys_are_train_yaml_top_level_keys(configs: Path) -> None:
    assert help_text(configs, "keys").splitlines() == [
        f"  {'seq_len=50':<24} characters per sequence",
        f"  {'clip=null':<24} no clipping",
        f"  {'nested=':<24} ",
    ]


def test_help_of_the_real_configs_names_every_preset_and_key() -> None:
    groups, keys = help_text(CONFIGS, "groups"), help_text(CONFIGS, "keys")
    for preset in (CONFIGS / "experiment").glob("*.yaml"):
        assert f"+experiment={preset.stem}" in groups
    top = yaml.safe_load((CONFIGS / "train.yaml").read_text())
    for key in set(top) - {"defaults", "hydra"}:
        assert f"  {key}=" in keys, key


@pytest.mark.parametrize(
    ("text", "first"),
    [
        ("One. Two.", "One"),
        ("Why? Because.", "Why?"),
        ("As Le et al. 2015, e.g. here, i.e. there. Next.", "As Le et al. 2015, e.g. here, i.e. there"),
        ("no full stop at all", "no full stop at all"),
        ("", ""),
    ],
)  # fmt: skip
def test_first_sentence(text: str, first: str) -> None:
    assert first_sentence(text) == first


def test_preset_about_stops_before_the_commands() -> None:
    text = "# @package _global_\n# Sweeps the cells\n#   python scripts/train.py -m +experiment=x. More.\n"
    assert preset_about(text) == "Sweeps the cells"


# --- argv: the command line before Hydra writes anything ------------------------------------------------


def one(key: str, *values: str, **kw: object) -> cli.Override:
    return cli.Override(key, values, **kw)  # type: ignore[arg-type]


def test_override_args_are_the_key_value_arguments() -> None:
    argv = ["train.py", "-m", "seq_len=5,6", "--cfg", "job", "+cell=irnn", "--hydra-help"]
    assert cli.override_args(argv) == ["seq_len=5,6", "+cell=irnn"]
    assert cli.is_multirun(argv) and cli.is_multirun(["x", "--multirun"]) and not cli.is_multirun(["x"])


@pytest.mark.parametrize(
    ("overrides", "error"),
    [
        ([one("seq_lenn", "10")], "seq_lenn: unknown key (did you mean seq_len?)"),
        ([one("model", "lstmm")], "model=lstmm: no such option (did you mean lstm?)"),
        ([one("model", "rnn", "gruu", sweep=True)], "model=gruu: no such option (did you mean gru?)"),
        ([one("model.forget_biass", "1")], "model.forget_biass: unknown key of model (did you mean forget_b"),
        ([one("seq_len", "5"), one("cell", "nope")], "cell=nope: no such option (known: gru, "),
    ],
)  # fmt: skip
def test_check_overrides_names_the_closest_known(overrides: list[cli.Override], error: str) -> None:
    assert (cli.check_overrides(overrides, CONFIGS) or "").startswith(f"error: {error}")


@pytest.mark.parametrize(
    "override",
    [
        one("seq_len", "10"),
        one("model", "lstm"),
        one("model", "rnn", "lstm", sweep=True),
        cli.Override("model", None, sweep=True),  # an interval or a glob: Hydra checks it
        one("hydra.run.dir", "x", hydra=True),
        one("hydra/launcher", "joblib", hydra=True),
        one("model", "null", delete=True),
        one("model", "nope", package="x"),  # Hydra reports a group under another package itself
    ],
)
def test_check_overrides_lets_through_what_is_known_or_hydras(override: cli.Override) -> None:
    assert cli.check_overrides([override], CONFIGS) is None
    assert cli.check_overrides(None, CONFIGS) is None  # unparsable: Hydra's own message


def test_a_sweep_is_named_by_the_keys_it_varies(configs: Path) -> None:
    argv = ["train.py", "-m", "hidden_size=4", "hidden_size=4,8", "seq_len=5", "name=x", "hydra.run.dir=d"]
    overrides = [
        one("hidden_size", "4"),
        one("hidden_size", "4", "8", sweep=True),
        one("seq_len", "5"),
        one("name", "x"),
        one("hydra.run.dir", "d", hydra=True),
    ]
    named = cli.name_jobs_by_swept_keys(argv, overrides, configs)
    # train.yaml's own keys first, then the single-valued ones given; the swept one never excluded
    assert named == [*argv, "hydra.job.config.override_dirname.exclude_keys=['name','device','seq_len']"]


def test_folder_naming_leaves_other_commands_alone(configs: Path) -> None:
    single = ["train.py", "seq_len=5"]
    assert cli.name_jobs_by_swept_keys(single, [one("seq_len", "5")], configs) == single
    given = ["train.py", "-m", "seq_len=5,6", "hydra.job.config.override_dirname.exclude_keys=[]"]
    assert cli.name_jobs_by_swept_keys(given, [], configs) == given
    assert cli.name_jobs_by_swept_keys(["train.py", "-m", "seq_len=("], None, configs)[-1] == "seq_len=("


def test_run_and_sweep_folder_labels() -> None:
    assert cli.run_label(None, "recall", "gru", 6) == "recall-gru-seq6"
    assert cli.run_label("mine", "recall", "gru", 6) == "mine"
    assert cli.suffix(None) == "" and cli.suffix("vanishing") == "_vanishing"


def finished_run(folder: Path, cfg) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    config = json.loads(json.dumps(dataclasses.asdict(cfg), default=str))
    (folder / "metrics.json").write_text(json.dumps({"status": "completed", "config": config}))


def test_check_run_dir_refuses_a_folder_holding_another_run(tmp_path: Path, compose_cfg) -> None:
    folder = tmp_path / "old"
    finished_run(folder, compose_cfg("seq_len=5"))
    composed: list[list[str]] = []

    def compose(overrides: list[str]):
        composed.append(overrides)
        return compose_cfg(*overrides)

    argv = ["train.py", "seq_len=6", "+hydra.job.chdir=false", f"hydra.run.dir={folder}"]
    error = cli.check_run_dir(argv, compose)
    assert error is not None and error.startswith(f"error: hydra.run.dir: {folder} already holds")
    assert "of another config (seq_len=5)" in error
    assert composed == [["seq_len=6"]]  # Hydra's own keys are not the run's config
    same = ["train.py", "seq_len=5", "skip_completed=true", f"hydra.run.dir={folder}"]  # returns its metrics
    assert cli.check_run_dir(same, compose) is None
    # nothing to check: a sweep, a fresh folder, no folder given; a config that does not compose
    assert cli.check_run_dir(["train.py", "-m", "seq_len=6", f"hydra.run.dir={folder}"], compose) is None
    assert cli.check_run_dir(["train.py", f"hydra.run.dir={tmp_path / 'new'}"], compose) is None
    assert cli.check_run_dir(["train.py", "seq_len=6"], compose) is None
    assert len(composed) == 2
    assert cli.check_run_dir(["train.py", "seq_len=abc", f"hydra.run.dir={folder}"], compose) is None


def test_check_run_dir_refuses_a_resume_with_nothing_to_resume(tmp_path: Path, compose_cfg) -> None:
    compose = lambda overrides: compose_cfg(*overrides)  # noqa: E731
    assert cli.check_run_dir(["train.py", "resume=true"], compose) == (
        "error: resume: nothing to resume: pass resume=<run folder>"  # a fresh folder holds no run
    )
    empty = ["train.py", "resume=yes", f"hydra.run.dir={tmp_path / 'new'}"]
    assert cli.check_run_dir(empty, compose) == (
        f"error: resume: nothing to resume in {tmp_path / 'new'}: pass resume=<run folder>"
    )
    assert not (tmp_path / "new").exists()
    finished_run(tmp_path / "old", compose_cfg("seq_len=5"))  # metrics.json, no checkpoint
    error = cli.check_run_dir(["train.py", "seq_len=5", f"resume={tmp_path / 'old'}"], compose)
    assert error == f"error: resume: no checkpoint.pt in {tmp_path / 'old'}"
    assert cli.check_run_dir(["train.py", "resume=false"], compose) is None


# --- values: every value of a sweep, before its first job -----------------------------------------------


def sweep_of(*overrides: cli.Override) -> list[list[str]]:
    jobs, _ = values.jobs_to_check(list(overrides), lambda o: o.key == "model")
    return [[values.as_given(s) for s in job] for job in jobs]


def test_a_small_sweep_checks_every_job() -> None:
    jobs, every = values.jobs_to_check(
        [one("seq_len", "5", "6", sweep=True), one("model", "rnn", "lstm", sweep=True), one("steps", "9")],
        lambda o: o.key == "model",
    )
    assert every and [[values.as_given(s) for s in job] for job in jobs] == [
        ["seq_len=5", "model=rnn", "steps=9"], ["seq_len=5", "model=lstm", "steps=9"],
        ["seq_len=6", "model=rnn", "steps=9"], ["seq_len=6", "model=lstm", "steps=9"],
    ]  # fmt: skip
    assert values.varied(jobs[1]) == "seq_len=5 model=lstm"  # the swept keys name a job


def test_a_large_sweep_checks_each_value_with_the_others_at_their_first() -> None:
    many = tuple(str(n) for n in range(1, 101))
    jobs = sweep_of(one("seq_len", *many, sweep=True), one("hidden_size", "4", "8", "16", sweep=True))
    assert len(jobs) == 1 + 99 + 2  # not the 300 of the product
    assert ["seq_len=100", "hidden_size=4"] in jobs and ["seq_len=1", "hidden_size=16"] in jobs
    # groups compose: past 8 distinct compositions, each value alone
    options = ("rnn", "lstm", "gru", "irnn", "indrnn", "torch_rnn", "torch_lstm", "torch_gru")
    jobs = sweep_of(one("model", *options, sweep=True), one("seq_len", "5", "6", sweep=True))
    assert len(jobs) == 16  # 8 compositions: the product
    jobs = sweep_of(one("model", *options, "x", sweep=True), one("seq_len", "5", "6", sweep=True))
    assert len(jobs) == 1 + 8 + 1


def test_a_sweep_is_merged_as_hydras_sweeper_merges_it() -> None:
    """A preset's params first, the command line's last value of a key winning at its first place;
    Hydra's keys and sweeps only Hydra can list (an interval) are no job's config."""
    preset = [one("seq_len", "10", "25", sweep=True), one("seed", "0", "1", sweep=True)]
    given = [
        one("seq_len", "5O"), one("+experiment", "vanishing", key_element="+experiment"),
        one("hydra/launcher", "joblib", hydra=True), cli.Override("optim.lr", None, sweep=True),
    ]  # fmt: skip
    jobs = sweep_of(*preset, *given)
    assert jobs == [
        ["seq_len=5O", "seed=0", "+experiment=vanishing"],
        ["seq_len=5O", "seed=1", "+experiment=vanishing"],
    ]
    assert values.composes(one("experiment", "x", key_element="+experiment"), CONFIGS)
    assert values.composes(one("model", "lstm"), CONFIGS) and not values.composes(
        one("seq_len", "5"), CONFIGS
    )


@pytest.mark.parametrize(
    ("key", "given", "error"),
    [
        ("seq_len", "abc", "seq_len: must be an integer, got 'abc'"),
        ("steps", 1.5, "steps: must be an integer, got '1.5'"),
        ("clip", "yes", "clip: must be a number or null, got 'yes'"),
        ("hidden_size", 12.0, "hidden_size: must be an integer, got '12.0'"),
        ("stop_when_solved", "maybe", "stop_when_solved: must be true or false, got 'maybe'"),
        ("optim.lr", "1e-3x", "optim.lr: must be a number, got '1e-3x'"),
        ("heatmap_range", ["a", 0], "heatmap_range: must be a list of numbers or null, got \"['a', 0]\""),
        ("task.n_classes", "x", "task.n_classes: must be an integer, got 'x'"),
    ],
)
def test_a_value_of_the_wrong_type_is_named_with_the_type_its_key_takes(key: str, given, error: str) -> None:
    """The error OmegaConf raises when a job sets the value (as Hydra sets it) becomes one line."""
    from omegaconf import OmegaConf

    cfg = OmegaConf.structured(TrainConfig)
    with pytest.raises(Exception) as raised:
        OmegaConf.update(cfg, key, given, merge=True)
    job = ((one(key, str(given)), str(given)),)
    assert values.refusal(raised.value, job, "recall") == error
    assert (
        values.refusal(ConfigError("seq_len", "must be > 0, got -5"), job, None)
        == "seq_len: must be > 0, got -5"
    )
    assert values.refusal(RuntimeError("not a value"), job, None) is None  # Hydra reports it


def test_wrong_type_reads_the_tasks_own_schema() -> None:
    assert wrong_type("task.horizon", "x", "series") == "task.horizon: must be an integer, got 'x'"
    assert wrong_type("task.eval_fraction", "x", None) == "task.eval_fraction: must be a number, got 'x'"
    assert wrong_type("model.truncate", "x") == "model.truncate: must be an integer or null, got 'x'"


# --- job: one run from its config to its exit ----------------------------------------------------------


def test_final_line_puts_baselines_beside_their_metric() -> None:
    metrics = {
        "status": "completed", "eval_acc": 0.98765, "eval_loss": 0.05, "eval_mse": None,
        "chance_acc": 0.125, "majority_acc": 0.25, "train_acc": 0.5, "names_duplicate": 3,
    }  # fmt: skip
    assert final_line(metrics) == "eval_acc=0.9877 (chance 0.125, majority 0.25) eval_loss=0.05"


def test_the_last_line_says_the_step_reached_and_the_last_metrics() -> None:
    config = {"steps": 1500}
    done = {"status": "completed", "steps": 1500, "eval_acc": 1.0, "chance_acc": 0.125, "config": config}
    assert end_line(done) == "completed: eval_acc=1 (chance 0.125)"  # as the README shows it
    early = {"status": "interrupted", "steps": 37, "eval_acc": None, "train_loss": 2.07, "config": config}
    assert end_line(early) == "interrupted at step 37 of 1500: no eval yet (last train_loss=2.07)"
    at_once = {"status": "interrupted", "steps": 0, "eval_acc": None, "config": config}
    assert end_line(at_once) == "interrupted at step 0 of 1500: no eval yet, no metrics yet"
    solved = {**done, "status": "solved", "steps": 250}
    assert end_line(solved) == "solved at step 250 of 1500: eval_acc=1 (chance 0.125)"


def test_resume_command_continues_the_same_run(tmp_path: Path) -> None:
    given = ["seq_len=5", "name=my run", "resume=false", "hydra.run.dir=elsewhere"]
    command = resume_command(given, tmp_path / "run")
    folder = tmp_path / "run"
    assert command == f'python scripts/train.py seq_len=5 "name=my run" resume=true hydra.run.dir={folder}'


def test_discard_refused_removes_only_hydras_files(tmp_path: Path) -> None:
    day = tmp_path / "runs" / "2026-01-01"
    refused = day / "12-00-00_a"
    (refused / ".hydra").mkdir(parents=True)
    (refused / "train.log").write_text("")
    discard_refused(refused, multirun=False)
    assert not day.exists()  # the day's folder went with its only run
    kept = tmp_path / "runs" / "kept"
    (kept / ".hydra").mkdir(parents=True)
    (kept / "metrics.json").write_text("{}")
    discard_refused(kept, multirun=False)
    assert (kept / "metrics.json").exists()
    job = tmp_path / "sweep" / "seq_len=0"
    (job / ".hydra").mkdir(parents=True)
    discard_refused(job, multirun=True)
    assert not job.exists() and (tmp_path / "sweep").is_dir()  # a sweep's folder stays


def test_log_also_to_copies_the_lines_in_hydras_format(tmp_path: Path) -> None:
    root = logging.getLogger()
    first = logging.FileHandler(tmp_path / "first.log")
    first.setFormatter(logging.Formatter("[%(name)s] %(message)s"))
    root.handlers.insert(0, first)  # as Hydra's file handler (pytest adds one of its own after it)
    before = list(root.handlers)
    (tmp_path / "other").mkdir()
    try:
        log_also_to(tmp_path / "other")
        logging.getLogger("rnn_scratch").warning("hello")
    finally:
        for handler in set(root.handlers) - set(before) | {first}:
            handler.close()
            root.removeHandler(handler)
    assert (tmp_path / "other" / "train.log").read_text() == "[rnn_scratch] hello\n"


def test_sweep_jobs_share_the_cores(compose_cfg, tmp_path: Path) -> None:
    cfg = compose_cfg("device=cpu")
    assert share_the_machine(cfg, Job(tmp_path)) == cfg  # a single run: as configured
    joblib = Job(tmp_path, num=1, sweep_dir=tmp_path, launcher="hydra_plugins.x.JoblibLauncher", n_jobs=2)
    assert share_the_machine(cfg, joblib).threads is None  # a run's default: one torch thread
    alone = Job(tmp_path, num=1, sweep_dir=tmp_path, launcher="hydra_plugins.x.JoblibLauncher", n_jobs=1)
    assert share_the_machine(cfg, alone).threads is None  # not cores // 1: other work may share them
    submitit = Job(tmp_path, num=0, launcher="hydra_plugins.submitit.X", cpus_per_task=3)
    assert share_the_machine(cfg, submitit).threads == 3
    assert share_the_machine(compose_cfg("device=cpu", "threads=5"), joblib).threads == 5
    assert (
        share_the_machine(cfg, Job(tmp_path, num=0, launcher="hydra._internal.BasicLauncher")).threads is None
    )


def test_job_swept_keys_leave_out_the_excluded() -> None:
    job = Job(Path("."), num=0, override_keys=["seq_len", "name", "clip"], exclude_keys=["name"])
    assert job.swept_keys() == ["seq_len", "clip"] and job.multirun and not Job(Path(".")).multirun


def test_run_job_without_hydra(compose_cfg, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """A notebook can run a job: the metrics and the final line, a refused config as exit 2 without a
    folder, and the run's model back from its folder (not a text run: no sampling)."""
    run = tmp_path / "run"
    run.mkdir()
    with caplog.at_level(logging.INFO, logger="rnn_scratch"):
        acc = run_job(compose_cfg(*TINY, "seq_len=5", "device=cpu"), Job(run))
    metrics = json.loads((run / "metrics.json").read_text())
    assert acc == metrics["eval_acc"] and metrics["status"] == "completed"
    assert f"completed: {final_line(metrics)} in " in caplog.text and str(run) in caplog.text
    model, task, cfg = load_trained(run)
    assert cfg["seq_len"] == 5 and not model.training and task.n_outputs == 8
    with pytest.raises(ConfigError, match="trained task=recall, not text"):
        sample_text(run, length=3)
    with pytest.raises(ConfigError, match="no checkpoint.pt in"):
        load_trained(tmp_path)

    refused = tmp_path / "day" / "refused"
    (refused / ".hydra").mkdir(parents=True)
    cfg_bad = dataclasses.replace(compose_cfg(*TINY, "device=cpu"), steps=0)
    with pytest.raises(SystemExit) as exit_:
        run_job(cfg_bad, Job(refused))
    assert exit_.value.code == 2 and not (tmp_path / "day").exists()


def test_a_refused_resume_writes_nothing_into_the_folder_it_names(
    compose_cfg, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    run = tmp_path / "run"
    run.mkdir()
    run_job(compose_cfg(*TINY, "seq_len=5", "device=cpu"), Job(run))
    (run / "train.log").write_text("the run's own log\n")
    before = {p.name: p.stat().st_mtime_ns for p in run.rglob("*")}
    other = tmp_path / "other"
    (other / ".hydra").mkdir(parents=True)
    cfg = compose_cfg(*TINY, "seq_len=5", "hidden_size=16", "device=cpu", f"resume={run}")
    with caplog.at_level(logging.INFO, logger="rnn_scratch"), pytest.raises(SystemExit) as exit_:
        run_job(cfg, Job(other))
    assert exit_.value.code == 2
    assert (run / "train.log").read_text() == "the run's own log\n"  # no "resuming the run in ..."
    assert {p.name: p.stat().st_mtime_ns for p in run.rglob("*")} == before
    assert "resuming" not in caplog.text and not other.exists()


def test_a_sweeps_runs_are_its_jobs_and_each_carries_its_experiment(compose_cfg, tmp_path: Path) -> None:
    """TensorBoard's own reader lists the jobs, not the sweep's root, as runs; its HParams plugin finds
    the sweep's experiment, the swept keys first and marked."""
    from tensorboard import context
    from tensorboard.backend.event_processing import data_provider, plugin_event_multiplexer
    from tensorboard.plugins import base_plugin
    from tensorboard.plugins.hparams import api_pb2, backend_context, get_experiment

    sweep = tmp_path / "sweep"
    for num, seq_len in enumerate((5, 6)):
        job = Job(sweep / f"seq_len={seq_len}", num=num, sweep_dir=sweep, override_keys=["seq_len", "steps"],
                  exclude_keys=["steps"])  # fmt: skip
        (job.out_dir / ".hydra").mkdir(parents=True)
        run_job(compose_cfg(*TINY, f"seq_len={seq_len}", "device=cpu", "threads=1"), job)
    mux = plugin_event_multiplexer.EventMultiplexer().AddRunsFromDirectory(str(sweep))
    mux.Reload()
    assert sorted(mux.Runs()) == ["seq_len=5/tb", "seq_len=6/tb"]  # not the root "."
    tb = base_plugin.TBContext(data_provider=data_provider.MultiplexerDataProvider(mux, str(sweep)))
    handler = get_experiment.Handler(
        context.RequestContext(), backend_context.Context(tb), "", api_pb2.GetExperimentRequest()
    )
    experiment = handler.run()
    assert experiment.hparam_infos[0].name == "seq_len" and experiment.hparam_infos[0].differs
    assert not any(info.differs for info in experiment.hparam_infos[1:])
    assert {m.name.tag for m in experiment.metric_infos} >= {"eval/acc", "eval/loss"}


# --- a bare --help answers before torch and Hydra load ------------------------------------------------


def test_a_bare_help_is_hydras_help_page_word_for_word(tmp_path: Path) -> None:
    """``--help`` alone takes the fast path (``usage.help_page``); with an override beside it Hydra composes
    and prints its help from the same template: the two pages are the same."""
    fast = run_script(["--help"], cwd=tmp_path)
    hydra = run_script(["--help", "seq_len=50"], cwd=tmp_path)
    assert fast.returncode == hydra.returncode == 0
    assert fast.stdout == hydra.stdout and "== Choices" in fast.stdout and "copy" in fast.stdout


def test_importing_the_package_does_not_import_torch() -> None:
    code = "\n".join([
        "import sys, rnn_scratch", "assert 'torch' not in sys.modules", "rnn_scratch.LSTM",
        "assert 'torch' in sys.modules",
    ])  # fmt: skip
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
