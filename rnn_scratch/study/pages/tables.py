"""A preset page's compact tables, computed from its sweep (``rnn_scratch.study.report.Sweep``).

* ``pivots``: the metric (median [interval]; solved k/n [95% exact]) with x down the rows and the other
  keys' groups across, split by the first other key (a table per task) and then by columns, so none is
  wider than ``render.MAX_COLUMNS``;
* ``groups``: a row per group (n, metric, solved, Kaplan-Meier time to solve, diverged, the views at
  initialisation and at the end); left to ``grouped.csv`` when there are more than ``MOST_ROWS`` groups;
* ``contrasts``: the contrast family's rows; ``baselines``: a task's own baselines by length.
"""

from __future__ import annotations

from statistics import mean

from rnn_scratch.study.aggregate import VIEWS, Group, metric_value, sort_key
from rnn_scratch.study.evidence import Contrast
from rnn_scratch.study.render import Table, number, split_columns
from rnn_scratch.study.stats import median, p_text
from rnn_scratch.study.sweep import Sweep

MOST_ROWS = 30  # a longer per-group table stays in grouped.csv, which the page links


def _pair(a: float | None, b: float | None) -> str:
    """``-0.51 → -0.45``: a value at initialisation and at the end."""
    if a is None and b is None:
        return "-"
    return " → ".join("-" if v is None else f"{v:+.2f}" for v in (a, b))


def pivots(sweep: Sweep) -> list[Table]:
    """The metric by x (rows) and the other key's groups (columns): a table per value of the first other
    key when there are two or more; turned round (x across) when the columns would not fit but x's do."""
    x = sweep.x
    if x is None or not sweep.groups:
        return []
    others = [k for k in sweep.groups[0].values if k != x]
    if len(others) < 2:
        return _pivot(sweep, sweep.groups, x, others, "")
    first, out = others[0], []
    for part in dict.fromkeys(g.values[first] for g in sweep.groups):
        mine = [g for g in sweep.groups if g.values[first] == part]
        out += _pivot(sweep, mine, x, others[1:], f"{first}={part}")
    return out


def _pivot(sweep: Sweep, groups: list[Group], x: str, rest: list[str], title: str) -> list[Table]:
    """One pivot of ``groups``: x down, ``rest`` across (or the other way when only that fits)."""
    down, across = x, rest
    xs = {g.values[x] for g in groups}
    if _columns(groups, rest) > 11 and len(xs) <= 11 and len(rest) == 1:
        down, across = rest[0], [x]
    columns = list(dict.fromkeys(_name(g, across) or sweep.metric for g in groups))
    rows = []
    for value in sorted(dict.fromkeys(g.values[down] for g in groups), key=sort_key if down == x else None):
        at = {
            _name(g, across) or sweep.metric: g.cell(sweep.metric) for g in groups if g.values[down] == value
        }
        rows.append([value, *(at.get(c, "") for c in columns)])
    return split_columns(Table([down, *columns], rows, title))


def _name(group: Group, keys: list[str]) -> str:
    return ", ".join(f"{k}={group.values[k]}" for k in keys)


def _columns(groups: list[Group], keys: list[str]) -> int:
    return len({_name(g, keys) for g in groups})


def independent(keys: list[str], groups: list[Group]) -> list[str]:
    """``keys`` without those another key determines (memory's ``budget`` is its ``task``'s): a column
    that repeats what another says is left out of the table (grouped.csv keeps every key)."""

    def determines(a: str, b: str) -> bool:
        seen: dict[str, str] = {}
        return all(seen.setdefault(str(g.values[a]), str(g.values[b])) == str(g.values[b]) for g in groups)

    out = list(keys)
    for k in [
        k for k in keys if len({str(g.values[k]) for g in groups}) > 1
    ]:  # two that determine each other: the first stays
        if any(
            determines(j, k) and (keys.index(j) < keys.index(k) or not determines(k, j))
            for j in out
            if j != k
        ):
            out.remove(k)
    return out


