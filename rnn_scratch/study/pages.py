"""The study's pages: each preset's sweep reported into ``docs/study/<preset>/`` and one generated
``docs/study.md`` that embeds their tables and figures, plus the README's headline figure.

``scripts/study.py`` runs the presets (Hydra multiruns) and then calls ``write_study``; this module only
reads what the runs left on disk (``rnn_scratch.study.report``), so the pages can be rebuilt at any time.
A preset's claim is the leading comment block of its YAML (``configs/experiment/<name>.yaml``); what else
it contributes (its contrast key, its own section, the headline) is that file's ``# @study`` block
(``rnn_scratch.study.presets``). Each sweep is read from disk once per page build (``Sweeps``), even when
another preset's section reads it too.
"""

from __future__ import annotations

import os
import shutil
from collections import Counter
from pathlib import Path
from statistics import mean

from rnn_scratch.study.aggregate import Group, metric_value
from rnn_scratch.study.evidence import (
    agreement_sentences,
    contrast_markdown,
    contrast_sentence,
    contrasts,
    group_settings,
)  # fmt: skip
from rnn_scratch.study.horizon import CELL_KEY, horizon_section
from rnn_scratch.study.plots import plot_metric
from rnn_scratch.study.presets import Page, Preset, Section
from rnn_scratch.study.report import (
    METRIC_FIGURE,
    Sweep,
    analyse,
    brief,
    shared_settings,
    shown,
    tables,
    write_sweep,
)  # fmt: skip
from rnn_scratch.study.runs import Job, find_jobs
from rnn_scratch.study.stats import median
from rnn_scratch.study.verify import UNRECORDED, versions, versions_text
from rnn_scratch.training.version import code_version

__all__ = ["Preset", "Sweeps", "preset_section", "update_study", "write_study"]

FIGURES = ("gradients", "solved", "decay_vs_lyapunov", "losses")
PREAMBLE = """\
How to read this page. Every number here comes from the runs' own `metrics.json`; nothing is typed by
hand. Rebuild it with `python scripts/study.py` (quick profile: 5 seeds per setting where a headline
contrast rests on it (contest, stability, horizon), 3 elsewhere, sized for a laptop;
`--profile full`: 10 seeds and the whole grids, for a cluster or a GPU, e.g. `hydra/launcher=slurm`;
`--only cells,stability` for some presets; `--report-only` to redraw from `outputs/study/` without
running). Re-running resumes: finished jobs are not re-run, interrupted ones continue from their
checkpoint, jobs still missing are listed under their preset.

- **Seeds**: runs that differ only in `seed` form a group. A metric reads `median [lo, hi]`: the median
  over the group's n finished runs and a distribution-free 95% interval from the order statistics (the
  pair (x_(j), x_(n+1-j)) that covers the median with probability >= 95%, whatever the distribution).
  Below n = 6 no pair does: the cell then reads `median (range lo-hi)`, and the range covers the median
  with probability 1 - 2^(1-n) (75% at n = 3, 94% at n = 5), not 95%. Where some seeds solved and
  others did not, the cell reads `median m (seeds a, b, c)`. A run's metric is its final model's on a
  fresh eval set (`final_eval_size` sequences from a seed of its own) where the preset measured one,
  else its last eval. `tests/test_stats.py` checks each interval's coverage at these n.
- **Solved**: recall and temporal order: eval accuracy >= 0.9; the adding problem: eval MSE <= 0.1 x 1/6
  (1/6 is the MSE of always answering 1); names and text: no rule (the metric only). A pass counts only
  when the fresh set (`final_eval_size` new sequences) confirms it, right then; a run stops only on a
  confirmed pass, and that confirming eval is its final fresh metric, so no run ends `solved` with a
  failing fresh eval; an unconfirmed pass never stops a run (it trains on to its budget), and a run not
  solved is censored at its budget in every table (runs made before this: solved only if the fresh eval
  at the end meets the rule too; `RunRecord.solved` decides, once). Success counts read `k/n [lo, hi]`
  with the 95% exact (Clopper-Pearson) interval, whose coverage is >= 95% at every n and p.
- **Tests**: a contrast between groups run on the same seeds (each seed both ways: a paired design) gets
  McNemar's exact test on the seeds that differ; groups on different seeds get Fisher's exact test on
  the counts; both two-sided. A preset's contrasts are one family: each p is shown beside its Holm-
  adjusted value, and only the adjusted one is read as significant. With 5 seeds a paired contrast
  cannot reach p < 0.05 (5 of 5 one way: p = 0.0625). All of it is `rnn_scratch/study/stats.py`
  (scipy.stats, statsmodels).
- **Time to solve** is counted in training sequences (steps x batch size). It is interval-censored:
  the run solved after its last failing eval and by the first that counted it (presets evaluate at
  steps 1, 2, 4, ... and then every `eval_every`: `eval_schedule: geometric`). A run that never solved
  is censored at its budget. The fraction solved against sequences is a Kaplan-Meier curve at the first
  passing evals (`solved.png`); medians read `between a and b`: the Kaplan-Meier medians with every
  solved run at its last failing eval and at its first passing one; the true median lies between.
- **Diverged** runs (non-finite loss or loss above `diverge_above`) count in n as unsolved; their metric
  is the last eval before diverging. **max grad norm**: the median over seeds of each run's largest
  global gradient norm before clipping; **clipped steps (fraction)**: the mean over seeds of the
  fraction (0 to 1) of steps clipping changed.
- **Forward and backward views**, per run, at initialisation (before any update) → at the end, medians
  over seeds in the tables: **grad decay/step**, the slope of ln ||dL/dh_t|| against the distance
  T - t, fitted on a float64 probe of the gradient on a fixed batch (`grad_norms.npz`: `probe_h`);
  **λ_1/step**, the top Lyapunov exponent along 16 eval trajectories; **ln ρ(W_hh)**, the log spectral
  radius (the candidate block for LSTM and GRU). All three are natural logs per step: where the gradient
  follows the most expanding direction of the forward dynamics, decay and λ_1 agree.
- **Figures**: the metric against x, the mean with its interval band (a dot and interval bar per
  category when x is not a number, e.g. model.init) and each seed a dot (the median, no band, where
  seeds split); the gradient profile against T - t at initialisation and at the end, a thin line per
  seed and the median bold; the gradient decay against λ_1 per run with y = x; loss curves
  as the median over seeds with a min..max band.
- **Compute** is the sum of the runs' `wall_time_s` (one thread each: core-seconds); on 2 cores running
  2 jobs at once the preset takes about half of it. Timings on a shared machine are noisy.
"""


