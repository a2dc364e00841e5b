"""Seeds as an axis: jobs that differ only in ``seed`` form a group, summarised by statistics.

Per group (every other swept key fixed): n finished runs, the primary metric's mean, sd and 95%
Student-t CI (``rnn_scratch.study.stats``), the success rate k/n (a run is solved when it met its task's
solved rule at some eval: ``metrics.json``'s ``steps_to_solve`` is not null), the median steps to solve
over the solved runs (Hochreiter & Schmidhuber 1997 report this), the diverged count, and the gradient
evidence: the median over seeds of each run's largest global gradient norm (before clipping) and the
mean fraction of steps clipped.

The primary metric is ``eval_acc`` for classification tasks, ``eval_mse`` for the adding problem
(``eval_loss`` when neither was recorded). A diverged run counts in n and as unsolved; its metric is
its last eval before diverging (none if it diverged before the first eval).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from rnn_scratch.study.runs import Job
from rnn_scratch.study.stats import Summary, median, summarize

FINISHED = ("completed", "solved", "diverged")
METRICS = ("eval_acc", "eval_mse", "eval_loss")


def number(text: str | None) -> float | None:
    """A finite float from an override's text, else None."""
    try:
        value = float(text)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None


def sort_key(value: str | None) -> tuple[int, float, str]:
    """Off first (null: no clipping), then numbers by value, then words."""
    if str(value).lower() in ("null", "none", ""):
        return (0, 0.0, "")
    n = number(value)
    return (1, n, "") if n is not None else (2, 0.0, str(value))


def primary_metric(jobs: list[Job]) -> str:
    """The first of eval_acc, eval_mse, eval_loss that some finished job recorded."""
    for name in METRICS:
        if any(j.metrics.get(name) is not None for j in jobs):
            return name
    return "eval_loss"


@dataclass
class Group:
    """The runs that share every swept key but ``seed``."""

    label: str  # "model=lstm, seq_len=50" (or "all runs")
    values: dict[str, str]  # the swept keys' values but seed
    jobs: list[Job] = field(default_factory=list)

    @property
    def finished(self) -> list[Job]:
        return [j for j in self.jobs if j.status in FINISHED]

    def summary(self, metric: str) -> Summary:
        return summarize(j.metrics.get(metric) for j in self.finished)

    @property
    def has_rule(self) -> bool:
        """Whether the task defines "solved" (names and text do not)."""
        return any(j.metrics.get("solved_rule") for j in self.finished)

    @property
    def solved(self) -> int:
        return sum(j.metrics.get("steps_to_solve") is not None for j in self.finished)

    @property
    def diverged(self) -> int:
        return sum(j.status == "diverged" for j in self.finished)

    @property
    def median_steps(self) -> float | None:
        return median(j.metrics.get("steps_to_solve") for j in self.finished)

    @property
    def seeds(self) -> list[str]:
        return sorted(
            {j.overrides.get("seed", str(j.metrics.get("config", {}).get("seed"))) for j in self.jobs}
        )

    def success(self) -> str:
        """``3/3`` (k solved of n finished), ``-`` when the task has no solved rule."""
        return f"{self.solved}/{len(self.finished)}" if self.has_rule else "-"

    def cell(self, metric: str) -> str:
        """``mean ± CI (solved k/n)``: the grouped tables' entry."""
        text = self.summary(metric).text()
        return f"{text} ({self.success()})" if self.has_rule else text

    def row(self, metric: str) -> dict[str, Any]:
        """A grouped-CSV row."""
        s = self.summary(metric)
        return {
            **self.values,
            "n": len(self.finished),
            f"{metric}_mean": s.mean, f"{metric}_median": s.median, f"{metric}_ci_low": s.low,
            f"{metric}_ci_high": s.high,
            "solved": self.solved if self.has_rule else None,
            "success_rate": self.solved / len(self.finished) if self.has_rule and self.finished else None,
            "median_steps_to_solve": self.median_steps,
            "diverged": self.diverged,
            "grad_norm_max_median": median(j.metrics.get("grad_norm_max") for j in self.finished),
            "clipped_fraction_mean": summarize(j.metrics.get("clipped_fraction") for j in self.finished).mean,
            "wall_time_s_mean": summarize(j.metrics.get("wall_time_s") for j in self.finished).mean,
            "missing": len(self.jobs) - len(self.finished),
        }  # fmt: skip


def group_by_seed(jobs: list[Job], keys: list[str]) -> list[Group]:
    """Groups of ``jobs`` by every key of ``keys`` but ``seed``, in the jobs' order."""
    fixed = [k for k in keys if k != "seed"]
    groups: dict[tuple[str, ...], Group] = {}
    for job in jobs:
        values = {k: job.overrides.get(k, "") for k in fixed}
        key = tuple(values.values())
        if key not in groups:
            label = ", ".join(f"{k}={v}" for k, v in values.items()) or "all runs"
            groups[key] = Group(label, values)
        groups[key].jobs.append(job)
    return list(groups.values())


def _fmt(value: float | None, digits: int = 3) -> str:
    if value is None:
        return "-"
    return f"{value:.{digits}g}" if abs(value) >= 1e4 or 0 < abs(value) < 1e-2 else f"{value:.{digits}f}"


def grouped_markdown(groups: list[Group], metric: str) -> list[str]:
    """The grouped table: a row per group, ``mean ± CI`` of ``metric``, k/n, median steps to solve..."""
    keys = list(groups[0].values) if groups else []
    header = [*keys, "n", f"{metric} mean ± 95% CI", "solved", "median steps to solve", "diverged",
              "max grad norm (median)", "clipped steps", "wall s (mean)"]  # fmt: skip
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for g in groups:
        row = g.row(metric)
        steps = row["median_steps_to_solve"]
        cells = [*(g.values[k] for k in keys), str(row["n"]), g.summary(metric).text(), g.success(),
                 "-" if steps is None else f"{steps:g}", str(g.diverged), _fmt(row["grad_norm_max_median"]),
                 _fmt(row["clipped_fraction_mean"], 2), _fmt(row["wall_time_s_mean"], 1)]  # fmt: skip
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def pivot_markdown(groups: list[Group], x: str, metric: str) -> list[str]:
    """``metric`` as ``mean ± CI (solved k/n)``: x down the rows, the other keys across."""
    others = [k for k in (groups[0].values if groups else {}) if k != x]
    columns = list(dict.fromkeys(", ".join(f"{k}={g.values[k]}" for k in others) or metric for g in groups))
    xs = sorted({g.values[x] for g in groups}, key=sort_key)
    lines = ["| " + " | ".join([x, *columns]) + " |", "|" + "---|" * (len(columns) + 1)]
    for xv in xs:
        cells = {}
        for g in groups:
            if g.values[x] == xv:
                cells[", ".join(f"{k}={g.values[k]}" for k in others) or metric] = g.cell(metric)
        lines.append("| " + " | ".join([xv, *(cells.get(c, "") for c in columns)]) + " |")
    return lines
