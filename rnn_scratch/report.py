"""Summarise a finished sweep from what its jobs left on disk; nothing is re-run.

``write_report(sweep_dir)`` finds every job folder (one holding ``.hydra/``), reads its
``.hydra/overrides.yaml``, ``metrics.json`` and ``grad_norms.npz``, and writes:

* ``summary.csv`` and ``summary.md``: a row per job with the swept keys (the overrides whose value
  differs between jobs), status, final eval accuracy and loss, wall time; the Markdown adds the overrides
  every job shared, a table of accuracy by x and group, and the jobs that are missing or diverged;
* ``accuracy.png``: final eval accuracy against x (``seq_len`` when swept, else the first numeric swept
  key), a line per group (the other swept keys, e.g. clip), chance level dashed;
* ``grad_norms.png``: ||dL/dh_t|| against t at the last logged step (log scale), a panel per group and a
  line per x: how much of the loss's gradient, made at t = T, still reaches each earlier step;
* ``losses.png``: training loss against step (moving average), a panel per group, a line per x.

A job folder without ``metrics.json`` is "missing" (not run, still running, or killed); one with an
unreadable file is "unreadable". Both are listed, never fatal.
"""

from __future__ import annotations

import csv
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only, no display needed
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import yaml  # noqa: E402

COLUMNS = ("status", "eval_acc", "eval_loss", "train_loss", "chance_acc", "steps", "wall_time_s")
NOT_SWEPT = ("experiment", "name")  # override keys that never describe a job (hydra.* neither)


@dataclass
class Job:
    folder: Path
    overrides: dict[str, str]  # key -> value as typed on the command line or in a preset's sweep
    status: str  # completed | diverged | interrupted | missing | unreadable
    metrics: dict[str, Any] = field(default_factory=dict)
    profile: dict[str, np.ndarray] = field(default_factory=dict)  # grad_norms.npz: steps, h, c, loss


def find_jobs(sweep_dir: Path) -> list[Path]:
    """Every folder under ``sweep_dir`` (itself included) that holds Hydra's ``.hydra/``."""
    found = [p.parent for p in sweep_dir.rglob(".hydra") if p.is_dir()]
    return sorted(p for p in found if ".submitit" not in p.parts)


def parse_overrides(lines: list[str]) -> dict[str, str]:
    """``["+experiment=x", "seq_len=10", "clip=null"]`` -> ``{"seq_len": "10", "clip": "null"}``."""
    out = {}
    for line in lines:
        key, _, value = str(line).partition("=")
        key = key.lstrip("+~")
        if key.startswith(("hydra.", "hydra/")) or key in NOT_SWEPT:
            continue
        out[key] = value
    return out


def load_job(folder: Path) -> Job:
    try:
        lines = yaml.safe_load((folder / ".hydra" / "overrides.yaml").read_text()) or []
    except (OSError, yaml.YAMLError):
        lines = []
    job = Job(folder, parse_overrides(lines), "missing")
    if not (folder / "metrics.json").exists():
        return job
    try:
        job.metrics = json.loads((folder / "metrics.json").read_text())
        job.status = str(job.metrics.get("status", "unreadable"))
    except (OSError, ValueError):
        job.status = "unreadable"
        return job
    try:
        with np.load(folder / "grad_norms.npz") as npz:
            job.profile = {key: npz[key] for key in npz.files}
    except (OSError, ValueError):
        pass  # no curves for this job; its row stands
    return job


def swept_keys(jobs: list[Job]) -> list[str]:
    """Override keys whose value differs between jobs, in order of appearance (all keys for one job)."""
    keys = list(dict.fromkeys(k for job in jobs for k in job.overrides))
    if len(jobs) < 2:
        return keys
    return [k for k in keys if len({job.overrides.get(k) for job in jobs}) > 1]


def _number(text: str | None) -> float | None:
    try:
        value = float(text)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None


