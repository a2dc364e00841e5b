"""Seeds as an axis: jobs that differ only in ``seed`` form a group, summarised by statistics.

Per group (every other swept key fixed), with ``rnn_scratch.study.stats``:

* n finished runs and the primary metric: its median with an order-statistic interval (a range below
  n = 6), or, when the group's runs both solved and failed, the median and every seed's value. A
  run's metric is ``fresh_eval_<metric>`` when recorded (the final model on a fresh, larger eval set),
  else its last eval's;
* the success count k/n with its 95% exact interval (solved: ``Job.solved``, the rule met at an eval
  and confirmed by the fresh eval);
* time to solve in training sequences (steps x batch size), interval-censored between the last failing
  eval and the first passing one, runs that never solved right-censored at their budget: the
  Kaplan-Meier medians at both ends (None when fewer than half are estimated solved);
* the diverged count, the gradient evidence (median over seeds of each run's largest global gradient
  norm before clipping, mean fraction of steps clipped), and the forward and backward views at
  initialisation and at the end: fitted gradient decay, lambda_1, ln rho(W_hh), medians over seeds.

The primary metric is ``eval_acc`` for classification tasks, ``eval_mse`` for the adding problem
(``eval_loss`` when neither was recorded). A diverged run counts in n and as unsolved; its metric is
its last eval before diverging (none if it diverged before the first eval).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from rnn_scratch.study.runs import Job
from rnn_scratch.study.stats import (
    KaplanMeier,
    SolveTimes,
    Summary,
    kaplan_meier,
    median,
    proportion_ci,
    solve_times,
    success_text,
    summarize,
)  # fmt: skip
from rnn_scratch.training.record import Status

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


VIEWS = ("grad_decay", "lyapunov_max", "log_spectral_radius")  # each with _init and _final


def metric_value(job: Job, metric: str) -> float | None:
    """The job's ``metric``: on the fresh final eval set when it was measured, else the last eval's."""
    fresh = job.metrics.get(f"fresh_{metric}")
    return fresh if fresh is not None else job.metrics.get(metric)


def metric_label(jobs: list[Job], metric: str) -> str:
    """The name of what ``metric_value`` shows for ``jobs``: ``fresh_<metric>`` when every value came
    from the fresh eval, ``<metric>`` when none did, ``fresh_<metric> (else <metric>)`` when mixed."""
    fresh = {
        j.metrics.get(f"fresh_{metric}") is not None for j in jobs if metric_value(j, metric) is not None
    }
    if True not in fresh:
        return metric
    return f"fresh_{metric}" if False not in fresh else f"fresh_{metric} (else {metric})"


def time_to_solve(job: Job) -> tuple[float, bool] | None:
    """(training sequences, solved): ``Job.time_to_solve``, the censoring every table uses."""
    return job.time_to_solve


def solve_after_sequences(job: Job, at: float) -> float:
    """The training sequences at the last eval before the one that counted the run solved (its time
    to solve is in (this, ``at``]); ``at`` itself for a run that never solved."""
    bounds = job.solve_bounds
    batch = (job.metrics.get("config") or {}).get("batch_size")
    return at if bounds is None or not batch else float(bounds[0] * batch)


def k_n(jobs: list[Job]) -> tuple[int, int]:
    """(k solved, n finished) of ``jobs``: a diverged run counts in n, as unsolved."""
    done = [j for j in jobs if j.finished]
    return sum(j.solved for j in done), len(done)


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
        return [j for j in self.jobs if j.finished]

    def summary(self, metric: str) -> Summary:
        """The median and its order-statistic interval; every seed when outcomes split."""
        return summarize((metric_value(j, metric) for j in self.finished), split=self.split)

    @property
    def split(self) -> bool:
        """Some runs solved and some did not."""
        return self.has_rule and 0 < self.solved < len(self.finished)

    def km(self) -> KaplanMeier | None:
        """Fraction solved against training sequences (Kaplan-Meier); None without a rule or times."""
        times = [t for j in self.finished if (t := time_to_solve(j)) is not None]
        if not self.has_rule or not times:
            return None
        return kaplan_meier([t for t, _ in times], [s for _, s in times])

    def solve_times(self) -> SolveTimes | None:
        """The interval-censored times to solve as their two bounding Kaplan-Meier curves (the last
        failing eval, the first passing one); None without a rule or times."""
        found = [(j, t) for j in self.finished if (t := time_to_solve(j)) is not None]
        if not self.has_rule or not found:
            return None
        after = [solve_after_sequences(j, t) for j, (t, _) in found]
        return solve_times(after, [t for _, (t, _) in found], [s for _, (_, s) in found])

    def view(self, name: str) -> float | None:
        """Median over seeds of a per-run number of metrics.json (e.g. ``grad_decay_init``)."""
        return median(j.metrics.get(name) for j in self.finished)

    @property
    def has_rule(self) -> bool:
        """Whether the task defines "solved" (names and text do not)."""
        return any(j.metrics.get("solved_rule") for j in self.finished)

    @property
    def solved(self) -> int:
        return sum(j.solved for j in self.finished)

    @property
    def diverged(self) -> int:
        return sum(j.status == Status.DIVERGED for j in self.finished)

    @property
    def median_steps(self) -> float | None:
        return median(j.metrics.get("steps_to_solve") for j in self.finished if j.solved)

    @property
    def seeds(self) -> list[str]:
        return sorted(
            {j.overrides.get("seed", str(j.metrics.get("config", {}).get("seed"))) for j in self.jobs}
        )

    def success(self) -> str:
        """``3/3 [0.29, 1.00]`` (k solved of n finished, 95% exact), ``-`` when the task has no rule."""
        return success_text(self.solved, len(self.finished)) if self.has_rule else "-"

    def cell(self, metric: str) -> str:
        """``mean [lo, hi]; solved k/n [lo, hi]``: the pivot tables' entry."""
        text = self.summary(metric).text()
        return f"{text}; solved {self.success()}" if self.has_rule else text

    def row(self, metric: str) -> dict[str, Any]:
        """A grouped-CSV row."""
        s, km, times = self.summary(metric), self.km(), self.solve_times()
        lo_hi = (
            proportion_ci(self.solved, len(self.finished))
            if self.has_rule and self.finished
            else (None, None)
        )
        return {
            **self.values,
            "n": len(self.finished),
            "metric_shown": metric_label(self.finished, metric),  # fresh_<metric> or the last eval's
            f"{metric}_mean": s.mean, f"{metric}_median": s.median, f"{metric}_ci_low": s.low,
            f"{metric}_ci_high": s.high, f"{metric}_split": s.split,
            "solved": self.solved if self.has_rule else None,
            "success_rate": self.solved / len(self.finished) if self.has_rule and self.finished else None,
            "success_ci_low": lo_hi[0], "success_ci_high": lo_hi[1],
            "km_median_sequences_to_solve": None if km is None else km.median,
            "km_median_sequences_to_solve_early": None if times is None else times.early.median,
            "median_steps_to_solve": self.median_steps,
            **{f"{v}_{when}_median": self.view(f"{v}_{when}") for v in VIEWS for when in ("init", "final")},
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


def _pair(a: float | None, b: float | None, digits: int = 2) -> str:
    """``-0.51 → -0.45``: a value at initialisation and at the end."""
    if a is None and b is None:
        return "-"
    return " → ".join("-" if v is None else f"{v:+.{digits}f}" for v in (a, b))


def grouped_markdown(groups: list[Group], metric: str) -> list[str]:
    """The grouped table: a row per group: the metric's interval, k/n [exact], the Kaplan-Meier median
    sequences to solve, the forward and backward views (init → end), the gradient evidence."""
    keys = list(groups[0].values) if groups else []
    shown = metric_label([j for g in groups for j in g.finished], metric)
    header = [*keys, "n", f"{shown} (median [95% CI] or range, or seeds)", "solved k/n [95% exact]",
              "median sequences to solve (KM, interval-censored)", "diverged", "grad decay/step", "λ_1/step",
              "ln ρ(W_hh)",
              "max grad norm (median)", "clipped steps (fraction)", "wall s (mean)"]  # fmt: skip
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for g in groups:
        row = g.row(metric)
        km, times = g.km(), g.solve_times()
        km_text = (
            "-" if km is None or times is None
            else f">{km.horizon:g} (not reached)" if km.median is None else times.median_text()
        )  # fmt: skip
        views = [_pair(g.view(f"{v}_init"), g.view(f"{v}_final")) for v in VIEWS]
        cells = [*(g.values[k] for k in keys), str(row["n"]), g.summary(metric).text(), g.success(), km_text,
                 str(g.diverged), *views, _fmt(row["grad_norm_max_median"]),
                 _fmt(row["clipped_fraction_mean"], 2), _fmt(row["wall_time_s_mean"], 1)]  # fmt: skip
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def pivot_markdown(groups: list[Group], x: str, metric: str) -> list[str]:
    """``metric`` as ``mean [lo, hi]; solved k/n [lo, hi]``: x down the rows, the other keys across."""
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