SECTIONS_APART = (
    "The sections below were rebuilt at different times (`scripts/study.py --only <names> --publish`): "
    "each states its profile, command, code version and compute; no total is given for the page."
)


class Sweeps:
    """Each runs folder read once per page build: ``get(folder)`` is its ``Sweep``, None without jobs."""

    def __init__(self) -> None:
        self._read: dict[Path, Sweep | None] = {}

    def get(self, folder: Path) -> Sweep | None:
        if folder not in self._read:
            has_jobs = folder.is_dir() and bool(find_jobs(folder))
            self._read[folder] = analyse(folder) if has_jobs else None
        return self._read[folder]


def _rel(path: Path, start: Path) -> str:
    return Path(os.path.relpath(path, start)).as_posix()


def contrast_key(preset: Preset, sweep: Sweep) -> str | None:
    """The key whose pairs of groups get Fisher's test: the preset's ``contrast`` when it sweeps that
    key; none for ``own`` (its section tests its claim's contrasts); ``auto``: the first swept key that
    is not the figures' x (never ``task``: success on two tasks is not one quantity), else x."""
    keys = [k for k in (sweep.groups[0].values if sweep.groups else {})]
    chosen = preset.study.contrast
    if chosen == "own":
        return None
    if chosen != "auto":
        return chosen if chosen in keys else None
    keys = [k for k in keys if k != "task"]  # runs of different tasks are not a contrast: other rules
    return next((k for k in keys if k != sweep.x), keys[0] if keys else None)


