"""A preset's part in the study, declared in the preset's own YAML: ``configs/experiment/<name>.yaml``.

A preset joins the study with a ``# @study`` block at the end of its file, YAML behind comment marks:

    # @study  (a remark may follow the mark)
    # page: 30                         # its place on docs/study.md (ascending)
    # contrast: seq_len                # the key whose pairs of groups get Fisher's test (default: auto)
    # section: rnn_scratch.study.contest   # a module whose ``section(page)`` writes its own part
    # profiles:                        # overrides per profile, after the profile's own (smoke: SMOKE)
    #   full:
    #     - seed=range(10)
    #   quick: skip                    # not run in this profile; its page reports what runs it finds
    #   long:                          # several multiruns, each into <runs>/<name>: name -> overrides
    #     adding_T200: [task=adding, seq_len=200]
    # grid: adaptive                   # seq_len chosen in rounds (rnn_scratch.study.adaptive)

Keys: ``page`` (required), ``contrast`` (a swept key; ``own``: the preset's section tests the contrasts
its claim rests on, no table of every pair; ``auto``, the default: the first swept key that is not the
figures' x), ``headline`` (it makes the README's figure, docs/study/headline.png: ``<file>.png`` copies
that figure of its page folder, a key draws the metric against it; one preset at most), ``section``
(dotted name of a module of ``rnn_scratch.study`` exposing ``section(page: Page) -> Section``), ``reads``
(presets whose runs the section also reads, e.g. the literature beside the horizon's runs), ``profiles``,
``grid`` (``adaptive``: the task, cell, seq_len and seed lists are the planner's, which runs the lengths in
rounds where each cell's answer is open; ``rnn_scratch.study.adaptive``). A profile not named runs the
YAML as written (plus the profile's own overrides), but for the opt-in ``long`` profile, which runs only
the presets that name it.

Why a comment block: Hydra merges every key of a preset into the run's config, and the schemas reject
keys they do not know (``TrainConfig`` at the top, ``HydraConf`` under ``hydra:``); a key the schema
accepted would land in every run's ``metrics.json`` config and its ``.hydra/``, though it changes no run.
A second file per preset would make a preset two YAMLs (and a folder under configs/ a config group that
``--help`` lists). So the block rides in the one file Hydra reads, where Hydra ignores it, and is parsed
strictly here: an unknown key, a wrong type, a profile the study lacks or a section that does not import
fail with the file's name (tests parse every preset's block).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

if TYPE_CHECKING:
    from rnn_scratch.study.sweep import Sweep

MARK = "# @study"
PROFILES = ("quick", "full", "smoke", "long")
PUBLISHED = ("quick", "full", "long")  # the profiles whose pages are the published study (docs/)
OPT_IN = ("long",)  # profiles that run only the presets naming them (the others: skipped)
SKIP = "skip"
# Every preset of a profile gets these first; a preset's own overrides for it follow (and win).
SMOKE = ["steps=4", "eval_every=2", "log_every=2", "eval_size=16", "batch_size=4", "hidden_size=4",
         "seed=0,1"]  # fmt: skip
PROFILE_OVERRIDES: dict[str, list[str]] = {"smoke": SMOKE}
KEYS = frozenset({"page", "contrast", "headline", "section", "reads", "profiles", "grid"})
GRIDS = ("adaptive",)  # grid: adaptive: seq_len chosen in rounds (rnn_scratch.study.adaptive)


def is_mark(line: str) -> bool:
    """``# @study``, alone or followed by a remark after a space."""
    return line == MARK or line.startswith(MARK + " ")


class StudyBlockError(ValueError):
    """A preset's ``# @study`` block that does not say what the study needs."""


