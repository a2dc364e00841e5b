"""The choices and keys that ``python scripts/train.py --help`` lists, read from ``configs/`` when shown,
so a new preset, option or key appears there by itself (``configs/hydra/help/rnn_scratch.yaml`` holds
the text around them; ``scripts/train.py`` registers ``help_text`` as its ``rnn_help`` resolver)."""

from __future__ import annotations

from pathlib import Path

import yaml

GROUPS = ("task", "model", "optim", "hydra/launcher")
# Launchers that come with Hydra's plugins, not as files under configs/hydra/launcher/.
PLUGIN_LAUNCHERS = ["joblib", "submitit_local", "submitit_slurm"]
NOT_SENTENCE_ENDS = ("al.", "e.g.", "i.e.", "vs.", "cf.")


def help_page(configs: Path) -> str:
    """The whole ``--help`` page: the template of ``configs/hydra/help/rnn_scratch.yaml`` with its
    ``${rnn_help:...}`` parts filled, as Hydra prints it, made without importing torch or Hydra (a bare
    ``--help`` is answered before ``scripts/train.py`` loads them)."""
    template = yaml.safe_load((configs / "hydra" / "help" / "rnn_scratch.yaml").read_text())["template"]
    for part in ("groups", "keys"):
        template = template.replace(f"${{rnn_help:{part}}}", help_text(configs, part))
    return str(template)


def help_text(configs: Path, part: str) -> str:
    """``--help``'s group choices (``part="groups"``) or top-level keys (``part="keys"``)."""
    return key_rows(configs) if part == "keys" else group_rows(configs)


def key_rows(configs: Path) -> str:
    """One ``key=default   comment`` row per ``key: default  # comment`` line of ``train.yaml``,
    up to its ``hydra:`` section."""
    lines = (configs / "train.yaml").read_text().split("\nhydra:")[0].splitlines()
    keys = [ln for ln in lines if ln[:1].isalpha() and ":" in ln and not ln.startswith("defaults")]
    rows = [
        (k.split(":")[0], k.split(":", 1)[1].split("#")[0].strip(), k.partition("#")[2].strip()) for k in keys
    ]
    return "\n".join(f"  {f'{k}={v}':<24} {c}" for k, v, c in rows)


def group_rows(configs: Path) -> str:
    """One row per group with its options (``*`` marks ``train.yaml``'s default), the cells of
    ``configs/cell/``, and one row per preset of ``configs/experiment/`` with its first sentence."""
    defaults = yaml.safe_load((configs / "train.yaml").read_text())["defaults"]
    chosen = {k: v for d in defaults if isinstance(d, dict) for k, v in d.items()}
    rows = []
    for group in GROUPS:
        names = sorted(p.stem for p in (configs / group).glob("*.yaml"))
        if group == "hydra/launcher":
            names += PLUGIN_LAUNCHERS
        names = [f"{n}*" if chosen.get(group) == n else n for n in names]
        rows.append(f"  {group + '=':<17}{', '.join(names)}")
    cells = sorted(p.stem for p in (configs / "cell").glob("*.yaml"))  # a cell with its own settings
    rows.append(f"  {'+cell=':<17}{', '.join(cells)} (configs/cell/: a cell at its own init)")
    for path in sorted((configs / "experiment").glob("*.yaml")):
        rows.append(f"  {'+experiment=' + path.stem:<28}{preset_about(path.read_text())}")
    return "\n".join(rows)


def preset_about(text: str) -> str:
    """A preset's first sentence, from its ``# `` comment lines (not ``# @package``, and not the
    commands that follow ``python ``), cut at a word to at most 88 characters."""
    comment = " ".join(ln[2:] for ln in text.splitlines() if ln.startswith("# ") and "@" not in ln)
    about = first_sentence(comment.split("python ")[0])
    return about if len(about) <= 88 else about[:86].rsplit(" ", 1)[0] + " ..."


def first_sentence(text: str) -> str:
    """Up to the first word that ends a sentence ("." or "?"), not "et al." or "e.g."; without the
    final full stop."""
    words = text.split()
    for i, word in enumerate(words):
        if word.endswith((".", "?")) and word not in NOT_SENTENCE_ENDS:
            return " ".join(words[: i + 1]).rstrip(".")
    return " ".join(words)
