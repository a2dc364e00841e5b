"""Summarise a finished sweep from what its jobs left on disk; nothing is re-run.

``write_report(sweep_dir)`` finds every job folder (one holding ``.hydra/``), reads its
``.hydra/overrides.yaml``, ``metrics.json`` and ``grad_norms.npz``, and writes:

* ``summary.csv``: a row per job (the swept keys, status, final metrics, steps to solve, gradient
  evidence: largest and final global norm, fraction of steps clipped, wall time);
* ``grouped.csv``: a row per group of jobs that differ only in ``seed`` (``rnn_scratch.study.aggregate``):
  n, the primary metric's median and its order-statistic interval, solved k/n with its exact interval,
  the Kaplan-Meier median sequences to solve, the views at initialisation and at the end;
* ``summary.md``: the settings every job shared, the task's solved rule, the metric by x and group as
  ``mean [lo, hi]; solved k/n [lo, hi]``, the per-group and per-job tables, the jobs missing or diverged;
* ``accuracy.png`` (``mse.png`` for the adding problem): the metric against x (``seq_len`` when swept,
  else the first numeric swept key), mean with its interval band and each seed a dot
  (``rnn_scratch.study.plots``);
* ``gradients.png``: ||dL/dh_t|| against T - t at initialisation and at the end, a thin line per seed
  and the median bold; ``solved.png``: the Kaplan-Meier fraction solved against training sequences;
  ``decay_vs_lyapunov.png``: gradient decay against lambda_1 per run (``rnn_scratch.study.evidence_plots``);
* ``losses.png``: training loss against step (moving average), median over seeds, band min..max.

A job folder without ``metrics.json`` is "missing" (not run, still running, or killed); one with an
unreadable file is "unreadable". Both are listed, never fatal. A tuning sweep (``+experiment=tune``:
a trial per job folder, its runs in ``<trial>/seed=<s>/``) is reported by its runs, a group per trial,
under a section on the tuning itself (``rnn_scratch.study.tuning``: trials, settings, objectives, best).
"""

from __future__ import annotations

from pathlib import Path

from rnn_scratch.study.aggregate import grouped_markdown, metric_label, pivot_markdown
from rnn_scratch.study.evidence import group_settings
from rnn_scratch.study.evidence_plots import plot_decay_vs_lyapunov, plot_gradients, plot_survival
from rnn_scratch.study.plots import plot_curves, plot_metric
from rnn_scratch.study.sweep import (  # the results library's sweep, re-exported for report's readers
    COLUMNS,
    Sweep,
    _fmt,
    analyse,
    brief,
    rows,
    shared_settings,
    swept_keys,
    write_csv,
    x_key,
)
from rnn_scratch.study.tuning import tuning_lines

__all__ = ["COLUMNS", "Sweep", "analyse", "brief", "markdown", "rows", "shared_settings", "swept_keys",
           "tables", "write_csv", "write_report", "write_sweep", "x_key"]  # fmt: skip

METRIC_FIGURE = {"eval_acc": "accuracy", "eval_mse": "mse", "eval_loss": "loss"}
METRIC_WORDS = {
    "eval_acc": "Final eval accuracy",
    "eval_mse": "Final eval MSE",
    "eval_loss": "Final eval loss",
}


def tables(sweep: Sweep) -> list[str]:
    """The grouped Markdown tables: the pivot (x by the other keys) and a row per group."""
    lines: list[str] = []
    others = [k for k in (sweep.groups[0].values if sweep.groups else {}) if k != sweep.x]
    cell = "median [95% CI] (range where n < 6), or median (seeds) where outcomes split"
    cell += "; solved k/n [95% exact]" if any(g.has_rule for g in sweep.groups) else ""
    if sweep.x is not None and sweep.groups:
        cols = f" and {', '.join(others)} (columns)" if others else ""
        label = metric_label(sweep.jobs, sweep.metric)  # the fresh eval's, where measured
        words = METRIC_WORDS[sweep.metric] + (f" (`{label}`)" if label != sweep.metric else "")
        lines += [f"{words} by {sweep.x} (rows){cols}: {cell}", ""]
        lines += [*pivot_markdown(sweep.groups, sweep.x, sweep.metric), ""]
    lines += ["Per group (seeds pooled):", "", *grouped_markdown(sweep.groups, sweep.metric)]
    return lines


VIEW_COLUMNS = ("grad_decay_init", "lyapunov_max_init", "grad_decay_final", "lyapunov_max_final")


def shown(path: Path, root: Path | None) -> str:
    """``path`` relative to ``root`` (a generated page carries no absolute path), else as given."""
    if root is None:
        return str(path)
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return path.name


