"""One preset's page, ``docs/study/<preset>.md``, and its folder ``docs/study/<preset>/``, as data.

``page_data`` gathers what the template ``preset.md.j2`` says: the claim (the YAML's leading comment),
the design (the preset's sweep), the settings every run shared, the code that made the runs and where
they ran, the compact tables (``rnn_scratch.study.pages.tables``), the contrast family and its Holm
correction, where the backward and forward views agree, the preset's own section (the module its
``# @study`` block names: a dict for its template) and the figures in its folder. Numbers only: every
sentence is the template's.
"""

from __future__ import annotations

import csv
from collections import Counter
from pathlib import Path
from typing import Any

import yaml

from rnn_scratch.study.aggregate import metric_label
from rnn_scratch.study.evidence import AGREE, ALPHA, agreement, contrasts, group_settings
from rnn_scratch.study.horizon import CELL_KEY, horizon_section
from rnn_scratch.study.pages import tables
from rnn_scratch.study.presets import Page, Preset, Section
from rnn_scratch.study.render import link
from rnn_scratch.study.report import METRIC_FIGURE
from rnn_scratch.study.stats import fisher, mcnemar
from rnn_scratch.study.status import SUPERSEDED, read_table
from rnn_scratch.study.sweep import Sweep, brief, shared_settings

FIGURES = ("gradients", "solved", "decay_vs_lyapunov", "losses")
CERTIFICATE = "certified.json"


def contrast_key(preset: Preset, sweep: Sweep) -> str | None:
    """The key whose pairs of groups are tested: the preset's ``contrast`` when swept; none for ``own``
    (its section tests its claim); ``auto``: the first swept key but x and task, else x."""
    keys = list(sweep.groups[0].values) if sweep.groups else []
    chosen = preset.study.contrast
    if chosen == "own":
        return None
    if chosen != "auto":
        return chosen if chosen in keys else None
    keys = [k for k in keys if k != "task"]  # success on two tasks is not one quantity
    return next((k for k in keys if k != sweep.x), keys[0] if keys else None)


def design(preset: Preset) -> dict[str, str]:
    """The preset's sweep as its YAML declares it: key -> the values listed (``hydra.sweeper.params``)."""
    data = yaml.safe_load(preset.config.read_text()) or {}
    params = ((data.get("hydra") or {}).get("sweeper") or {}).get("params") or {}
    return {str(k).lstrip("+"): str(v) for k, v in params.items()}


def code_status(folder: Path, jobs: list[Any], now: str) -> dict[str, Any]:
    """The code versions that made the page's runs, its certificate (``certified.json``: certified at a
    version, or found stale there) and its state at ``now``: current, certified, stale or mixed."""
    made = Counter(str((j.metrics.get("code") or {}).get("hash") or "unrecorded") for j in jobs if j.finished)
    try:
        import json

        cert = json.loads((folder / CERTIFICATE).read_text()) if (folder / CERTIFICATE).is_file() else {}
    except ValueError:
        cert = {}
    # the certificate covers the versions it re-ran jobs of; rows added since at its version are its own
    covered = set(made) - {cert.get("certified")} <= set(cert.get("made") or {})
    certified = cert.get("certified") if covered else None
    state = (
        "current"
        if set(made) == {now}
        else "certified"
        if certified == now
        else "mixed"
        if len(made) > 1
        else "stale"
    )
    return {
        "now": now,
        "made": dict(made.most_common()),
        "state": state,
        "certified": certified,
        "stale_at": cert.get("stale_at"),
        "certified_jobs": len(cert.get("jobs") or []),
        "tolerance": cert.get("tolerance"),
        "superseded": len(read_table(folder / SUPERSEDED) or []),
    }


def hardware(jobs: list[Any]) -> list[tuple[str, int]]:
    """(machine in words, runs) for the machines the finished runs recorded (``metrics.json``'s machine,
    or a table's machine columns); [] for runs from before machines were recorded."""
    found: Counter[str] = Counter()
    for job in (j for j in jobs if j.finished):
        m = job.metrics.get("machine")
        m = (
            m
            if isinstance(m, dict)
            else {k: job.metrics.get(k) for k in ("processor", "cpu_capability", "torch", "gpu")}
        )
        where = m.get("gpu") or m.get("processor")
        if where:
            found[f"{where} ({m.get('cpu_capability')}, torch {m.get('torch')})"] += 1
    return found.most_common()


def agreements(sweep: Sweep) -> list[dict[str, Any]]:
    """Per moment (init, final): the groups where the gradient decay and λ_1 agree within ``AGREE``,
    the closest, and the four that part most (with their spread per seed and saturation)."""
    out = []
    for when in ("init", "final"):
        found = [a for g in sweep.groups if (a := agreement(g, when)) is not None]
        if not found:
            continue
        agree = [a for a in found if abs(a.gap) <= AGREE]
        part = sorted((a for a in found if abs(a.gap) > AGREE), key=lambda a: -abs(a.gap))
        out.append(
            {
                "when": when,
                "n": len(found),
                "agree": len(agree),
                "closest": min(agree, key=lambda a: abs(a.gap)) if agree else None,
                "part": part[:4],
                "more": max(len(part) - 4, 0),
                "relu": [a.group.label for a in part if a.relu][:4],
            }
        )
    return out