def preset_section(
    preset: Preset, docs: Path, root: Path, sweeps: Sweeps | None = None
) -> tuple[list[str], Sweep | None]:
    """The Markdown of one preset (and its sweep, when it has runs), after writing docs/study/<name>/.
    ``sweeps``: the page build's sweeps read so far (each folder is read once)."""
    sweeps = sweeps or Sweeps()
    lines = [f"## {preset.name}", ""]
    if not preset.config.is_file():
        return [*lines, f"Not run: no `configs/experiment/{preset.name}.yaml` in this checkout.", ""], None
    lines += [*(f"> {text}" for text in preset.claim()), ""]
    sweep = sweeps.get(preset.runs)
    if sweep is None:
        return [
            *lines,
            f"No runs in `{shown(preset.runs, root)}` yet (exit code {preset.exit_code}).",
            "",
        ], None
    out = docs / "study" / preset.name
    if out.exists():
        shutil.rmtree(out)  # figures of a grid since shrunk must not linger
    written = write_sweep(sweep, out, root=root, title=preset.name)
    section = own_section(preset, sweep, out, docs, root, sweeps)
    done = sum(j.finished for j in sweep.jobs)
    per_group = group_settings(sweep.groups, brief, sweep.keys)
    if stale := stale_line(versions(sweep.jobs)):
        lines.insert(2, stale)  # at the top of the section, under its heading
        lines.insert(3, "")
    lines += [
        f"Settings: {shared_settings(sweep)}; swept: {', '.join(sweep.keys)}; "
        f"seeds: {', '.join(sweep.seeds)}.",
        *([f"Settings by group: {'; '.join(per_group)}."] if per_group else []),
        f"Jobs: {done} finished of {len(sweep.jobs)}; compute {sweep.compute_s:.0f} core-s "
        f"(about {sweep.compute_s / 120:.1f} min on 2 cores). Runs: `{shown(preset.runs, root)}`.",
        f"Code: {code_words(versions(sweep.jobs))}{hardware_words(sweep.jobs)} "
        "(`rnn_scratch.training.version`; `python scripts/study.py --verify N` re-runs published jobs and "
        "compares).",
        "",
        *tables(sweep),
        "",
        *baseline_table(sweep),
        *section.claim,  # the tables the preset's claim rests on (contest, stability)
    ]
    key = contrast_key(preset, sweep)
    found = contrasts(sweep.groups, key) if key else []
    lines += [*contrast_markdown(found), *([contrast_sentence(found), ""] if found else [])]
    if said := agreement_sentences(sweep.groups):
        lines += ["Forward against backward: " + " ".join(said), ""]
    lines += [*horizon_lines(preset, sweep, out, docs), *section.extra]
    for key in (METRIC_FIGURE[sweep.metric], *FIGURES):
        if key in written:
            lines += [f"![{preset.name}: {key}]({_rel(written[key], docs)})", ""]
    for status, bad in sweep.bad().items():
        names = ", ".join(f"`{j.folder.name}`" for j in bad)
        lines += [f"**{status}** ({len(bad)}): {names}", ""]
    if preset.exit_code not in (None, 0):
        lines += [f"The multirun exited with code {preset.exit_code}: some jobs failed (listed above).", ""]
    lines += [f"All tables: [study/{preset.name}/summary.md]({_rel(out / 'summary.md', docs)}).", ""]
    return lines, sweep


def stale_line(found: Counter[str]) -> str:
    """One line for a page some of whose runs this checkout's code did not make (it is not certified
    yet: a page is built from runs, and ``--certify`` marks it later); empty when all are current."""
    now = code_version()["hash"]
    if not found or set(found) == {now}:
        return ""
    return (f"**Not at the current code version ({now})**: made by {versions_text(found)}; "
            "`python scripts/study.py --certify` or a rebuild brings it up to date, and `--plan` lists its "
            "jobs as missing.")  # fmt: skip


def hardware_words(jobs: list[Job]) -> str:
    """``; run on AMD EPYC (AVX512, torch 2.13.0+cpu): 9 runs``: the machines the runs recorded
    (``metrics.json``'s ``machine``); empty when none did (runs from before it was recorded)."""
    found: Counter[str] = Counter()
    for job in jobs:
        m = job.metrics.get("machine")
        if job.finished and isinstance(m, dict):
            where = m.get("gpu") or m.get("processor")
            found[f"{where} ({m.get('cpu_capability')}, torch {m.get('torch')})"] += 1
    return f"; run on {', '.join(f'{k}: {n} runs' for k, n in found.most_common())}" if found else ""


def code_words(found: Counter[str]) -> str:
    """The code version(s) a page's runs were made with, as the page says it."""
    if len(found) <= 1:
        return f"every run made by code version {next(iter(found), UNRECORDED)}"
    return f"**runs of {len(found)} code versions**: {versions_text(found)}"


def own_section(preset: Preset, sweep: Sweep, out: Path, docs: Path, root: Path, sweeps: Sweeps) -> Section:
    """The preset's own part of its page: ``section(page)`` of the module its ``# @study`` block names,
    given the sweeps of the presets it ``reads`` (from the same page build); empty without one."""
    study = preset.study
    if study.section is None:
        return Section()
    found = {name: sweeps.get(preset.runs.parent / name) for name in study.reads}
    others = {name: other for name, other in found.items() if other is not None}
    return study.section_function()(Page(preset, sweep, out, docs, root, others))  # type: ignore[no-any-return]


