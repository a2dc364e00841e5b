"""task=series: windows and targets, no leakage, the baselines, the shipped series, bad input.

Every CSV is written here into ``tmp_path``; the only file read from the package is the shipped series.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import ROOT
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from rnn_scratch.models.classifier import build_model
from rnn_scratch.tasks import Series, make_task
from rnn_scratch.tasks.forecast import fit_ar
from rnn_scratch.tasks.series import SHIPPED
from rnn_scratch.training.config import ConfigError, ModelConfig, validate


def write_csv(
    tmp_path: Path, values: list[str] | np.ndarray, name: str = "s.csv", header: str = "day,v"
) -> Path:
    path = tmp_path / name
    rows = [header] + [f"d{i},{v}" for i, v in enumerate(values)]
    path.write_text("\n".join(rows) + "\n")
    return path


def units(task: Series, z: torch.Tensor) -> np.ndarray:
    return z.double().numpy() * task.std + task.mean


def test_windows_targets_horizon_and_a_gap(tmp_path: Path) -> None:
    # v_i = i for i in 0..29, index 7 missing; split at floor(30 * 0.7) = 21
    values = [str(i) if i != 7 else "" for i in range(30)]
    task = make_task(
        "series", 4, path=str(write_csv(tmp_path, values)), horizon=2, eval_fraction=0.3, season=3
    )
    assert task.split == 21 and task.info["missing_values"] == 1
    # training targets t = i + 5 in [5, 20]: starts 0..15; those whose window [i, i+3] or target i+5 holds 7
    train = set(range(16)) - {4, 5, 6, 7, 2}
    assert sorted(task.train_starts.tolist()) == sorted(train)
    assert task.info["windows_train_dropped"] == 5 and task.info["windows_eval_dropped"] == 0
    batch = task.sample(64, torch.Generator().manual_seed(0))
    x, y = units(task, batch.x[..., 0]), units(task, batch.y[:, 0])
    assert batch.x.shape == (64, 4, 1) and batch.y.shape == (64, 1)
    np.testing.assert_allclose(y, x[:, -1] + 2, atol=1e-4)  # the value 2 steps after the window's end
    np.testing.assert_allclose(np.diff(x, axis=1), 1.0, atol=1e-4)  # consecutive, never across the gap
    assert (y <= 20 + 1e-4).all()  # every training target is before the split
    ev = task.eval_set(100, torch.Generator())
    np.testing.assert_allclose(
        units(task, ev.y[:, 0]), np.arange(21, 30), atol=1e-4
    )  # each held-out value once
    assert task.info["windows_eval"] == 9


def test_baselines_on_a_series_with_known_answers(tmp_path: Path) -> None:
    period = [1.0, 5.0, 2.0, 8.0]
    path = write_csv(tmp_path, np.tile(period, 30))
    task = make_task("series", 6, path=str(path), season=4)
    ev = task.eval_set(1000, torch.Generator())
    metrics = task.metrics(ev.y.clone(), ev.y)  # a perfect forecast
    assert metrics["mse"] == 0 and metrics["baseline_seasonal_mse"] < 1e-20
    # persistence: the mean squared step of the cycle (normalised)
    steps = (np.diff(np.tile(period, 2))[:4] / task.std) ** 2
    assert math.isclose(metrics["baseline_persistence_mse"], steps.mean(), rel_tol=1e-6)
    assert metrics["baseline_ar_mse"] < 1e-12  # a periodic series is an exact AR(4)
    assert task.baselines()["seasonal_in_window"]
    short = make_task("series", 3, path=str(path), season=4)  # the window does not reach a season back
    ev = short.eval_set(1000, torch.Generator())
    assert (
        "baseline_seasonal_mse" not in short.metrics(ev.y, ev.y)
        and not short.baselines()["seasonal_in_window"]
    )
    assert "baseline_ar_mse" not in short.metrics(ev.y.clone(), ev.y.clone())  # only on the eval set itself


def test_eval_part_used_neither_in_normalisation_nor_in_baselines(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    values = rng.normal(size=200).cumsum()
    a = make_task("series", 10, path=str(write_csv(tmp_path, values, "a.csv")), eval_fraction=0.25)
    values[150:] = rng.normal(size=50) * 1e3 + 1e4  # a wholly different held-out part
    b = make_task("series", 10, path=str(write_csv(tmp_path, values, "b.csv")), eval_fraction=0.25)
    assert a.split == b.split == 150
    assert (a.mean, a.std) == (b.mean, b.std)
    np.testing.assert_array_equal(a.ar_coef, b.ar_coef)
    np.testing.assert_array_equal(a.train_starts, b.train_starts)


def test_ar_recovers_the_coefficients_of_an_ar2_series(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    v = np.zeros(4000)
    for t in range(2, len(v)):
        v[t] = 0.6 * v[t - 1] - 0.3 * v[t - 2] + rng.normal()
    windows = np.stack([v[:-2], v[1:-1]], axis=1)
    coef = fit_ar(windows, v[2:], order=2)
    np.testing.assert_allclose(coef, [-0.3, 0.6, 0.0], atol=0.04)  # oldest first, then the intercept
    task = make_task("series", 8, path=str(write_csv(tmp_path, v)), ar_order=2)  # through the task
    np.testing.assert_allclose(task.ar_coef[:2], [-0.3, 0.6], atol=0.05)


@pytest.mark.parametrize("name", ["rnn", "lstm", "gru", "torch_rnn", "torch_lstm", "torch_gru"])
def test_every_model_reads_the_real_valued_windows(name: str) -> None:
    task = make_task("series", 12)  # the shipped series
    model = build_model(ModelConfig(name=name), task.input_size, 8, task.n_outputs)
    batch = task.sample(4, torch.Generator().manual_seed(0))
    out, _ = model(batch.x)
    task.loss(out, batch.y).backward()
    assert out.shape == (4, 1) and math.isfinite(out.sum().item())


def test_shipped_series_is_package_data() -> None:
    assert SHIPPED.is_file() and (SHIPPED.parent / "PROVENANCE.md").is_file()
    assert SHIPPED.read_text().splitlines()[0] == "month,sunspots"
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert '[tool.setuptools.package-data]\nrnn_scratch = ["data/*.csv", "data/*.md",' in pyproject


def test_a_tiny_run_on_the_shipped_series(train_run) -> None:
    proc, run_dir = train_run("task=series", "seq_len=12", "model=gru")
    assert proc.returncode == 0, proc.stderr
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["status"] == "completed" and metrics["series_length"] == 3120
    for key in ("eval_mse", "eval_baseline_persistence_mse", "eval_baseline_ar_mse"):
        assert isinstance(metrics[key], float) and metrics[key] > 0, key
    assert math.isclose(metrics["eval_mse_units"], metrics["eval_mse"] * metrics["norm_std"] ** 2)
    assert metrics["windows_eval"] == 624 and metrics["windows_eval_dropped"] == 0
    assert isinstance(metrics["windows_train_dropped"], int) and "eval_baseline_seasonal_mse" not in metrics
    assert (run_dir / "eval_forecast.png").stat().st_size > 0
    events = EventAccumulator(str(run_dir / "tb")).Reload()
    assert {"eval/mse", "eval/rmse_units", "eval/baseline_ar_mse"} <= set(events.Tags()["scalars"])
    assert "eval/forecast" in events.Tags()["images"]


def bad_case(tmp_path: Path, case: str) -> tuple[list[str], str, str]:
    """(overrides, key, a piece of the message) for one kind of bad input."""
    good = write_csv(tmp_path, np.arange(100.0))
    if case == "missing file":
        return [f"task.path={tmp_path / 'nope.csv'}"], "task.path", "nope.csv"
    if case == "empty file":
        (tmp_path / "empty.csv").write_text("")
        return [f"task.path={tmp_path / 'empty.csv'}"], "task.path", "empty.csv is empty"
    if case == "missing column":
        return [f"task.path={good}", "task.column=w"], "task.column", "no column 'w'"
    if case == "non-numeric":
        path = write_csv(tmp_path, ["1.5", "2", "abc", "4"] * 25, "text.csv")
        return [f"task.path={path}"], "task.column", "line 4: 'abc'"
    if case == "too short":  # 30 values: the 24 before the split cannot hold a window of 30 and a target
        return (
            [f"task.path={write_csv(tmp_path, np.arange(30.0), 'short.csv')}", "seq_len=30"],
            "task.path",
            "30 values",
        )
    if case == "gaps everywhere":  # long enough, but every other value is missing
        path = write_csv(tmp_path, ["" if i % 2 else str(i) for i in range(100)], "holes.csv")
        return [f"task.path={path}"], "task.path", "0 training and 0 eval windows"
    raise AssertionError(case)


@pytest.mark.parametrize(
    "case", ["missing file", "empty file", "missing column", "non-numeric", "too short", "gaps everywhere"]
)
def test_bad_input_stops_with_one_line(train_run, tmp_path: Path, case: str) -> None:
    overrides, key, needle = bad_case(tmp_path, case)
    proc, run_dir = train_run("task=series", "seq_len=10", *overrides)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {key}: ") and needle in lines[0], proc.stderr
    assert "s.csv" in lines[0] or "csv" in lines[0]  # names the file
    assert not (run_dir / "metrics.json").exists() and not (run_dir / "tb").exists()


@pytest.mark.parametrize(
    ("options", "key"),
    [
        ({"horizon": 0}, "task.horizon"),
        ({"eval_fraction": 1.0}, "task.eval_fraction"),
        ({"ar_order": 99}, "task.ar_order"),
    ],
)
def test_bad_options_name_their_key(options: dict, key: str) -> None:
    with pytest.raises(ConfigError, match=f"^{key}: "):
        make_task("series", 12, **options)


def test_the_preset_and_the_task_config_compose(compose_cfg) -> None:
    cfg = compose_cfg("+experiment=series")
    assert cfg.task.name == "series" and cfg.task.path is None and cfg.task.season == 132
    assert (cfg.hidden_size, cfg.steps, cfg.name) == (32, 600, "series")
    with pytest.raises(ConfigError, match="^task.horizon: "):
        validate(compose_cfg("task=series", "task.horizon=0"))


def test_the_page_says_where_each_baseline_stands() -> None:
    """A page with baselines says, whichever way it comes out, how many settings each one beats."""
    from rnn_scratch.study.aggregate import Group
    from rnn_scratch.study.pages.tables import baseline_counts, baselines
    from rnn_scratch.study.runs import Job
    from rnn_scratch.study.sweep import Sweep

    def job(mse: float, seq_len: int, ar: float, persistence: float) -> Job:
        metrics = {"status": "completed", "steps": 10, "eval_mse": mse, "eval_baseline_ar_mse": ar,
                   "eval_baseline_persistence_mse": persistence, "config": {"seq_len": seq_len}}  # fmt: skip
        return Job(Path("."), {}, "completed", metrics)

    groups = [
        Group("model=rnn", {"model": "rnn"}, [job(0.5, 24, 0.3, 0.9), job(0.7, 24, 0.3, 0.9)]),
        Group("model=lstm", {"model": "lstm"}, [job(0.1, 24, 0.3, 0.9), job(0.2, 24, 0.3, 0.9)]),
    ]
    sweep = Sweep(Path("."), [j for g in groups for j in g.jobs], ["model"], None, groups, "eval_mse")
    assert baselines(sweep).rows == [["24", "0.300", "0.900"]]
    found = {c["name"]: c for c in baseline_counts(sweep)}
    assert found["ar"]["beaten"] == ["model=rnn"] and found["ar"]["compared"] == 2
    assert found["persistence"]["beaten"] == [] and found["persistence"]["compared"] == 2