@dataclass(frozen=True)
class Study:
    """A preset's ``# @study`` block, parsed (defaults: not in the study's list, auto contrast)."""

    page: int | None = None  # None: no block, not listed (it runs only when named with --only)
    contrast: str = "auto"  # a key | own | auto
    headline: str | None = None  # <figure>.png | an x key
    section: str | None = None  # dotted module name
    reads: tuple[str, ...] = ()
    # per profile: its overrides; None: skip; a mapping: several multiruns, subfolder -> overrides
    profiles: dict[str, tuple[str, ...] | dict[str, tuple[str, ...]] | None] = field(default_factory=dict)
    grid: str | None = None  # None: the YAML's Cartesian sweep; adaptive: lengths chosen in rounds

    @classmethod
    def parse(cls, text: str, where: str) -> Study:
        """The ``# @study`` block of a preset file's ``text``; ``Study()`` when it has none."""
        lines = text.splitlines()
        start = next((i for i, line in enumerate(lines) if is_mark(line)), None)
        if start is None:
            return cls()
        block = []
        for line in lines[start + 1 :]:
            if not line.startswith("#"):
                break
            block.append(line[2:] if line.startswith("# ") else line[1:])
        try:
            data = yaml.safe_load("\n".join(block))
        except yaml.YAMLError as error:
            raise StudyBlockError(f"{where}: the {MARK} block is not YAML: {error}") from None
        return cls.from_dict(data, where)

    @classmethod
    def from_dict(cls, data: Any, where: str) -> Study:
        def bad(what: str) -> StudyBlockError:
            return StudyBlockError(f"{where}: {MARK}: {what}")

        if not isinstance(data, dict) or not isinstance(data.get("page"), int):
            raise bad("needs a mapping with an integer `page`")
        if unknown := sorted(set(data) - KEYS):
            raise bad(f"unknown key(s) {unknown}; known: {sorted(KEYS)}")

        def is_list(overrides: Any) -> bool:
            return isinstance(overrides, list) and all(isinstance(o, str) and "=" in o for o in overrides)

        profiles: dict[str, tuple[str, ...] | dict[str, tuple[str, ...]] | None] = {}
        for profile, overrides in (data.get("profiles") or {}).items():
            if profile not in PROFILES:
                raise bad(f"profile {profile!r} is not one of {PROFILES}")
            if overrides == SKIP:
                profiles[profile] = None
            elif is_list(overrides):
                profiles[profile] = tuple(overrides)
            elif isinstance(overrides, dict) and overrides and all(map(is_list, overrides.values())):
                profiles[profile] = {str(k): tuple(v) for k, v in overrides.items()}
            else:
                raise bad(
                    f"profiles.{profile}: a list of key=value overrides, a mapping of subfolder -> such a "
                    f"list, or {SKIP!r}"
                )
        strings = {k: data.get(k) for k in ("contrast", "headline", "section")}
        if any(v is not None and not isinstance(v, str) for v in strings.values()):
            raise bad("contrast, headline and section are strings")
        reads = data.get("reads") or []
        if not isinstance(reads, list) or not all(isinstance(r, str) for r in reads):
            raise bad("reads: a list of preset names")
        grid = data.get("grid")
        if grid is not None and grid not in GRIDS:
            raise bad(f"grid: one of {GRIDS}, got {grid!r}")
        study = cls(data["page"], strings["contrast"] or "auto", strings["headline"], strings["section"],
                    tuple(reads), profiles, grid)  # fmt: skip
        if study.section is not None:  # fails here, naming the file, rather than mid-page
            try:
                study.section_function()
            except (StudyBlockError, ImportError) as error:
                raise bad(str(error)) from None
        return study

    def section_function(self) -> Any:
        """``section`` of the module the block names (``rnn_scratch.study.<module>``)."""
        assert self.section is not None
        if not self.section.startswith("rnn_scratch.study."):
            raise StudyBlockError(f"section {self.section!r}: a module of rnn_scratch.study")
        found = getattr(importlib.import_module(self.section), "section", None)
        if not callable(found):
            raise StudyBlockError(f"section {self.section!r} has no function section(page)")
        return found


