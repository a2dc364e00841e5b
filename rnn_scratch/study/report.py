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

import csv
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from rnn_scratch.study.aggregate import (
    Group,
    group_by_seed,
    grouped_markdown,
    metric_label,
    number,
    pivot_markdown,
    primary_metric,
    sort_key,
)  # fmt: skip
from rnn_scratch.study.evidence import group_settings
from rnn_scratch.study.evidence_plots import plot_decay_vs_lyapunov, plot_gradients, plot_survival
from rnn_scratch.study.plots import plot_curves, plot_metric
from rnn_scratch.study.runs import Job, find_jobs, load_job, machine_row
from rnn_scratch.study.tuning import Tuning, read_tuning, tuning_jobs, tuning_lines
from rnn_scratch.training.record import NOT_A_RESULT
from rnn_scratch.training.results import tuning_seeds

COLUMNS = (
    "status", "eval_acc", "eval_mse", "eval_loss", "fresh_eval_acc", "fresh_eval_mse", "fresh_eval_loss",
    "train_loss", "chance_acc", "steps", "steps_to_solve", "sequences_to_solve", "budget_sequences",
    "grad_norm_max", "grad_norm_final", "clipped_fraction", "grad_decay_init", "grad_decay_final",
    "lyapunov_max_init", "lyapunov_max_final", "log_spectral_radius_init", "log_spectral_radius_final",
    "saturation_init", "saturation_final", "wall_time_s",
)  # fmt: skip


def swept_keys(jobs: list[Job]) -> list[str]:
    """Override keys whose value differs between jobs, in order of appearance (all keys for one job)."""
    keys = list(dict.fromkeys(k for job in jobs for k in job.overrides))
    if len(jobs) < 2:
        return keys
    return [k for k in keys if len({job.overrides.get(k) for job in jobs}) > 1]


def x_key(keys: list[str], jobs: list[Job]) -> str | None:
    """The figures' x axis: seq_len if swept, else the first all-numeric swept key, else the last swept
    key (categories, e.g. clip); never seed."""
    candidates = [k for k in keys if k != "seed"]
    numeric = [k for k in candidates if all(number(j.overrides.get(k)) is not None for j in jobs)]
    if "seq_len" in numeric:
        return "seq_len"
    return numeric[0] if numeric else (candidates[-1] if candidates else None)


def _fmt(value: Any, digits: int) -> str:
    return "" if value is None else f"{value:.{digits}f}" if isinstance(value, float) else str(value)


def rows(jobs: list[Job], keys: list[str]) -> list[dict[str, Any]]:
    out = []
    for job in jobs:
        row: dict[str, Any] = {"job": job.folder.name}
        row.update({k: job.overrides.get(k, "") for k in keys})
        row.update({c: job.metrics.get(c) for c in COLUMNS})
        row["status"] = job.status
        rule = job.finished and job.metrics.get("solved_rule")
        row["solved"] = job.solved if rule else None  # the study's count (RunRecord.solved)
        row["lr"] = ((job.config.get("optim") or {}).get("lr")) if job.config else None  # the run's own lr
        code = job.metrics.get("code")
        row["code"] = code.get("hash") if isinstance(code, dict) else None  # the sources the run came from
        row.update(machine_row(job.metrics))  # where it ran: torch, processor, threads (pages name it)
        out.append(row)
    return out


def write_csv(table: list[dict[str, Any]], path: Path) -> None:
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(table[0]) if table else ["job", *COLUMNS])
        writer.writeheader()
        writer.writerows({k: "" if v is None else v for k, v in row.items()} for row in table)


def brief(config: dict[str, Any]) -> dict[str, Any]:
    """The keys that say what a run was, from metrics.json's config."""
    section = {k: config.get(k) or {} for k in ("model", "task", "optim")}
    return {
        "model": section["model"].get("name"), "task": section["task"].get("name"),
        **{k: config.get(k) for k in ("seq_len", "hidden_size", "clip", "steps", "batch_size", "seed")},
        "optim": section["optim"].get("name"), "lr": section["optim"].get("lr"),
        "momentum": section["optim"].get("momentum"),
        "init": section["model"].get("init"), "eval_size": config.get("eval_size"),
        "eval_every": config.get("eval_every"), "eval_schedule": config.get("eval_schedule"),
        "final_eval_size": config.get("final_eval_size"), "stop_when_solved": config.get("stop_when_solved"),
    }  # fmt: skip