def horizon_lines(preset: Preset, sweep: Sweep, out: Path, docs: Path) -> list[str]:
    """Any sweep over cells (``+cell=...``) against T gets the horizon section
    (``rnn_scratch.study.horizon``): success against T per cell, each cell's horizon, its figure."""
    if CELL_KEY not in sweep.keys or sweep.x != "seq_len" or "task" in sweep.keys:
        return []  # several tasks: their horizons are not pooled (a preset over tasks has its own section)
    tasks = {str((j.config.get("task") or {}).get("name")) for j in sweep.jobs if j.config}
    lengths = {j.config.get("seq_len") for j in sweep.jobs if j.config}
    if len(tasks) != 1 or len(lengths) < 2:
        return []  # runs of several tasks (folders of their own) are not pooled; one T fits no horizon
    task = next(iter(tasks))
    title = f"{task}: fraction of {len(sweep.seeds)} seeds solved against T, a curve per cell"
    order = sweep.listed.get(CELL_KEY) or sweep.listed.get(f"+{CELL_KEY}")
    lines, figure = horizon_section(sweep.jobs, out, title, order)
    if figure is not None:
        lines += [f"![{preset.name}: success against T]({_rel(figure, docs)})", ""]
    return lines


def baseline_table(sweep: Sweep) -> list[str]:
    """The baselines a task scored on the same eval windows (``eval_baseline_<name>_mse`` in
    ``metrics.json``, e.g. persistence, seasonal naive and AR(p) for ``task=series``), by ``seq_len``:
    they depend on the windows only, so the model's rows above must go below them to claim anything."""
    by_len: dict[str, dict[str, list[float]]] = {}
    for job in sweep.jobs:
        for key, value in job.metrics.items():
            if key.startswith("eval_baseline_") and key.endswith("_mse") and value is not None:
                row = by_len.setdefault(str(job.metrics.get("config", {}).get("seq_len")), {})
                row.setdefault(key[len("eval_baseline_") : -len("_mse")], []).append(float(value))
    names = sorted({name for row in by_len.values() for name in row})
    if not names:
        return []
    lines = ["Baselines on the same eval windows (eval MSE; `-`: the window is too short for it):", ""]
    lines += ["| seq_len | " + " | ".join(names) + " |", "|---" * (len(names) + 1) + "|"]
    for seq_len in sorted(by_len, key=lambda s: int(s) if s.isdigit() else 0):
        cells = [f"{mean(by_len[seq_len][n]):.3f}" if n in by_len[seq_len] else "-" for n in names]
        lines.append(f"| {seq_len} | " + " | ".join(cells) + " |")
    return [*lines, "", *baseline_sentences(sweep.groups, by_len, names)]


def baseline_sentences(
    groups: list[Group], by_len: dict[str, dict[str, list[float]]], names: list[str]
) -> list[str]:
    """Where each baseline stands against the settings: per baseline, how many groups' median eval
    MSE it beats at the group's seq_len, said whichever way it comes out."""
    said = []
    for name in names:
        beaten, compared = [], 0
        for g in groups:
            seq_len = g.finished[0].config.get("seq_len") if g.finished else None
            base = by_len.get(str(seq_len), {}).get(name)
            model = median(metric_value(j, "eval_mse") for j in g.finished)
            if not base or model is None:
                continue
            compared += 1
            if mean(base) < model:
                beaten.append(g.label)
        if compared:
            which = "every one" if len(beaten) == compared else ", ".join(beaten[:4]) or "none"
            more = "" if len(beaten) <= 4 or len(beaten) == compared else ", ..."
            said.append(
                f"{name} has a lower eval MSE than the median run of {len(beaten)} of the {compared} "
                f"settings ({which}{more})."
            )
    return [" ".join(said), ""] if said else []


def headline(preset: Preset, sweep: Sweep, path: Path) -> bool:
    """The README's figure, from the preset whose block names a ``headline``: ``<figure>.png`` copies
    that figure of its page folder (docs/study/<preset>/, e.g. the horizon's success against T); a key
    draws the preset's metric against it, a line per model (when it is the sweep's x)."""
    x = preset.study.headline
    if x is None:
        return False
    if x.endswith(".png"):
        drawn = path.parent / preset.name / x
        if drawn.is_file():
            shutil.copyfile(drawn, path)
        return drawn.is_file()
    if sweep.x != x:
        return False
    groups: list[Group] = sweep.groups
    task = (sweep.config or {}).get("task", {}).get("name", "")
    title = f"{task}: {sweep.metric.replace('_', ' ')} against {x} over {len(sweep.seeds)} seeds"
    return plot_metric(groups, x, sweep.metric, path, title=title)


