"""What a preset's page says about its groups, each sentence computed from the runs (nothing typed).

* ``contrasts``: for a key (``model``, ``clip``, ``seq_len``...), every pair of groups that differ only
  in that key, with their success counts and the two-sided p-value of Fisher's exact test on them;
  ``contrast_markdown`` the table, ``contrast_sentence`` what it says (how many are significant at 0.05).
* ``agreement``: per group, how close the fitted gradient decay per step is to the top Lyapunov
  exponent lambda_1 (both natural log per step), at initialisation and at the end; ``agreement_sentences``
  says where they agree (|decay - lambda_1| <= ``AGREE``) and where they part, with the groups'
  saturation beside it.
* ``group_settings``: the settings that differ between groups though not swept (e.g. ``optim=sgd``
  brings lr 0.05 and momentum 0.9), per group, from each group's own runs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rnn_scratch.study.aggregate import Group
from rnn_scratch.study.stats import fisher, median, p_text

ALPHA = 0.05
AGREE = 0.1  # |decay - lambda_1| per step (natural log) below which the two views are said to agree


@dataclass(frozen=True)
class Contrast:
    key: str
    at: str  # the other keys' values: "seq_len=50"
    a: Group
    b: Group
    p: float

    def cells(self) -> list[str]:
        return [self.at or "-", f"{self.key}={self.a.values[self.key]}: {self.a.success()}",
                f"{self.key}={self.b.values[self.key]}: {self.b.success()}", p_text(self.p)]  # fmt: skip


def contrasts(groups: list[Group], key: str) -> list[Contrast]:
    """Pairs of groups with a solved rule that differ in ``key`` only, in the groups' order."""
    found = []
    for i, a in enumerate(groups):
        for b in groups[i + 1 :]:
            if key not in a.values or not (a.has_rule and b.has_rule and a.finished and b.finished):
                continue
            others = [k for k in a.values if k != key]
            if a.values[key] == b.values[key] or any(a.values[k] != b.values[k] for k in others):
                continue
            at = ", ".join(f"{k}={a.values[k]}" for k in others)
            p = fisher(a.solved, len(a.finished), b.solved, len(b.finished))
            found.append(Contrast(key, at, a, b, p))
    return found


def contrast_markdown(found: list[Contrast]) -> list[str]:
    if not found:
        return []
    key = found[0].key
    lines = [f"Contrasts in {key} (solved k/n [95% Wilson]; Fisher's exact test on the success counts, "
             "two-sided):", "", "| at | A | B | Fisher p |", "|---|---|---|---|"]  # fmt: skip
    return [*lines, *("| " + " | ".join(c.cells()) + " |" for c in found), ""]


def contrast_sentence(found: list[Contrast]) -> str:
    """How many of the contrasts are significant at ``ALPHA``, and the smallest p-value."""
    if not found:
        return ""
    low = min(found, key=lambda c: c.p)
    sig = [c for c in found if c.p < ALPHA]
    n = max(len(c.a.finished) for c in found)
    where = f" ({low.at})" if low.at else ""
    head = f"{len(sig)} of {len(found)} contrasts in {low.key} are significant at {ALPHA}"
    smallest = (
        f"the smallest p-value, {p_text(low.p)}, is {low.key}={low.a.values[low.key]} "
        f"({low.a.success()}) against {low.key}={low.b.values[low.key]} ({low.b.success()}){where}"
    )
    tail = (
        ""
        if sig
        else f"; with {n} seeds a group even 0 of {n} against {n} of {n} gives p = "
        f"{fisher(0, n, n, n):.2g}, so more seeds are needed before a difference counts"
    )
    return f"{head}; {smallest}{tail}."


@dataclass(frozen=True)
class Agreement:
    group: Group
    when: str  # init | final
    decay: float
    lyapunov: float
    n: int  # runs with both numbers
    saturation: float | None

    @property
    def gap(self) -> float:
        return self.decay - self.lyapunov


def agreement(group: Group, when: str) -> Agreement | None:
    """Medians over the group's runs of the gradient decay and lambda_1 (``*_init`` or ``*_final``)."""
    pairs = [
        (j.metrics.get(f"grad_decay_{when}"), j.metrics.get(f"lyapunov_max_{when}"), j)
        for j in group.finished
    ]
    pairs = [(d, lam, j) for d, lam, j in pairs if d is not None and lam is not None]
    if not pairs:
        return None
    decay = median(d for d, _, _ in pairs)
    lyap = median(lam for _, lam, _ in pairs)
    sat = median(j.metrics.get(f"saturation_{when}") for _, _, j in pairs)
    assert decay is not None and lyap is not None
    return Agreement(group, when, decay, lyap, len(pairs), sat)


def agreement_sentences(groups: list[Group]) -> list[str]:
    """Where the backward view (gradient decay) and the forward view (lambda_1) agree and part."""
    lines = []
    for when, word in (("init", "At initialisation"), ("final", "At the end of training")):
        found = [a for g in groups if (a := agreement(g, when)) is not None]
        if not found:
            continue
        agree = [a for a in found if abs(a.gap) <= AGREE]
        part = sorted((a for a in found if abs(a.gap) > AGREE), key=lambda a: -abs(a.gap))
        text = (
            f"{word}, the fitted gradient decay per step and λ_1 (medians over seeds) agree within "
            f"{AGREE} in {len(agree)} of {len(found)} groups"
        )
        if agree:
            best = min(agree, key=lambda a: abs(a.gap))
            text += (
                f" (closest: {best.group.label}, decay {best.decay:+.3f} against λ_1 {best.lyapunov:+.3f})"
            )
        if part:
            names = "; ".join(
                f"{a.group.label}: {a.decay:+.3f} against {a.lyapunov:+.3f}"
                + ("" if a.saturation is None else f", {a.saturation:.0%} of units saturated")
                for a in part[:4]
            )
            more = f" and {len(part) - 4} more" if len(part) > 4 else ""
            text += f"; they part in {names}{more}"
        lines.append(text + ".")
    return lines


def group_settings(groups: list[Group], brief: Any, swept: list[str]) -> list[str]:
    """Per group, the settings (``brief`` of each run's config) that differ between groups but are not
    swept keys: ``optim=sgd: lr=0.05, momentum=0.9``. [] when every group ran the same settings."""
    per_group: list[tuple[Group, dict[str, Any]]] = []
    for g in groups:
        configs = [
            brief(j.metrics["config"]) for j in g.finished if isinstance(j.metrics.get("config"), dict)
        ]
        if configs:
            shared = {k: v for k, v in configs[0].items() if all(c.get(k) == v for c in configs)}
            per_group.append((g, shared))

    def is_swept(key: str) -> bool:  # brief's "init" is the swept "model.init"
        return key == "seed" or any(s == key or s.endswith(f".{key}") for s in swept)

    keys = [k for k in (per_group[0][1] if per_group else {}) if not is_swept(k)]
    varying = [k for k in keys if len({repr(s.get(k)) for _, s in per_group}) > 1]
    if not varying:
        return []

    def said(settings: dict[str, Any]) -> str:
        return ", ".join(f"{k}={settings.get(k)}" for k in varying)

    for key in per_group[0][0].values:  # one swept key that decides them all: a line per value
        by_value: dict[str, set[str]] = {}
        for g, settings in per_group:
            by_value.setdefault(g.values[key], set()).add(said(settings))
        if all(len(v) == 1 for v in by_value.values()):
            return [f"{key}={value}: {next(iter(v))}" for value, v in by_value.items()]
    return [f"{g.label}: {said(settings)}" for g, settings in per_group]
