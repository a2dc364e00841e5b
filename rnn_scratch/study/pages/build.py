"""Publishing: a preset's folder and page, then the front page from every preset's findings."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from rnn_scratch.study.pages.findings import FINDINGS, preset_findings
from rnn_scratch.study.pages.preset import page_data
from rnn_scratch.study.presets import Preset, study_presets
from rnn_scratch.study.published import read_published
from rnn_scratch.study.render import link, render
from rnn_scratch.study.report import write_sweep
from rnn_scratch.study.runs import find_jobs
from rnn_scratch.study.status import SUPERSEDED
from rnn_scratch.study.sweep import Sweep, analyse
from rnn_scratch.training.version import code_version

HEADLINE = "headline.png"
# A page folder's records that no run holds, kept when its page is rebuilt from runs: rows of earlier code
# (budget.retire) and the fixed-recurrence baselines (rnn_scratch.tasks.fixed_recurrence writes them).
KEPT = (SUPERSEDED, "fixed_recurrence.csv")


class Sweeps:
    """Each preset's sweep read once per build: its runs when ``runs`` holds jobs (unless ``table_only``),
    else its published table; (sweep, "runs" or "table"), or (None, "") when there is neither."""

    def __init__(self, docs: Path, root: Path, table_only: bool = False) -> None:
        self.docs, self.root, self.table_only, self._read = docs, root, table_only, {}  # type: ignore[var-annotated]

    def get(self, preset: Preset) -> tuple[Sweep | None, str]:
        if preset.name not in self._read:
            if not self.table_only and preset.runs.is_dir() and find_jobs(preset.runs):
                self._read[preset.name] = (analyse(preset.runs), "runs")
            else:
                folder = self.docs / "study" / preset.name
                found = read_published(folder, preset.name, self.root / "configs", listed_order(preset))
                self._read[preset.name] = (found, "table" if found else "")
        return self._read[preset.name]  # type: ignore[no-any-return]


def listed_order(preset: Preset) -> dict[str, list[str]]:
    """Each swept key's values in the order the preset's YAML lists them (``cell: rnn, lstm, ...``)."""
    from rnn_scratch.study.pages.preset import design

    return {k: v.split(",") for k, v in design(preset).items()} if preset.config.is_file() else {}


def publish(preset: Preset, docs: Path, root: Path, sweeps: Sweeps | None = None) -> list[Path]:
    """Write ``docs/study/<preset>/`` (tables, figures, findings.json) and ``docs/study/<preset>.md``;
    return what was written. Nothing of another preset is touched."""
    sweeps = sweeps or Sweeps(docs, root)
    folder, page = docs / "study" / preset.name, docs / "study" / f"{preset.name}.md"
    sweep, source = sweeps.get(preset) if preset.config.is_file() else (None, "")
    if sweep is None:
        page.parent.mkdir(parents=True, exist_ok=True)
        page.write_text(
            render(
                "empty.md.j2",
                name=preset.name,
                configured=preset.config.is_file(),
                claim=preset.claim() if preset.config.is_file() else [],
                exit_code=preset.exit_code,
            )
        )
        return [page]
    if source == "runs" and folder.exists():  # figures of a grid since shrunk must not linger
        for path in folder.iterdir():
            if path.name not in KEPT:
                shutil.rmtree(path) if path.is_dir() else path.unlink()
    written = write_sweep(
        sweep, folder, root=root, title=preset.name, from_table=source == "table", summary_md=False
    )
    others = {}
    for name in preset.study.reads:
        other, _ = sweeps.get(Preset(name, preset.config.parent / f"{name}.yaml", preset.runs.parent / name))
        if other is not None:
            others[name] = other
    data = page_data(preset, sweep, folder, docs, root, code_version()["hash"], others, source)
    page.write_text(render("preset.md.j2", **data))
    findings = preset_findings(preset, data, folder, docs)
    (folder / FINDINGS).write_text(json.dumps(findings, indent=1) + "\n")
    out = [page, folder / FINDINGS, *written.values()]
    if headline(preset, folder, docs / "study" / HEADLINE):
        out.append(docs / "study" / HEADLINE)
    return out


def headline(preset: Preset, folder: Path, path: Path) -> bool:
    """The README's figure: the preset whose block names a ``headline`` (``<figure>.png`` of its folder)."""
    name = preset.study.headline
    if name is None or not (folder / name).is_file():
        return False
    shutil.copyfile(folder / name, path)
    return True


def front_page(docs: Path, root: Path, profile: str, command: str, also: list[str] | None = None) -> Path:
    """``docs/study.md`` from every preset's ``findings.json`` (each written by its own publish): the
    presets of ``configs/experiment/`` in page order, and ``also`` (presets published from elsewhere)."""
    experiments = root / "configs" / "experiment"
    listed = study_presets(experiments) if experiments.is_dir() else []
    names = [*listed, *(n for n in also or [] if n not in listed)]
    presets: list[dict[str, Any]] = []
    for name in names:
        path = docs / "study" / name / FINDINGS
        found = (
            json.loads(path.read_text())
            if path.is_file()
            else {"name": name, "findings": [], "missing": True}
        )
        found["page"] = link(docs / "study" / f"{name}.md", docs)
        presets.append(found)
    findings = [f for p in presets for f in p.get("findings", [])]
    findings.sort(key=lambda f: (not f.get("headline"), f.get("order", 0)))
    path = docs / "study.md"
    headline_png = docs / "study" / HEADLINE
    path.write_text(
        render(
            "study.md.j2",
            presets=presets,
            findings=findings,
            profile=profile,
            command=command,
            headline=link(headline_png, docs) if headline_png.is_file() else None,
            now=code_version()["hash"],
        )
    )
    return path


def write_study(
    presets: list[Preset], docs: Path, profile: str, overrides: list[str], root: Path
) -> list[Path]:
    """Publish every preset, then the front page; return what was written."""
    return update_study(presets, docs, profile, overrides, root)


def update_study(
    presets: list[Preset],
    docs: Path,
    profile: str,
    overrides: list[str],
    root: Path,
    table_only: bool = False,
) -> list[Path]:
    """Publish ``presets`` (each its own page and folder) and render the front page from every preset's
    findings: the other presets' pages and folders are left as they are. ``table_only``: each page from
    its published table, whatever runs ``outputs/`` holds (a certificate changes the Code: line, not the
    data)."""
    (docs / "study").mkdir(parents=True, exist_ok=True)
    sweeps, written = Sweeps(docs, root, table_only), []
    for preset in presets:
        written += publish(preset, docs, root, sweeps)
    command = " ".join(["python scripts/study.py", f"--profile {profile}", *overrides])
    return [*written, front_page(docs, root, profile, command, [p.name for p in presets])]
