"""``rnn_scratch.training.cli``: what ``scripts/train.py`` and ``scripts/sample.py`` do, called without
Hydra or a subprocess (the scripts themselves are run for real in test_train_script.py and
test_first_hour.py)."""

from __future__ import annotations

import dataclasses
import json
import logging
import textwrap
from pathlib import Path

import pytest
import yaml
from conftest import CONFIGS, TINY

from rnn_scratch.errors import ConfigError
from rnn_scratch.training.checkpoint import load_trained
from rnn_scratch.training.cli import argv as cli
from rnn_scratch.training.cli.job import (
    Job,
    discard_refused,
    final_line,
    log_also_to,
    resume_command,
    run_job,
    share_the_machine,
)
from rnn_scratch.training.cli.sample import sample_text
from rnn_scratch.training.cli.usage import first_sentence, help_text, preset_about
from rnn_scratch.training.parallel import available_cpus

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


# --- job: one run from its config to its exit ----------------------------------------------------------


def test_final_line_puts_baselines_beside_their_metric() -> None:
    metrics = {
        "status": "completed", "eval_acc": 0.98765, "eval_loss": 0.05, "eval_mse": None,
        "chance_acc": 0.125, "majority_acc": 0.25, "train_acc": 0.5, "names_duplicate": 3,
    }  # fmt: skip
    assert final_line(metrics) == "eval_acc=0.9877 (chance 0.125, majority 0.25) eval_loss=0.05"


def test_resume_command_continues_the_same_run(tmp_path: Path) -> None:
    given = ["seq_len=5", "name=my run", "resume=false", "hydra.run.dir=elsewhere"]
    command = resume_command(given, tmp_path / "run")
    folder = tmp_path / "run"
    assert command == f"python scripts/train.py seq_len=5 'name=my run' resume=true hydra.run.dir={folder}"


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
    assert share_the_machine(cfg, joblib).threads == max(1, available_cpus() // 2)
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