def markdown(sweep: Sweep, root: Path | None = None) -> str:
    jobs, keys = sweep.jobs, sweep.keys
    shared = {k: v for k, v in jobs[0].overrides.items() if k not in keys} if jobs else {}
    lines = [f"# Sweep summary: `{shown(sweep.folder, root)}`", ""]
    if sweep.tuning is not None:
        lines += [*tuning_lines(sweep.tuning), ""]
    seeds = ", ".join(sweep.seeds)
    overrides = " ".join(f"`{k}={v}`" for k, v in shared.items()) or "none"
    swept = ", ".join(keys) or "nothing"
    what = "runs" if sweep.tuning else "jobs"
    lines.append(f"{len(jobs)} {what}; swept: {swept}; seeds: {seeds}; shared overrides: {overrides}")
    if sweep.config:
        lines += ["", f"Settings every job shared (from each job's config): {shared_settings(sweep)}"]
        if per_group := group_settings(sweep.groups, brief, keys):
            lines += ["", f"Settings by group: {'; '.join(per_group)}."]
    rules = sorted({str(j.metrics["solved_rule"]) for j in jobs if j.metrics.get("solved_rule")})
    if rules:  # RunRecord.solved, as metrics.json's "solved" and the sweep's last line count it
        k, n = sum(g.solved for g in sweep.groups), sum(len(g.finished) for g in sweep.groups)
        lines += ["", f"Solved: {'; '.join(rules)} at some eval (steps to solve: the first such eval step): "
                  f"{k} of {n} finished runs."]  # fmt: skip
    lines += ["", *tables(sweep)]
    header = [*keys, "status", sweep.metric, f"fresh_{sweep.metric}", "steps_to_solve", "sequences_to_solve",
              *VIEW_COLUMNS, "wall_time_s"]  # fmt: skip
    lines += ["", "Per job:", "", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row, job in zip(rows(jobs, keys), jobs, strict=True):
        views = [_fmt(job.metrics.get(k), 3) for k in VIEW_COLUMNS]
        cells = [*(str(row[k]) for k in keys), row["status"], _fmt(job.metrics.get(sweep.metric), 4),
                 _fmt(job.metrics.get(f"fresh_{sweep.metric}"), 4), _fmt(row["steps_to_solve"], 0),
                 _fmt(row["sequences_to_solve"], 0), *views, _fmt(row["wall_time_s"], 1)]  # fmt: skip
        lines.append("| " + " | ".join(cells) + " |")
    for status, bad in sweep.bad().items():
        lines += ["", f"**{status}** ({len(bad)}):", *(f"- `{shown(j.folder, sweep.folder)}`" for j in bad)]
    return "\n".join(lines) + "\n"


def write_report(
    sweep_dir: Path | str, out_dir: Path | str | None = None, root: Path | None = None, title: str = ""
) -> dict[str, Path]:
    """Write the summary files and figures into ``out_dir`` (default: ``sweep_dir``); return them by name.
    ``root``: paths in the page are shown relative to it; ``title``: what the figures' titles start with
    (default: the task's name).

    Raises ``FileNotFoundError`` when ``sweep_dir`` holds no job folder at all.
    """
    return write_sweep(analyse(sweep_dir), out_dir, root, title)


def write_sweep(
    sweep: Sweep, out_dir: Path | str | None = None, root: Path | None = None, title: str = "",
    from_table: bool = False, summary_md: bool = True,
) -> dict[str, Path]:  # fmt: skip
    """``write_report`` of a sweep already read (the study reads each sweep once per page build).
    ``from_table``: the sweep was read from ``summary.csv`` itself (``rnn_scratch.study.published``),
    which is kept as it is, and the figures that need the runs' curves (gradients, losses) are kept as
    drawn; ``summary_md``: also the Markdown summary (a study page is its preset's page instead)."""
    out = Path(out_dir) if out_dir is not None else sweep.folder
    out.mkdir(parents=True, exist_ok=True)
    written = {"csv": out / "summary.csv", "grouped": out / "grouped.csv"}
    if not from_table:
        write_csv(rows(sweep.jobs, sweep.keys), written["csv"])
    write_csv([g.row(sweep.metric) for g in sweep.groups], written["grouped"])
    if summary_md:
        written["md"] = out / "summary.md"
        written["md"].write_text(markdown(sweep, root))
    name = METRIC_FIGURE[sweep.metric]
    head = title or str((sweep.config or {}).get("task", {}).get("name", "sweep"))
    sizes = sorted({len(g.finished) for g in sweep.groups if g.finished}) or [len(sweep.seeds)]
    n = f"{sizes[0]} seeds" if len(sizes) == 1 else f"{sizes[0]}-{sizes[-1]} seeds a group"
    words = METRIC_WORDS[sweep.metric].lower()
    metric_title = f"{head}: {words} against {sweep.x} ({n}; a fresh eval set where measured)"
    if sweep.x is not None and plot_metric(
        sweep.groups, sweep.x, sweep.metric, out / f"{name}.png", metric_title
    ):
        written[name] = out / f"{name}.png"
    figures = {
        "gradients": lambda p: plot_gradients(
            sweep.groups, sweep.x, p, f"{head}: ||dL/dh_t|| against steps before the loss, at initialisation "
            f"and at the end ({n})"),
        "solved": lambda p: plot_survival(
            sweep.groups, p, f"{head}: fraction solved against training sequences (Kaplan-Meier, {n})"),
        "decay_vs_lyapunov": lambda p: plot_decay_vs_lyapunov(
            sweep.groups, p, f"{head}: backward view (gradient decay per step) against forward view (λ_1)"),
    }  # fmt: skip
    if from_table:  # no curves or probes in a table: those figures stay as the runs drew them
        del figures["gradients"]
    for key, draw in figures.items():
        if draw(out / f"{key}.png"):
            written[key] = out / f"{key}.png"
    if not from_table and plot_curves(sweep.groups, sweep.x, out / "losses.png", "losses", head):
        written["losses"] = out / "losses.png"
    return written