def groups(sweep: Sweep) -> Table:
    """A row per group (at most ``MOST_ROWS``; else an empty table: the page links grouped.csv)."""
    if len(sweep.groups) > MOST_ROWS or not sweep.groups:
        return Table([])
    keys = independent(list(sweep.groups[0].values), sweep.groups)
    header = [
        *keys,
        "n",
        "metric",
        "solved k/n [95% exact]",
        "sequences to solve (KM)",
        "diverged",
        "grad decay/step",
        "λ_1/step",
        "wall s",
    ]
    rows = []
    for g in sweep.groups:
        km, times = g.km(), g.solve_times()
        solve = (
            "-"
            if km is None or times is None
            else f">{km.horizon:g} (not reached)"
            if km.median is None
            else times.median_text()
        )
        wall = (
            mean(w for j in g.finished if (w := j.metrics.get("wall_time_s")) is not None)
            if g.finished
            else None
        )
        rows.append(
            [
                *(g.values[k] for k in keys),
                str(len(g.finished)),
                g.summary(sweep.metric).text(),
                g.success(),
                solve,
                str(g.diverged),
                *(_pair(g.view(f"{v}_init"), g.view(f"{v}_final")) for v in VIEWS[:2]),
                number(wall, 1),
            ]
        )
    return Table(header, rows)


def contrasts(found: list[Contrast], most: int = MOST_ROWS) -> Table:
    """The family's contrasts (the ``most`` smallest p-values when there are more; all in the CSV)."""
    shown = sorted(found, key=lambda c: c.p)[:most] if len(found) > most else found
    rows = [
        [
            c.at or "-",
            f"{c.key}={c.a.values[c.key]}: {c.a.success()}",
            f"{c.key}={c.b.values[c.key]}: {c.b.success()}",
            c.test,
            p_text(c.p),
            p_text(c.adjusted),
        ]
        for c in shown
    ]
    return Table(["at", "A", "B", "test", "p", "Holm p"], rows)


def contrast_rows(found: list[Contrast]) -> list[dict[str, object]]:
    """Every contrast as a CSV row (``contrasts.csv`` beside the page)."""
    return [
        {
            "key": c.key,
            "at": c.at,
            "a": c.a.values[c.key],
            "a_solved": c.a.solved,
            "a_n": len(c.a.finished),
            "b": c.b.values[c.key],
            "b_solved": c.b.solved,
            "b_n": len(c.b.finished),
            "test": c.test,
            "p": c.p,
            "p_holm": c.adjusted,
        }
        for c in found
    ]


def baselines(sweep: Sweep) -> Table:
    """The baselines a task scored on the same eval windows (``eval_baseline_<name>_mse``), by seq_len:
    they depend on the windows only, so a model's rows must go below them to claim anything."""
    by_len: dict[str, dict[str, list[float]]] = {}
    for job in sweep.jobs:
        for key, value in job.metrics.items():
            if key.startswith("eval_baseline_") and key.endswith("_mse") and value is not None:
                row = by_len.setdefault(str(job.config.get("seq_len")), {})
                row.setdefault(key[len("eval_baseline_") : -len("_mse")], []).append(float(value))
    names = sorted({name for row in by_len.values() for name in row})
    rows = [
        [t, *(number(mean(by_len[t][n])) if n in by_len[t] else "-" for n in names)]
        for t in sorted(by_len, key=sort_key)
    ]
    return Table(["seq_len", *names], rows) if names else Table([])


def baseline_counts(sweep: Sweep) -> list[dict[str, object]]:
    """Per baseline: of the groups compared at their seq_len, how many have a median eval MSE above it."""
    table = baselines(sweep)
    out: list[dict[str, object]] = []
    if not table:
        return out
    at = {row[0]: dict(zip(table.header[1:], row[1:], strict=True)) for row in table.rows}
    for name in table.header[1:]:
        beaten, compared = [], 0
        for g in sweep.groups:
            base = at.get(str(g.finished[0].config.get("seq_len")) if g.finished else "", {}).get(name, "-")
            model = median(metric_value(j, "eval_mse") for j in g.finished)
            if base == "-" or model is None:
                continue
            compared += 1
            if float(base) < model:
                beaten.append(g.label)
        if compared:
            out.append({"name": name, "beaten": beaten, "compared": compared})
    return out