def contrast_data(found: list[Any]) -> dict[str, Any] | None:
    """The family's counts at ``ALPHA`` before and after Holm, its smallest p, and the floor: the p of
    the most extreme split its n allows (n of n against 0 of n)."""
    if not found:
        return None
    low = min(found, key=lambda c: c.p)
    n = max(len(c.a.finished) for c in found)
    floor = mcnemar([False] * n, [True] * n) if low.paired else fisher(0, n, n, n)
    return {
        "count": len(found),
        "raw": sum(c.p < ALPHA for c in found),
        "holm": sum(c.adjusted < ALPHA for c in found),
        "low": low,
        "n": n,
        "floor": floor,
        "alpha": ALPHA,
        "table": tables.contrasts(found),
    }


def read_rows(path: Path) -> list[dict[str, str]]:
    """A CSV's rows; [] without the file."""
    if not path.is_file():
        return []
    with path.open(newline="") as f:
        return list(csv.DictReader(f))


def write_rows(rows: list[dict[str, Any]], path: Path) -> None:
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def page_data(
    preset: Preset,
    sweep: Sweep,
    folder: Path,
    docs: Path,
    root: Path,
    now: str,
    others: dict[str, Sweep],
    source: str,
) -> dict[str, Any]:
    """Everything ``preset.md.j2`` renders for ``preset`` (its files already in ``folder``)."""
    page_dir = folder.parent  # the page sits beside its folder: docs/study/<name>.md
    key = contrast_key(preset, sweep)
    found = contrasts(sweep.groups, key) if key else []
    if found:
        write_rows(tables.contrast_rows(found), folder / "contrasts.csv")
    section = own_section(preset, sweep, folder, docs, root, others)
    figures = [
        (k, link(folder / f"{k}.png", page_dir))
        for k in (*section.get("figures", ()), METRIC_FIGURE[sweep.metric], *FIGURES)
        if (folder / f"{k}.png").is_file() and k not in section.get("hide", ())
    ]
    done = [j for j in sweep.jobs if j.finished]
    return {
        "name": preset.name,
        "claim": preset.claim(),
        "design": design(preset),
        "adaptive": preset.study.grid == "adaptive",
        "source": source,
        "settings": shared_settings(sweep),
        "by_group": group_settings(sweep.groups, brief, sweep.keys),
        "keys": sweep.keys,
        "seeds": sweep.seeds,
        "metric": sweep.metric,
        "x": sweep.x,
        "metric_shown": metric_label(sweep.jobs, sweep.metric),
        "has_rule": any(g.has_rule for g in sweep.groups),
        "finished": len(done),
        "jobs": len(sweep.jobs),
        "compute_s": sweep.compute_s,
        "code": code_status(folder, sweep.jobs, now),
        "hardware": hardware(done),
        "pivots": tables.pivots(sweep),
        "groups": tables.groups(sweep),
        "n_groups": len(sweep.groups),
        "contrast": contrast_data(found),
        "agreements": agreements(sweep),
        "agree_within": AGREE,
        "baselines": tables.baselines(sweep),
        "baseline_counts": tables.baseline_counts(sweep),
        "section": section,
        "figures": list(dict.fromkeys(figures)),
        "bad": {status: [j.folder.name for j in bad] for status, bad in sweep.bad().items()},
        "files": {
            name: link(folder / name, page_dir)
            for name in ("summary.csv", "grouped.csv", "contrasts.csv")
            if (folder / name).is_file()
        },
        "exit_code": preset.exit_code,
        "missing": read_rows(folder / "missing.csv"),  # what a time budget left to run (scripts/study.py)
    }


def own_section(
    preset: Preset, sweep: Sweep, folder: Path, docs: Path, root: Path, others: dict[str, Sweep]
) -> dict[str, Any]:
    """The preset's own part: ``section(page)`` of the module its block names, as data for the template
    ``sections/<module>.md.j2`` (``template``), or {} without one."""
    if preset.study.section is None:
        return horizon_part(sweep, folder)
    page = Page(preset, sweep, folder, docs, root, others)
    found = preset.study.section_function()(page)
    if isinstance(found, Section):  # a section that still writes its own Markdown lines
        return {"template": "sections/lines.md.j2", "lines": [*found.claim, *found.extra]}
    module = preset.study.section.rsplit(".", 1)[-1]
    return {"template": f"sections/{module}.md.j2", **found}


def horizon_part(sweep: Sweep, folder: Path) -> dict[str, Any]:
    """A sweep over cells (``+cell=...``) against T on one task gets the horizon part
    (``rnn_scratch.study.horizon``): success against T per cell, each cell's horizon, its figure."""
    if CELL_KEY not in sweep.keys or sweep.x != "seq_len" or "task" in sweep.keys:
        return {}  # several tasks: their horizons are not pooled (a preset over tasks has its own section)
    tasks = {str((j.config.get("task") or {}).get("name")) for j in sweep.jobs if j.config}
    lengths = {j.config.get("seq_len") for j in sweep.jobs if j.config}
    if len(tasks) != 1 or len(lengths) < 2:
        return {}
    title = f"{next(iter(tasks))}: fraction of {len(sweep.seeds)} seeds solved against T, a curve per cell"
    data, figure = horizon_section(sweep.jobs, folder, title, sweep.listed.get(CELL_KEY))
    return {"template": "sections/horizon.md.j2", **data, "figures": ("horizon",) if figure else ()}