@dataclass
class Sweep:
    """A sweep read back: its jobs (sorted), swept keys, x axis, seed groups and primary metric, and
    the values of each swept key in the order the sweep listed them (``sweep_order``)."""

    folder: Path
    jobs: list[Job]
    keys: list[str]
    x: str | None
    groups: list[Group]
    metric: str
    listed: dict[str, list[str]] = field(default_factory=dict)
    tuning: Tuning | None = None  # a tuning sweep: its jobs are the trials' runs, keyed by trial and seed

    @property
    def config(self) -> dict[str, Any] | None:
        """The first finished job's config (what every job shared but the swept keys)."""
        return next(
            (j.metrics["config"] for j in self.jobs if isinstance(j.metrics.get("config"), dict)), None
        )

    @property
    def seeds(self) -> list[str]:
        return sorted({s for g in self.groups for s in g.seeds}, key=sort_key)

    @property
    def compute_s(self) -> float:
        """Sum of the runs' wall_time_s: core-seconds, each run being one thread."""
        return float(sum(j.metrics.get("wall_time_s") or 0.0 for j in self.jobs))

    def bad(self) -> dict[str, list[Job]]:
        """Jobs that are not a finished result, by status (missing, unreadable, interrupted), and the
        diverged ones."""
        out: dict[str, list[Job]] = {}
        for status in NOT_A_RESULT:
            if found := [j for j in self.jobs if j.status == status]:
                out[status.value] = found
        return out


def sweep_order(sweep_dir: Path) -> dict[str, list[str]]:
    """The values of each swept key in the order the sweep listed them (Hydra's multirun.yaml: the
    preset's sweeper params, replaced by command-line sweeps); {} when unreadable."""
    try:
        hydra = (yaml.safe_load((sweep_dir / "multirun.yaml").read_text()) or {}).get("hydra", {})
    except (OSError, yaml.YAMLError):
        return {}
    listed = {str(k): str(v) for k, v in ((hydra.get("sweeper") or {}).get("params") or {}).items()}
    listed |= dict(
        str(o).lstrip("+").split("=", 1)
        for o in (hydra.get("overrides") or {}).get("task", [])
        if "=" in str(o)
    )
    return {k: v.split(",") for k, v in listed.items()}


def analyse(sweep_dir: Path | str) -> Sweep:
    """Read every job under ``sweep_dir``; raise ``FileNotFoundError`` when there is none."""
    sweep_dir = Path(sweep_dir)
    if tuning_seeds(sweep_dir):  # a group per trial, its tuning seeds pooled; no x axis
        tuning = read_tuning(sweep_dir)
        runs = tuning_jobs(tuning)
        groups = group_by_seed(runs, ["trial", "seed"])
        return Sweep(sweep_dir, runs, ["trial", "seed"], None, groups, primary_metric(runs), {}, tuning)
    folders = find_jobs(sweep_dir)
    if not folders:
        raise FileNotFoundError(f"no job folders (with .hydra/) under {sweep_dir}")
    jobs = [load_job(f) for f in folders]
    keys = swept_keys(jobs)
    x = x_key(keys, jobs)
    order = [*(k for k in keys if k not in (x, "seed")), *([x] if x else []), "seed"]
    listed = sweep_order(sweep_dir)

    def position(key: str, value: str | None) -> tuple[int, float, str]:
        """Words in the order the sweep listed them (model: rnn, lstm, gru), else ``sort_key``."""
        found = sort_key(value)
        if found[0] == 2 and value in listed.get(key, []):
            return (2, float(listed[key].index(value)), "")
        return found

    jobs.sort(key=lambda j: [position(k, j.overrides.get(k)) for k in order])
    groups = group_by_seed(jobs, [k for k in order if k in keys])
    return Sweep(sweep_dir, jobs, keys, x, groups, primary_metric(jobs), listed)


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


def shared_settings(sweep: Sweep) -> str:
    """The settings every finished job shared (each job's own config), but the swept keys."""
    configs = [brief(j.metrics["config"]) for j in sweep.jobs if isinstance(j.metrics.get("config"), dict)]
    if not configs:
        return "-"
    fixed = {
        k: v for k, v in configs[0].items()
        if k not in sweep.keys and k != "seed" and all(c.get(k) == v for c in configs)
    }  # fmt: skip
    return ", ".join(f"{k}={'null' if v is None else v}" for k, v in fixed.items())


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
    sweep: Sweep, out_dir: Path | str | None = None, root: Path | None = None, title: str = ""
) -> dict[str, Path]:
    """``write_report`` of a sweep already read (the study reads each sweep once per page build)."""
    out = Path(out_dir) if out_dir is not None else sweep.folder
    out.mkdir(parents=True, exist_ok=True)
    written = {"csv": out / "summary.csv", "grouped": out / "grouped.csv", "md": out / "summary.md"}
    write_csv(rows(sweep.jobs, sweep.keys), written["csv"])
    write_csv([g.row(sweep.metric) for g in sweep.groups], written["grouped"])
    written["md"].write_text(markdown(sweep, root))
    name = METRIC_FIGURE[sweep.metric]
    head = title or str((sweep.config or {}).get("task", {}).get("name", "sweep"))
    n = f"{len(sweep.seeds)} seeds"
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
    for key, draw in figures.items():
        if draw(out / f"{key}.png"):
            written[key] = out / f"{key}.png"
    if plot_curves(sweep.groups, sweep.x, out / "losses.png", "losses", head):
        written["losses"] = out / "losses.png"
    return written