@dataclass
class Preset:
    """One study preset: its YAML, its runs' folder, and how its last run in this session went."""

    name: str
    config: Path  # configs/experiment/<name>.yaml
    runs: Path  # outputs/study/<profile>/<name>
    exit_code: int | None = None  # None: not run in this session
    elapsed_s: float | None = None

    @cached_property
    def study(self) -> Study:
        """The YAML's ``# @study`` block (``Study()`` when the file or the block is missing)."""
        if not self.config.is_file():
            return Study()
        return Study.parse(self.config.read_text(), str(self.config))

    def claim(self) -> list[str]:
        """The YAML's leading comment block up to its first empty comment line (notes below it, such as
        hand-measured timings, stay out of the page), without the package line and command lines."""
        lines: list[str] = []
        for line in self.config.read_text().splitlines():
            text = line.lstrip("#").strip()
            if not line.startswith("#") or (not text and lines) or is_mark(line):
                break
            if text and not text.startswith(("@package", "python ")):
                lines.append(text)
        return lines

    def overrides(self, profile: str) -> list[str] | None:
        """The overrides this preset runs with in ``profile``: the profile's, then its own; None when
        its block says ``skip``."""
        if profile in OPT_IN and profile not in self.study.profiles:
            return None
        own = self.study.profiles.get(profile, ())
        if isinstance(own, dict):  # several multiruns: what they share is the profile's own
            return list(PROFILE_OVERRIDES.get(profile, []))
        return None if own is None else [*PROFILE_OVERRIDES.get(profile, []), *own]

    def sweeps(self, profile: str) -> dict[str, list[str]] | None:
        """The multiruns this preset runs in ``profile``: subfolder of ``runs`` ("": ``runs`` itself) ->
        overrides (the profile's, then the preset's); None when it skips the profile."""
        if self.overrides(profile) is None:
            return None
        own = self.study.profiles.get(profile, ())
        if isinstance(own, dict):
            return {name: [*PROFILE_OVERRIDES.get(profile, []), *o] for name, o in own.items()}
        return {"": self.overrides(profile) or []}


def study_presets(folder: Path) -> list[str]:
    """The presets of ``folder`` (configs/experiment/) that carry a ``# @study`` block, in page order;
    raises ``StudyBlockError`` on a bad block or on two headlines."""
    found = [(p.stem, Study.parse(p.read_text(), str(p))) for p in sorted(folder.glob("*.yaml"))]
    listed = sorted(((s.page, name) for name, s in found if s.page is not None))
    if len(heads := [name for name, s in found if s.headline]) > 1:
        raise StudyBlockError(f"{folder}: more than one preset declares a headline: {heads}")
    return [name for _, name in listed]


def merge_overrides(*lists: list[str]) -> list[str]:
    """The overrides in order, a key given twice kept once, at its last value (as Hydra would use it):
    ``[hidden_size=4, hidden_size=4,8]`` -> ``[hidden_size=4,8]``, so the job folders name every key swept."""
    merged: dict[str, str] = {}
    for override in (o for overrides in lists for o in overrides):
        key = override.split("=", 1)[0].lstrip("+~")
        merged.pop(key, None)
        merged[key] = override
    return list(merged.values())


@dataclass
class Page:
    """What a preset's section reads: its preset and sweep (read once per page build), the folder its
    page's files go to (docs/study/<name>/), the pages' root (docs/), the repository, and the sweeps of
    the presets its block ``reads`` (by name; absent when they have no runs)."""

    preset: Preset
    sweep: Sweep
    out: Path
    docs: Path
    root: Path
    others: dict[str, Sweep] = field(default_factory=dict)


@dataclass
class Section:
    """A preset's own part of its page: ``claim`` follows the group tables (the tables its claim rests
    on), ``extra`` follows the forward-against-backward sentences (before the figures)."""

    claim: list[str] = field(default_factory=list)
    extra: list[str] = field(default_factory=list)