def write_study(
    presets: list[Preset], docs: Path, profile: str, overrides: list[str], root: Path
) -> list[Path]:
    """Write docs/study/<preset>/, docs/study.md and docs/study/headline.png; return what was written."""
    (docs / "study").mkdir(parents=True, exist_ok=True)
    command = " ".join(["python scripts/study.py", f"--profile {profile}", *overrides])
    body, written, compute_s, sweeps = [], [], 0.0, Sweeps()
    for preset in presets:
        lines, sweep = preset_section(preset, docs, root, sweeps)
        body += lines
        compute_s += sweep.compute_s if sweep is not None else 0.0
        if sweep is not None and headline(preset, sweep, docs / "study" / "headline.png"):
            written.append(docs / "study" / "headline.png")
    contents = [f"- [{p.name}](#{p.name})" for p in presets]
    page = [
        "# The study",
        "",
        f"<!-- Generated by scripts/study.py ({command}); edit the generator, not this page. -->",
        "",
        f"Profile **{profile}**, rebuilt by `{command}`. Compute of every run on this page: "
        f"{compute_s:.0f} core-s (about {compute_s / 120:.0f} min on 2 cores running 2 jobs at once).",
        "",
        PREAMBLE,
        *contents,
        "",
        *body,
    ]
    (docs / "study.md").write_text("\n".join(page).rstrip() + "\n")
    written.append(docs / "study.md")
    return written


def update_study(
    presets: list[Preset], docs: Path, profile: str, overrides: list[str], root: Path
) -> list[Path]:
    """Rewrite only these presets' sections of the published ``docs/study.md`` (their folders, and the
    headline when one of them draws it), keeping every other section as it is: how an opt-in profile
    (``long``) publishes its presets without re-running the rest. Sections go in page order; without a
    page yet, the whole page is written."""
    path = docs / "study.md"
    if not path.is_file():
        return write_study(presets, docs, profile, overrides, root)
    head, *chunks = path.read_text().split("\n## ")
    sections = {chunk.split("\n", 1)[0].strip(): "## " + chunk.rstrip() + "\n" for chunk in chunks}
    command = " ".join(["python scripts/study.py", f"--profile {profile}", *overrides])
    written, sweeps = [], Sweeps()
    for preset in presets:
        lines, sweep = preset_section(preset, docs, root, sweeps)
        said = f"This section: profile **{profile}**, rebuilt by `{command}` (its compute is its own, not in "
        lines[2:2] = [said + "the total above).", ""]
        sections[preset.name] = "\n".join(lines).rstrip() + "\n"
        if sweep is not None and headline(preset, sweep, docs / "study" / "headline.png"):
            written.append(docs / "study" / "headline.png")
    pages = {p.name: p.study.page or 0 for p in presets}
    experiments = root / "configs" / "experiment"
    for name in sections:
        if name not in pages and (experiments / f"{name}.yaml").is_file():
            pages[name] = Preset(name, experiments / f"{name}.yaml", docs).study.page or 0
    order = sorted(sections, key=lambda name: pages.get(name, 0))
    contents = [f"- [{name}](#{name})" for name in order]
    kept = "\n".join(line for line in head.rstrip().split("\n") if not line.startswith("- [")).rstrip()
    kept = "\n".join(line for line in kept.split("\n") if not line.startswith("Profile **"))  # a total
    kept = kept.split("How to read this page.")[0].rstrip() + "\n\n" + SECTIONS_APART + "\n\n"
    kept += PREAMBLE.rstrip() + "\n"  # today's rules
    kept += earlier_sections(sections, order)
    path.write_text(kept + "\n\n" + "\n".join(contents) + "\n\n" + "\n".join(sections[n] for n in order))
    return [*written, path]


def earlier_sections(sections: dict[str, str], order: list[str]) -> str:
    """A sentence naming the sections an earlier generator wrote (their tables say "95% Wilson"), which
    read by its rules: a mean with a bootstrap interval, Wilson intervals, Fisher's test without a
    correction, solved at the first passing eval. Empty when every section is this generator's."""
    old = [name for name in order if "[95% Wilson]" in sections[name]]
    if not old:
        return ""
    names = ", ".join(f"[{name}](#{name})" for name in old)
    return (
        f"\n**Sections from an earlier generator**: {names}. Their runs and tables predate the rules above: "
        "a metric reads `mean [lo, hi]` with a 95% percentile bootstrap, success counts carry Wilson "
        "intervals, contrasts Fisher's test without a correction, and a run counts as solved at its first "
        "passing eval. Each says its code version; `python scripts/study.py --only <name> --publish` "
        "rebuilds it with this code.\n"
    )