def _sort_key(value: str | None) -> tuple[int, float, str]:
    """Off first (null: no clipping), then numbers by value, then words."""
    if str(value).lower() in ("null", "none", ""):
        return (0, 0.0, "")
    number = _number(value)
    return (1, number, "") if number is not None else (2, 0.0, str(value))


def x_key(keys: list[str], jobs: list[Job]) -> str | None:
    """What the figures put on the x axis: seq_len if swept, else the first all-numeric swept key."""
    numeric = [k for k in keys if all(_number(j.overrides.get(k)) is not None for j in jobs)]
    return "seq_len" if "seq_len" in numeric else (numeric[0] if numeric else None)


def group_label(job: Job, keys: list[str]) -> str:
    return ", ".join(f"{k}={job.overrides.get(k, '')}" for k in keys) or "all runs"


def _fmt(value: Any, digits: int) -> str:
    return "" if value is None else f"{value:.{digits}f}" if isinstance(value, float) else str(value)


def rows(jobs: list[Job], keys: list[str]) -> list[dict[str, Any]]:
    out = []
    for job in jobs:
        row: dict[str, Any] = {"job": job.folder.name}
        row.update({k: job.overrides.get(k, "") for k in keys})
        row.update({c: job.metrics.get(c) for c in COLUMNS})
        row["status"] = job.status
        out.append(row)
    return out


def write_csv(table: list[dict[str, Any]], path: Path) -> None:
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(table[0]) if table else ["job", *COLUMNS])
        writer.writeheader()
        writer.writerows({k: "" if v is None else v for k, v in row.items()} for row in table)


def _brief(config: dict[str, Any]) -> dict[str, Any]:
    """The keys that say what a run was, from metrics.json's config."""
    section = {k: config.get(k) or {} for k in ("model", "task", "optim")}
    return {
        "model": section["model"].get("name"), "task": section["task"].get("name"),
        **{k: config.get(k) for k in ("seq_len", "hidden_size", "clip", "steps", "batch_size", "seed")},
        "optim": section["optim"].get("name"), "lr": section["optim"].get("lr"),
    }  # fmt: skip


