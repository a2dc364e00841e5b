"""A preset's findings as data (``docs/study/<preset>/findings.json``), for the front page's Findings.

A finding is a contrast with its test, never a sentence: which side solved more, the counts with their
exact intervals, the test, its p-value and the Holm-adjusted one, and ``holds`` (the adjusted p below
``ALPHA``). The front page's template words it, and says "does not hold" where the test no longer does;
nothing here decides what a finding says beyond that. Kinds:

* ``memory``: per task of the memory preset (the headline), the cell that solved most against the one
  that solved fewest at the length where they differ most (``rnn_scratch.study.memory.contrast``);
* ``contrast``: the preset's contrast family (``evidence.contrasts``), its smallest adjusted p.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rnn_scratch.study.evidence import ALPHA
from rnn_scratch.study.presets import Preset
from rnn_scratch.study.render import link
from rnn_scratch.study.stats import fisher, mcnemar

FINDINGS = "findings.json"


def preset_findings(preset: Preset, data: dict[str, Any], folder: Path, docs: Path) -> dict[str, Any]:
    """The preset's summary for the front page (claim, code state, runs) and its findings."""
    order = preset.study.page or 0
    page = link(folder.parent / f"{preset.name}.md", docs)
    figure = next((link(folder / f"{k}.png", docs) for k, _ in data["figures"]), None)
    found: list[dict[str, Any]] = []
    section = data["section"]
    for i, task in enumerate(t for t in section.get("tasks", []) if "contrast" in t):
        c = task["contrast"]
        if c.get("T") is None:
            continue
        shown = (folder / f"{preset.study.headline}") if preset.study.headline else None
        found.append(
            {
                "kind": "memory",
                "headline": bool(preset.study.headline),
                "order": order + i / 10,
                "task": task["words"],
                "best": c["best"],
                "worst": c["worst"],
                "T": c["T"],
                "a": c["a"],
                "b": c["b"],
                "p": c["p"],
                "p_holm": c["p_holm"],
                "holds": c["holds"],
                "horizons": {h["cell"]: h for h in task["horizons"]},
                "page": page,
                "figure": link(shown, docs) if shown and shown.is_file() else figure,
            }
        )
    if tests := section.get("tests"):  # a section's own family of contrasts (contest, stability)
        low = min(tests, key=lambda t: (t["p_holm"], t["p"]))
        n = low["n"]
        floor = mcnemar([False] * n, [True] * n) if low["test"].startswith("McNemar") else fisher(0, n, n, n)
        found.append({**low, "kind": "contrast", "headline": False, "order": order, "preset": preset.name,
                      "holds": low["p_holm"] < ALPHA, "count": len(tests), "page": page, "figure": figure,
                      "holding": sum(t["p_holm"] < ALPHA for t in tests), "floor": floor})  # fmt: skip
    if (contrast := data["contrast"]) is not None:
        low = contrast["low"]
        key = low.key
        found.append(
            {
                "kind": "contrast",
                "headline": False,
                "order": order,
                "preset": preset.name,
                "key": key,
                "a": f"{key}={low.a.values[key]}",
                "a_text": low.a.success(),
                "b": f"{key}={low.b.values[key]}",
                "b_text": low.b.success(),
                "at": low.at,
                "test": low.test,
                "p": low.p,
                "p_holm": low.adjusted,
                "holds": low.adjusted < contrast["alpha"],
                "count": contrast["count"],
                "holding": contrast["holm"],
                "n": contrast["n"],
                "floor": contrast["floor"],
                "page": page,
                "figure": figure,
            }
        )
    claim = preset.claim()
    return {
        "name": preset.name,
        "claim": claim[0] if claim else "",
        "state": data["code"]["state"],
        "made": data["code"]["made"],
        "finished": data["finished"],
        "jobs": data["jobs"],
        "compute_s": data["compute_s"],
        "source": data["source"],
        "findings": found,
    }
