"""Figures that read (issue 27): every figure the study code makes, drawn from synthetic run folders, then
its matplotlib Figure inspected for the rules of ``rnn_scratch.study.figure_rules``.

Three sweeps written into tmp_path the way a run writes them (``metrics.json``, ``grad_norms.npz``):

* ``horizon``: 4 cells x 3 lengths x 2 seeds (12 groups, more than a legend holds), one run's lambda_1 at
  -600 (the outlier that flattened the stability figure), one run's loss reaching 1e13 (a divergence);
* ``literature``: temporal order at T = 100 and adding at T = 200, 3 seeds each: the accuracy figure has
  one x value (its seed dots once sat at 97 and 103 on a numeric axis);
* ``series``: 2 models x T = 12, 132 (a log x), eval MSE about 0.2 (under one decade on a log y), with
  the task's persistence and AR(p) baselines measured on the eval set.

The horizon and memory pages' success-against-T figures are drawn from outcomes of the same runs.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import matplotlib.figure
import numpy as np
import pytest
import yaml

from rnn_scratch.study.horizon import horizon, outcomes, plot_horizons
from rnn_scratch.study.pages import memory_figures
from rnn_scratch.study.report import analyse, write_sweep

CELLS, LENGTHS, SEEDS = ("rnn", "lstm", "gru", "irnn"), (10, 20, 50), (0, 1)


def write_job(sweep: Path, overrides: dict[str, Any], metrics: dict[str, Any], loss: np.ndarray) -> None:
    folder = sweep / ",".join(f"{k}={v}" for k, v in overrides.items())
    (folder / ".hydra").mkdir(parents=True)
    (folder / ".hydra" / "overrides.yaml").write_text(
        yaml.safe_dump([f"{k}={v}" for k, v in overrides.items()])
    )
    (folder / "metrics.json").write_text(json.dumps(metrics))
    T = int(metrics["config"]["seq_len"])
    decay = np.exp(-0.1 * np.arange(T)[::-1])  # ||dL/dh_t||, largest next to the loss
    np.savez(
        folder / "grad_norms.npz",
        steps=np.arange(loss.size), loss=loss, h=np.tile(decay, (loss.size, 1)),
        probe_steps=np.array([0, loss.size - 1]), probe_h=np.stack([decay, decay**0.5]),
    )  # fmt: skip


def config(task: str, model: str, T: int, seed: int) -> dict[str, Any]:
    return {"seq_len": T, "hidden_size": 16, "clip": None, "steps": 200, "batch_size": 8, "seed": seed,
            "task": {"name": task}, "model": {"name": model}, "optim": {"name": "adam"}}  # fmt: skip


def horizon_sweep(root: Path) -> Path:
    sweep = root / "horizon"
    rng = np.random.default_rng(0)
    for i, cell in enumerate(CELLS):
        for T in LENGTHS:
            for seed in SEEDS:
                solved = T == 10 or (seed == 0 and T in LENGTHS[: i + 1])
                lam = -600.0 if (cell, T, seed) == ("rnn", 50, 1) else -0.5 + 0.1 * i + 0.01 * rng.normal()
                loss = np.linspace(2.0, 0.05 if solved else 1.9, 200)
                if (cell, T, seed) == ("irnn", 50, 0):
                    loss[100:120] = 1e13  # a divergence, then back
                metrics = {
                    "status": "solved" if solved else "completed", "eval_acc": 0.95 if solved else 0.3,
                    "steps": 200, "steps_to_solve": 100 if solved else None, "budget_sequences": 1600,
                    "sequences_to_solve": 800 if solved else None, "solved_rule": "eval_acc >= 0.9",
                    "chance_acc": 0.125, "grad_decay_init": lam + 0.05, "lyapunov_max_init": lam,
                    "grad_decay_final": -0.2 + 0.02 * i, "lyapunov_max_final": -0.25 + 0.02 * i,
                    "config": config("recall", "rnn", T, seed),
                }  # fmt: skip
                write_job(sweep, {"+cell": cell, "seq_len": T, "seed": seed}, metrics, loss)
    return sweep


def literature_sweep(root: Path) -> Path:
    """As the literature preset: each (task, cell) at its own length, so each panel has one T."""
    sweep = root / "literature"
    for task, T in (("temporal_order", 100), ("adding", 200)):
        for seed in range(3):
            score = {"eval_acc": 0.93 + 0.03 * seed} if task == "temporal_order" else {"eval_mse": 0.1}
            metrics = {"status": "solved", **score, "steps": 200, "steps_to_solve": 150,
                       "sequences_to_solve": 1200, "budget_sequences": 1600, "solved_rule": "eval_acc >= 0.9",
                       "chance_acc": 0.25, "config": config(task, "lstm", T, seed)}  # fmt: skip
            overrides = {"task": task, "+cell": "lstm", "seq_len": T, "seed": seed}
            write_job(sweep, overrides, metrics, np.linspace(1.4, 0.1, 200))
    return sweep


def series_sweep(root: Path) -> Path:
    sweep = root / "series"
    for model in ("rnn", "gru"):
        for T in (12, 132):
            for seed in range(3):
                mse = 0.2 + 0.01 * seed + (0.02 if model == "rnn" else 0.0)
                metrics = {"status": "completed", "eval_mse": mse, "steps": 200,
                           "eval_baseline_persistence_mse": 0.31, "eval_baseline_ar_mse": 0.26 - T / 1000,
                           "config": config("series", model, T, seed)}  # fmt: skip
                write_job(
                    sweep, {"model": model, "seq_len": T, "seed": seed}, metrics, np.linspace(1, mse, 200)
                )
    return sweep


@pytest.fixture(scope="module")
def figures(tmp_path_factory: pytest.TempPathFactory) -> dict[str, matplotlib.figure.Figure]:
    """Every figure drawn, by '<sweep>/<name>', the Figure object as it was saved (then kept open here)."""
    root = tmp_path_factory.mktemp("study")
    drawn: dict[str, matplotlib.figure.Figure] = {}
    original = matplotlib.figure.Figure.savefig

    def keep(fig: matplotlib.figure.Figure, path: Any, *args: Any, **kwargs: Any) -> None:
        original(fig, path, *args, **kwargs)
        drawn[f"{Path(path).parent.name}/{Path(path).stem}"] = fig

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(matplotlib.figure.Figure, "savefig", keep)
        for make in (horizon_sweep, literature_sweep, series_sweep):
            sweep = make(root / "runs")
            write_sweep(analyse(sweep), root / "docs" / sweep.name)
        results = outcomes(analyse(root / "runs" / "horizon").jobs)
        found = [horizon(results, cell, resamples=20) for cell in CELLS]
        plot_horizons(results, found, root / "docs" / "horizon" / "horizon.png", "horizon")
        single = [r for r in outcomes(analyse(root / "runs" / "literature").jobs) if r.T == 100]
        plot_horizons(
            single, [horizon(single, "lstm", resamples=20)], root / "docs" / "literature" / "horizon.png", "T"
        )
        tasks = [{"name": "recall", "words": "recall", "results": results, "cells": list(CELLS),
                  "order_free": {"best": 0.4}},
                 {"name": "temporal_order", "words": "temporal order", "results": single, "cells": ["lstm"],
                  "order_free": {"best": 0.5}}]  # fmt: skip
        (root / "docs" / "memory").mkdir()
        labels = {c: c for c in CELLS}
        memory_figures.headline(tasks, list(CELLS), labels, root / "docs" / "memory" / "memory.png")
        memory_figures.solve_times(tasks, list(CELLS), labels, root / "docs" / "memory" / "solved.png")
    for fig in drawn.values():
        fig.canvas.draw()  # the layout as saved, for the extents below
    return drawn


EXPECTED = {
    *(f"horizon/{n}" for n in ("accuracy", "gradients", "solved", "decay_vs_lyapunov", "losses", "horizon")),
    *(f"literature/{n}" for n in ("accuracy", "gradients", "solved", "losses", "horizon")),
    *(f"series/{n}" for n in ("mse", "gradients", "losses")),
    "memory/memory",
    "memory/solved",
}


def _axes(fig: matplotlib.figure.Figure) -> list[Any]:
    return [ax for ax in fig.axes if ax.get_visible()]


def _visible_labels(ax: Any, axis: str) -> list[str]:
    """The tick labels of ``axis`` that are drawn: inside the view and with text."""
    which = ax.yaxis if axis == "y" else ax.xaxis
    lo, hi = sorted(ax.get_ylim() if axis == "y" else ax.get_xlim())
    ticks = [*which.get_major_ticks(), *which.get_minor_ticks()]
    return [
        t.label1.get_text()
        for t in ticks
        if t.label1.get_visible() and t.label1.get_text() and lo <= t.get_loc() <= hi
    ]


def test_every_figure_is_drawn(figures: dict[str, matplotlib.figure.Figure]) -> None:
    assert set(figures) >= EXPECTED


def test_legends_sit_outside_every_axes(figures: dict[str, matplotlib.figure.Figure]) -> None:
    for name, fig in figures.items():
        boxes = [ax.get_window_extent() for ax in _axes(fig)]
        legends = [ax.get_legend() for ax in _axes(fig) if ax.get_legend() is not None] + fig.legends
        for legend in legends:
            box = legend.get_window_extent()
            assert not any(box.overlaps(ax) for ax in boxes), f"{name}: a legend covers a panel"
        # and the panels keep a readable size beside their legends
        assert all(b.width / fig.dpi > 1.5 for b in boxes), f"{name}: a panel squeezed by its legend"


def test_many_groups_split_into_panels(figures: dict[str, matplotlib.figure.Figure]) -> None:
    fig = figures["horizon/decay_vs_lyapunov"]
    assert len(_axes(fig)) == len(CELLS)  # a panel per cell, a colour per length
    assert all(len(ax.get_legend().get_texts()) <= len(LENGTHS) + 1 for ax in _axes(fig))


def test_one_outlier_does_not_set_the_range(figures: dict[str, matplotlib.figure.Figure]) -> None:
    fig = figures["horizon/decay_vs_lyapunov"]
    for ax in _axes(fig):
        lo, hi = ax.get_xlim()
        assert lo > -5 and hi < 5, "the run at lambda_1 = -600 sets the x axis"
    texts = " ".join(t.get_text() for t in fig.texts)
    assert "1 point beyond the axes" in texts
    marked = [
        c for ax in _axes(fig) for c in ax.collections if c.get_offsets().shape[0] and not c.get_clip_on()
    ]
    assert len(marked) == 1 and np.isclose(marked[0].get_offsets()[0][0], fig.axes[0].get_xlim()[0])


def test_losses_on_log_axes_with_labels(figures: dict[str, matplotlib.figure.Figure]) -> None:
    for name in ("horizon/losses", "literature/losses", "series/losses", "series/mse"):
        for ax in _axes(figures[name]):
            assert ax.get_yscale() == "log", name
            if ax.get_subplotspec().is_first_col():  # panels to its right share its y
                assert len(_visible_labels(ax, "y")) >= 2, f"{name}: a log axis without tick labels"


def test_a_single_value_of_x_is_not_spread(figures: dict[str, matplotlib.figure.Figure]) -> None:
    ax = _axes(figures["literature/accuracy"])[0]
    assert _visible_labels(ax, "x") == ["100"]
    assert np.isclose(sum(ax.get_xlim()) / 2, 100)
    for name in ("literature/horizon", "memory/memory"):
        ax = _axes(figures[name])[-1]
        assert _visible_labels(ax, "x") == ["100"], name
        lo, hi = ax.get_xlim()  # centred on its one length, a factor of 2 either side
        assert np.isclose(np.sqrt(lo * hi), 100) and hi / lo <= 4.01, (
            f"{name}: one length over {lo:.0f}..{hi:.0f}"
        )


def test_the_headline_bars_do_not_hide_each_other(figures: dict[str, matplotlib.figure.Figure]) -> None:
    """Only split points (some seeds solved) carry their own interval bar; the interval of every point at
    n/n or 0/n is drawn once per panel, in grey at the right; the axis names the interval it draws."""
    fig = figures["memory/memory"]
    ax = _axes(fig)[0]
    assert "95% exact" in ax.get_ylabel()
    grey = [c for c in ax.collections if np.allclose(c.get_color()[0][:3], 0.55)]
    assert len(grey) == 1  # the shared interval: one pair of bars per panel
    for bars in (c for c in ax.collections if c not in grey):
        for segment in bars.get_segments():  # a split point's bar: its rate strictly between 0 and 1
            (x0, y0), (x1, y1) = segment
            assert 0 <= y0 < y1 <= 1 and not (y0 == 0 and y1 == 1)
    legend = " ".join(t.get_text() for t in fig.legends[0].get_texts())
    assert "95% exact interval" in legend


def test_series_baselines_are_drawn(figures: dict[str, matplotlib.figure.Figure]) -> None:
    ax = _axes(figures["series/mse"])[0]
    labels = {line.get_label() for line in ax.lines}
    assert {"baseline: persistence", "baseline: AR(p)"} <= labels
    ar = next(line for line in ax.lines if line.get_label() == "baseline: AR(p)")
    assert np.allclose(sorted(ar.get_ydata()), [0.26 - 132 / 1000, 0.26 - 12 / 1000])
    lo, hi = ax.get_ylim()
    assert lo < 0.2 and hi > 0.31  # the runs and the baselines both in view


def test_every_group_is_drawn_past_ten_colours(tmp_path: Path) -> None:
    """Twelve settings on a categorical x (the contest's): twelve legend entries, none dropped when the
    ten colours run out (the colours repeat with other marks)."""
    from rnn_scratch.study.aggregate import Group
    from rnn_scratch.study.plots import plot_metric, plt
    from rnn_scratch.study.runs import Job

    def run(i: int, seed: int) -> Job:
        metrics = {"status": "completed", "steps": 10, "eval_acc": 0.1 * (i % 10), "config": {"seed": seed}}
        return Job(tmp_path, {"tuned": f"s{i}", "task": "recall", "seed": str(seed)}, "completed", metrics)

    groups = [
        Group(f"tuned=s{i}", {"tuned": f"s{i}", "task": "recall"}, [run(i, 0), run(i, 1)]) for i in range(12)
    ]
    drawn: list[Any] = []
    save = matplotlib.figure.Figure.savefig

    def keep(fig: matplotlib.figure.Figure, *args: Any, **kwargs: Any) -> None:
        drawn.append(fig)
        save(fig, *args, **kwargs)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(matplotlib.figure.Figure, "savefig", keep)
        assert plot_metric(groups, "task", "eval_acc", tmp_path / "accuracy.png")
    (ax,) = [a for a in drawn[0].axes if a.get_legend() is not None]
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == [f"tuned=s{i}" for i in range(12)]
    plt.close("all")


def losses_drawn(sweep: Path, out: Path) -> list[matplotlib.figure.Figure]:
    """The figures ``plot_curves`` saves drawing the losses of the runs in ``sweep`` to ``out`` (each kept
    as it was saved, to read its lines back)."""
    from rnn_scratch.study.plots import plot_curves

    saved: list[matplotlib.figure.Figure] = []
    original = matplotlib.figure.Figure.savefig
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(
            matplotlib.figure.Figure,
            "savefig",
            lambda fig, *a, **k: (saved.append(fig), original(fig, *a, **k)),
        )
        found = analyse(sweep)
        assert plot_curves(found.groups, found.x, out, "losses")
    return saved


def test_copy_losses_are_drawn_against_the_memoryless_loss(tmp_path: Path) -> None:
    """Copy's loss curves carry the memoryless line, ln 8 (Arjovsky et al.'s baseline); other tasks' do
    not (the horizon sweep's recall runs)."""
    from rnn_scratch.tasks.copy import MEMORYLESS_LOSS

    sweep = tmp_path / "chrono"
    for cell in ("lstm", "lstm_constant"):
        for seed in range(2):
            metrics = {"status": "completed", "eval_acc": 0.2, "steps": 200, "budget_sequences": 1600,
                       "config": config("copy", "lstm", 520, seed)}  # fmt: skip
            write_job(sweep, {"+cell": cell, "seed": seed}, metrics, np.linspace(2.2, 1.6, 200))

    def floor_labels(found: Path) -> list[str]:
        """The labels of the horizontal lines at ln 8 in the losses figure drawn from ``found``."""
        saved = losses_drawn(found, tmp_path / f"{found.name}.png")
        lines = [line for fig in saved for ax in fig.axes for line in ax.lines]
        return [str(ln.get_label()) for ln in lines if np.allclose(ln.get_ydata(), MEMORYLESS_LOSS)]

    assert floor_labels(sweep) == ["memoryless: ln 8 = 2.079"]
    assert floor_labels(horizon_sweep(tmp_path / "other")) == []


def test_a_loss_median_stops_where_the_first_seed_stops_and_the_rest_go_on_alone(tmp_path: Path) -> None:
    """Runs stop when solved: seeds that stopped at steps 100, 150 and 200. The median (and its band)
    covers the 100 steps all three trained; the two seeds still training are drawn alone from there, so
    no median jumps as a seed leaves it."""
    import matplotlib.pyplot as plt

    sweep = tmp_path / "stops"
    for seed, steps in enumerate((100, 150, 200)):
        metrics = {"status": "solved", "eval_acc": 0.95, "steps": steps, "budget_sequences": 1600,
                   "config": config("copy", "lstm", 30, seed)}  # fmt: skip
        write_job(sweep, {"+cell": "lstm", "seed": seed}, metrics, np.full(steps, 1.0 + seed))
    (ax,) = [a for fig in losses_drawn(sweep, tmp_path / "losses.png") for a in fig.axes if a.lines]
    drawn = [(ln.get_xdata()[0], ln.get_xdata()[-1], ln.get_ydata()[-1]) for ln in ax.lines[:3]]
    assert drawn == [(1, 100, 2.0), (100, 150, 2.0), (100, 200, 3.0)]  # median of 1, 2, 3; then seeds 1, 2
    plt.close("all")


def test_copy_panels_name_arjovskys_t_the_blanks_to_bridge() -> None:
    """Copy's T is Arjovsky's (blanks between the last symbol and the marker; seq_len = T + 20), so its
    memory panels say so; the other tasks' T is the sequence length."""
    import matplotlib.pyplot as plt

    from rnn_scratch.study.pages import memory_figures

    fig, (copy, recall) = plt.subplots(1, 2)
    memory_figures._axis(copy, [10, 100, 500], "copy")
    memory_figures._axis(recall, [10, 100, 500], "recall_keys")
    assert copy.get_xlabel() == "T: blanks to bridge (log scale)"
    assert recall.get_xlabel() == "sequence length T (log scale)"
    plt.close(fig)


def test_a_metric_title_counts_the_seeds_each_group_has(tmp_path: Path) -> None:
    """Groups of 3 and of 5 seeds (adding's quick cells beside its long IndRNN): the title says 3-5 seeds a
    group, not the 5 of the largest."""
    from rnn_scratch.study.report import write_sweep

    sweep = tmp_path / "mixed"
    for model, seeds in (("rnn", 3), ("lstm", 5)):
        for seed in range(seeds):
            metrics = {"status": "completed", "eval_acc": 0.5, "steps": 20, "budget_sequences": 160,
                       "config": config("recall", model, 10, seed)}  # fmt: skip
            write_job(sweep, {"model": model, "seed": seed}, metrics, np.full(20, 1.0))
    titles: list[str] = []
    original = matplotlib.figure.Figure.savefig
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(
            matplotlib.figure.Figure,
            "savefig",
            lambda fig, *a, **k: (titles.append(fig._suptitle.get_text() if fig._suptitle else ""),
                                  original(fig, *a, **k)),
        )  # fmt: skip
        write_sweep(analyse(sweep), tmp_path / "out")
    assert any("(3-5 seeds a group;" in t for t in titles), titles


def test_a_log_axis_labels_values_no_closer_than_a_fifth_of_a_decade() -> None:
    """The memory grid refines to ratios of 1.36-1.41 near a horizon: the labels skip the lengths that
    would print over their neighbour, and the longest is always labelled."""
    from rnn_scratch.study.figure_rules import readable

    lengths = [10, 20, 27, 37, 50, 71, 100, 141, 200, 271, 368, 500, 707, 1000]
    assert readable(lengths) == [10, 20, 37, 71, 141, 271, 500, 1000]
    assert readable([10, 100, 1000]) == [10, 100, 1000]
    assert readable([10, 20, 27]) == [10, 27]  # the longest replaces a neighbour too close to it