def markdown(jobs: list[Job], keys: list[str], x: str | None, groups: list[str], sweep_dir: Path) -> str:
    shared = {k: v for k, v in jobs[0].overrides.items() if k not in keys} if jobs else {}
    lines = [f"# Sweep summary: `{sweep_dir}`", ""]
    lines.append(f"{len(jobs)} jobs; swept: {', '.join(keys) or 'nothing'}; shared overrides: "
                 + (" ".join(f"`{k}={v}`" for k, v in shared.items()) or "none"))  # fmt: skip
    config = next((j.metrics["config"] for j in jobs if isinstance(j.metrics.get("config"), dict)), None)
    if config:
        fixed = ", ".join(
            f"{k}={'null' if v is None else v}" for k, v in _brief(config).items() if k not in keys
        )
        lines += ["", f"Settings of every job (from the first finished job's config): {fixed}"]
    header = [*keys, "status", "eval_acc", "eval_loss", "wall_time_s"]
    lines += ["", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in rows(jobs, keys):
        cells = [*(str(row[k]) for k in keys), row["status"], _fmt(row["eval_acc"], 3),
                 _fmt(row["eval_loss"], 4), _fmt(row["wall_time_s"], 1)]  # fmt: skip
        lines.append("| " + " | ".join(cells) + " |")
    if x is not None and groups:
        labels = list(dict.fromkeys(group_label(j, groups) for j in jobs))
        xs = sorted({j.overrides[x] for j in jobs}, key=_sort_key)
        lines += ["", f"Final eval accuracy by {x} (rows) and {', '.join(groups)} (columns):", ""]
        lines += ["| " + " | ".join([x, *labels]) + " |", "|" + "---|" * (len(labels) + 1)]
        for xv in xs:
            acc = {group_label(j, groups): j.metrics.get("eval_acc") for j in jobs if j.overrides[x] == xv}
            lines.append("| " + " | ".join([xv, *(_fmt(acc.get(lab), 3) for lab in labels)]) + " |")
    for status in ("missing", "unreadable", "diverged", "interrupted"):
        bad = [j for j in jobs if j.status == status]
        if bad:
            lines += ["", f"**{status}** ({len(bad)}):", *(f"- `{j.folder.name}`" for j in bad)]
    return "\n".join(lines) + "\n"


def _grouped(jobs: list[Job], groups: list[str]) -> dict[str, list[Job]]:
    """Jobs by group label, in the order given (write_report sorts them by group, then x)."""
    out: dict[str, list[Job]] = {}
    for job in jobs:
        out.setdefault(group_label(job, groups), []).append(job)
    return out


def _panels(n: int, title: str) -> tuple[plt.Figure, list[plt.Axes]]:
    cols = min(n, 3)
    rows_ = math.ceil(n / cols)
    fig, axes = plt.subplots(
        rows_, cols, figsize=(4.2 * cols, 3.2 * rows_), dpi=90, squeeze=False, sharey=True
    )
    for ax in axes.flat[n:]:
        ax.set_visible(False)
    fig.suptitle(title)
    return fig, list(axes.flat[:n])


def _colours(n: int) -> list[Any]:
    return [plt.get_cmap("viridis")(v) for v in np.linspace(0.0, 0.9, max(n, 1))]


def _save(fig: plt.Figure, path: Path, bottom: float = 0.0) -> bool:
    fig.tight_layout(rect=(0, bottom, 1, 1))  # bottom: room for a footnote
    fig.savefig(path)
    plt.close(fig)
    return True


def plot_accuracy(by_group: dict[str, list[Job]], x: str, path: Path) -> bool:
    fig, ax = plt.subplots(figsize=(6, 4), dpi=90)
    drawn = False
    for label, members in by_group.items():
        done = [j for j in members if j.metrics.get("eval_acc") is not None]
        if not done:
            continue
        xs = [float(j.overrides[x]) for j in done]
        ax.plot(xs, [j.metrics["eval_acc"] for j in done], "o-", label=label)
        bad = [(xv, j.metrics["eval_acc"]) for xv, j in zip(xs, done, strict=True) if j.status == "diverged"]
        if bad:
            ax.plot(*zip(*bad, strict=True), "rx", markersize=10, label=f"diverged ({label})")
        drawn = True
    if not drawn:  # e.g. a regression task: no accuracy to plot
        plt.close(fig)
        return False
    for chance in {
        j.metrics["chance_acc"] for m in by_group.values() for j in m if "chance_acc" in j.metrics
    }:
        ax.axhline(chance, color="grey", linestyle="--", linewidth=1)
        ax.annotate("chance", (0.01, chance), xycoords=("axes fraction", "data"), va="bottom", color="grey")
    values = [v for m in by_group.values() for j in m if (v := _number(j.overrides[x])) is not None]
    if values and min(values) > 0 and max(values) / min(values) >= 8:
        ax.set_xscale("log")
        ax.set_xticks(sorted(set(values)), [f"{v:g}" for v in sorted(set(values))])
        ax.minorticks_off()
    ax.set_xlabel(x)
    ax.set_ylabel("final eval accuracy")
    ax.set_ylim(0, 1.05)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return _save(fig, path)


def _gradient_curve(job: Job) -> tuple[np.ndarray, np.ndarray] | None:
    """(t, ||dL/dh_t||) at the last logged step with a finite value (a diverged run's last is NaN)."""
    h = job.profile.get("h")
    finite = np.isfinite(h).any(axis=1).nonzero()[0] if h is not None and h.ndim == 2 else []
    if not len(finite):
        return None
    norms = h[finite[-1]]  # type: ignore[index]
    return np.arange(1, norms.size + 1), np.where(norms > 0, norms, np.nan)


def _loss_curve(job: Job) -> tuple[np.ndarray, np.ndarray] | None:
    loss = job.profile.get("loss")
    if loss is None or not loss.size:
        return None
    return np.arange(1, loss.size + 1), smooth(loss, max(1, loss.size // 50))


def smooth(values: np.ndarray, window: int) -> np.ndarray:
    """Trailing moving average; the first points average what there is so far."""
    if window <= 1 or values.size == 0:
        return values
    csum = np.cumsum(np.insert(values, 0, 0.0))
    idx = np.arange(1, values.size + 1)
    start = np.maximum(idx - window, 0)
    return (csum[idx] - csum[start]) / (idx - start)


def plot_curves(by_group: dict[str, list[Job]], x: str | None, path: Path, kind: str) -> bool:
    """``kind`` "grad_norms" or "losses": a panel per group, a line per job (coloured by x)."""
    curve = _gradient_curve if kind == "grad_norms" else _loss_curve
    if not any(curve(j) is not None for m in by_group.values() for j in m):
        return False  # e.g. only torch_* baselines: they expose no per-step gradient
    title = {"grad_norms": "||dL/dh_t|| at the end of training (loss at t = T)"}.get(kind, "training loss")
    fig, axes = _panels(len(by_group), title)
    gaps = False
    for ax, (label, members) in zip(axes, by_group.items(), strict=True):
        for colour, job in zip(_colours(len(members)), members, strict=True):
            if (xy := curve(job)) is not None:
                name = f"{x}={job.overrides.get(x)}" if x else job.folder.name
                ax.plot(*xy, color=colour, label=name)
                gaps |= bool(np.isnan(xy[1]).any())
        if kind == "grad_norms":
            ax.set_yscale("log")
        ax.set_title(label, fontsize=9)
        ax.set_xlabel("time step t" if kind == "grad_norms" else "step")
        ax.set_ylabel("||dL/dh_t||" if kind == "grad_norms" else "loss (moving average)")
        ax.grid(alpha=0.3)
        if ax.lines:
            ax.legend(fontsize=7)
    if gaps:  # a norm of exactly 0: no gradient reached the step (truncated BPTT), or a run older than
        # float64 norms, whose float32 squares underflowed below ~1e-21
        note = "A line that stops early: there ||dL/dh_t|| = 0 was recorded (not drawn on a log scale)."
        fig.text(0.01, 0.01, note, fontsize=7, color="grey")
    return _save(fig, path, bottom=0.05 if gaps else 0.0)


def write_report(sweep_dir: Path | str, out_dir: Path | str | None = None) -> dict[str, Path]:
    """Write the summary files and figures into ``out_dir`` (default: ``sweep_dir``); return them by name.

    Raises ``FileNotFoundError`` when ``sweep_dir`` holds no job folder at all.
    """
    sweep_dir = Path(sweep_dir)
    out = Path(out_dir) if out_dir is not None else sweep_dir
    folders = find_jobs(sweep_dir)
    if not folders:
        raise FileNotFoundError(f"no job folders (with .hydra/) under {sweep_dir}")
    out.mkdir(parents=True, exist_ok=True)
    jobs = [load_job(f) for f in folders]
    keys = swept_keys(jobs)
    x = x_key(keys, jobs)
    groups = [k for k in keys if k != x]
    jobs.sort(key=lambda j: [_sort_key(j.overrides.get(k)) for k in [*groups, *([x] if x else [])]])
    written = {"csv": out / "summary.csv", "md": out / "summary.md"}
    write_csv(rows(jobs, keys), written["csv"])
    written["md"].write_text(markdown(jobs, keys, x, groups, sweep_dir))
    finished = [j for j in jobs if j.metrics]
    by_group = _grouped(finished, groups)
    if x is not None and finished and plot_accuracy(by_group, x, out / "accuracy.png"):
        written["accuracy"] = out / "accuracy.png"
    for kind in ("grad_norms", "losses"):
        if finished and plot_curves(by_group, x, out / f"{kind}.png", kind):
            written[kind] = out / f"{kind}.png"
    return written
