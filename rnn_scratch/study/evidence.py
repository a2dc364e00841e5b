"""What a preset's page says about its groups, each sentence computed from the runs (nothing typed).

* ``contrasts``: for a key (``model``, ``clip``, ``seq_len``...), every pair of groups that differ only
  in that key, with their success counts and a two-sided exact test matched to the design: the same
  seeds on both sides (each seed run both ways: a paired design) get McNemar's exact test on the
  discordant seeds; groups on different seeds get Fisher's exact test on the counts. The preset's
  contrasts are one family: each p is also shown Holm-adjusted over it (the page's template says how many
  hold at 0.05 after Holm).
* ``agreement``: per group, how close the fitted gradient decay per step is to the top Lyapunov
  exponent lambda_1 (both natural log per step), at initialisation and at the end (they agree where
  |decay - lambda_1| <= ``AGREE``), with the groups' saturation beside it.
* ``group_settings``: the settings that differ between groups though not swept (e.g. ``optim=sgd``
  brings lr 0.05 and momentum 0.9), per group, from each group's own runs.
"""

from __future__ import annotations

import dataclasses
import itertools
from dataclasses import dataclass
from typing import Any

from rnn_scratch.study.aggregate import Group
from rnn_scratch.study.runs import Job
from rnn_scratch.study.stats import fisher, holm, mcnemar, median, p_text

ALPHA = 0.05
AGREE = 0.1  # |decay - lambda_1| per step (natural log) below which the two views are said to agree


@dataclass(frozen=True)
class Contrast:
    key: str
    at: str  # the other keys' values: "seq_len=50"
    a: Group
    b: Group
    p: float
    paired: bool = False  # McNemar's exact test on seeds run both ways; else Fisher's on the counts
    p_holm: float | None = None  # adjusted over the preset's family of contrasts

    @property
    def test(self) -> str:
        return "McNemar (paired)" if self.paired else "Fisher"

    @property
    def adjusted(self) -> float:
        return self.p if self.p_holm is None else self.p_holm

    def cells(self) -> list[str]:
        return [self.at or "-", f"{self.key}={self.a.values[self.key]}: {self.a.success()}",
                f"{self.key}={self.b.values[self.key]}: {self.b.success()}", self.test, p_text(self.p),
                p_text(self.adjusted)]  # fmt: skip


def seed_pairs(a: list[Job], b: list[Job]) -> list[tuple[bool, bool]] | None:
    """(solved in a, solved in b) per seed when both groups ran the same seeds, once each; else None."""

    def by_seed(jobs: list[Job]) -> dict[str, bool]:
        return {
            str(j.overrides.get("seed", (j.metrics.get("config") or {}).get("seed"))): j.solved for j in jobs
        }

    sa, sb = by_seed(a), by_seed(b)
    if len(sa) != len(a) or len(sb) != len(b) or sa.keys() != sb.keys() or not sa:
        return None
    return [(sa[s], sb[s]) for s in sa]


def paired_or_fisher(a: list[Job], b: list[Job]) -> tuple[float, bool]:
    """The design's test of two sets of finished runs: (p, paired)."""
    pairs = seed_pairs(a, b)
    if pairs is not None:
        return mcnemar([x for x, _ in pairs], [y for _, y in pairs]), True
    ka, kb = sum(j.solved for j in a), sum(j.solved for j in b)
    return fisher(ka, len(a), kb, len(b)), False


def with_holm(found: list[Contrast]) -> list[Contrast]:
    """The family's contrasts with their Holm-adjusted p-values."""
    adjusted = holm(c.p for c in found)
    return [dataclasses.replace(c, p_holm=q) for c, q in zip(found, adjusted, strict=True)]


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
            p, paired = paired_or_fisher(a.finished, b.finished)
            found.append(Contrast(key, at, a, b, p, paired))
    return with_holm(found)


@dataclass(frozen=True)
class Agreement:
    group: Group
    when: str  # init | final
    decay: float
    lyapunov: float
    n: int  # runs with both numbers
    saturation: float | None
    gaps: tuple[float, ...] = ()  # decay - lambda_1 per run: the spread behind the medians
    relu: bool = False  # a ReLU cell: its Jacobian is a 0/1 mask times W_hh, units can die

    @property
    def gap(self) -> float:
        return self.decay - self.lyapunov

    @property
    def spread(self) -> str:
        """``gap per seed -0.61 to +0.02``: the range of decay - lambda_1 over the group's runs."""
        if len(self.gaps) < 2:
            return ""
        return f"gap per seed {min(self.gaps):+.3f} to {max(self.gaps):+.3f}"


def agreement(group: Group, when: str) -> Agreement | None:
    """Medians over the group's runs of the gradient decay and lambda_1 (``*_init`` or ``*_final``)."""
    found = [
        (j.metrics.get(f"grad_decay_{when}"), j.metrics.get(f"lyapunov_max_{when}"), j)
        for j in group.finished
    ]
    pairs = [(float(d), float(lam), j) for d, lam, j in found if d is not None and lam is not None]
    if not pairs:
        return None
    decay = median(d for d, _, _ in pairs)
    lyap = median(lam for _, lam, _ in pairs)
    sat = median(j.metrics.get(f"saturation_{when}") for _, _, j in pairs)
    assert decay is not None and lyap is not None
    gaps = tuple(d - lam for d, lam, _ in pairs)
    relu = any(
        ((j.metrics.get("config") or {}).get("model") or {}).get("nonlinearity") == "relu"
        for _, _, j in pairs
    )
    return Agreement(group, when, decay, lyap, len(pairs), sat, gaps, relu)


def group_settings(groups: list[Group], brief: Any, swept: list[str]) -> list[str]:
    """Per group, the settings (``brief`` of each run's config) that differ between groups but are not
    swept keys: ``optim=sgd: lr=0.05, momentum=0.9``; a line per value of the fewest swept keys that
    decide them (the memory preset's lr: ``task=copy, cell=lstm: lr=0.01``), else per group. [] when every
    group ran the same settings."""
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

    swept_keys = list(per_group[0][0].values)
    for size in range(1, len(swept_keys)):  # the fewest swept keys that decide them all: a line per value
        for chosen in itertools.combinations(swept_keys, size):
            by_value: dict[str, set[str]] = {}
            for g, settings in per_group:
                by_value.setdefault(", ".join(f"{k}={g.values[k]}" for k in chosen), set()).add(
                    said(settings)
                )
            if all(len(v) == 1 for v in by_value.values()):
                return [f"{value}: {next(iter(v))}" for value, v in by_value.items()]
    return [f"{g.label}: {said(settings)}" for g, settings in per_group]
