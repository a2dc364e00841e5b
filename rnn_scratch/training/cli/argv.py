"""The command line of ``scripts/train.py``, checked and completed before Hydra writes anything.

Hydra's parser reads the overrides (in ``scripts/train.py``); each arrives here as an ``Override`` of
plain values. A word without ``=`` (``seq_len 50``), a flag value outside its choices (``--cfg jobb``), a
typo in a key or a group option, a ``hydra.run.dir`` holding a run this one may not reuse (read as Hydra
reads it, quotes and all), or a ``resume`` with nothing to resume, stops with one line (``error: ...``,
exit 2) before any folder is made (every value of a sweep, types included, is checked as well:
``values``). A sweep's job folders are named by the keys it varies (``seq_len=10,clip=null``), not by
every override it was given.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from pathlib import Path

import yaml

from rnn_scratch.errors import ConfigError
from rnn_scratch.training.checkpoint import CHECKPOINT
from rnn_scratch.training.commands import hydra_unquote
from rnn_scratch.training.config import TrainConfig
from rnn_scratch.training.overrides import unknown_key, unknown_option
from rnn_scratch.training.resume import check_folder

MULTIRUN = {"-m", "--multirun"}


@dataclasses.dataclass(frozen=True)
class Override:
    """One ``key=value`` of the command line as Hydra's parser reads it.

    ``values`` are the value's strings: one, or a discrete sweep's (``a,b``, ``range(1,3)``); None
    where they cannot be listed without Hydra's config loader (an interval, a glob: Hydra checks those
    itself). ``hydra``: the key is Hydra's own (``hydra.run.dir``, ``hydra/launcher``).
    """

    key: str  # key or group: seq_len, model.forget_bias, cell (of +cell=...)
    values: tuple[str, ...] | None
    sweep: bool = False
    hydra: bool = False
    delete: bool = False  # ~key
    package: str | None = None  # group@package
    key_element: str = ""  # the key as given, +cell, ~model, model@x ("": key): what a job's override repeats


def is_multirun(argv: list[str]) -> bool:
    return bool(MULTIRUN & set(argv))


def override_args(argv: list[str]) -> list[str]:
    """The ``key=value`` arguments of ``argv`` (``argv[0]`` is the script), not the flags."""
    return [a for a in argv[1:] if "=" in a and not a.startswith("-")]


Flags = Mapping[str, tuple[str | None, tuple[str, ...] | None]]
"""Hydra's flags that take a value: flag -> (argparse's nargs: None one value, "?" optional; choices)."""


def check_words(argv: list[str], flags: Flags) -> str | None:
    """One line for a word of ``argv`` that is neither a flag nor ``key=value`` (``seq_len 50``: the
    ``=`` forgotten), or a flag's value outside its choices (``--cfg jobb``), before Hydra prints its
    grammar or its usage; else None. ``flags``: Hydra's flags that take a value (an unknown flag is
    left to Hydra)."""
    i = 1
    while i < len(argv):
        word, following = argv[i], argv[i + 1] if i + 1 < len(argv) else None
        i += 1
        if word.startswith("-"):
            flag, has_value, value = word.partition("=")
            if flag not in flags:
                continue
            nargs, choices = flags[flag]
            if not has_value and following is not None and not following.startswith("-"):
                takes_next = nargs is None or (choices is not None and "=" not in following)
                value, i = (following, i + 1) if takes_next else (value, i)
            if choices and (value or nargs is None) and value not in choices:
                shown = f"{flag} {value}" if value else flag
                return f"error: {shown}: choose one of {', '.join(choices)}"
        elif "=" not in word and not word.startswith("~"):
            paired = following is not None and "=" not in following and not following.startswith("-")
            hint = f" ({word}={following}?)" if paired else ""
            return f"error: {word}: an override is key=value{hint}"
    return None


def check_overrides(overrides: list[Override] | None, configs: Path) -> str | None:
    """A one-line error for an override of an unknown key or group option, with the closest known one
    (``seq_lenn=10`` -> seq_len, ``model=lstmm`` -> lstm); else None. ``overrides`` None: Hydra's
    parser refused them, and Hydra reports that itself."""
    for o in overrides or []:
        if o.hydra or o.key.startswith(("hydra", "/")) or o.delete or o.package:
            continue
        if (configs / o.key).is_dir() and o.key != "hydra":  # a config group: task, model, cell, tuned, ...
            if o.values is None:
                continue  # a range, interval or glob of options: Hydra reports it
            options = sorted(p.stem for p in (configs / o.key).glob("*.yaml"))
            problem = next((unknown_option(o.key, v, options) for v in o.values if v not in options), None)
        else:
            problem = unknown_key(o.key)
        if problem:
            return f"error: {problem}"
    return None


def check_run_dir(argv: list[str], compose: Callable[[list[str]], TrainConfig]) -> str | None:
    """A single run's folder refused before Hydra rewrites its ``.hydra/`` and ``train.log``: the
    one-line error, else None. Refused: ``hydra.run.dir`` of an existing run that this one may not
    overwrite or continue, a ``resume=<folder>`` whose run this one may not continue
    (``rnn_scratch.training.resume.check_folder``: nothing is written into a folder it refuses), and
    ``resume=true`` with no checkpoint to continue (a fresh run folder never holds one).
    ``compose(overrides)`` builds the run's config from its non-Hydra overrides (Hydra's compose API,
    in the script); when it raises, the run itself reports the bad override."""
    if is_multirun(argv):
        return None
    args = override_args(argv)
    # the folder as Hydra reads it: a quoted one ('/x/clip=null,seq_len=50') without its quotes
    given = [hydra_unquote(a.split("=", 1)[1]) for a in args if a.lstrip("+").startswith("hydra.run.dir=")]
    folder = Path(given[-1]) if given else None
    holds_run = folder is not None and any((folder / f).is_file() for f in ("metrics.json", CHECKPOINT))
    if not holds_run and not any(a.lstrip("+").startswith("resume=") for a in args):
        return None
    try:
        cfg = compose([a for a in args if not a.lstrip("+~").startswith("hydra")])
    except Exception:
        return None
    choice = str(cfg.resume).lower()
    if choice in ("true", "yes") and not (folder is not None and (folder / CHECKPOINT).is_file()):
        where = "" if folder is None else f" in {folder}"
        return f"error: resume: nothing to resume{where}: pass resume=<run folder>"
    named = cfg.resume is not None and choice not in ("true", "yes", "false", "no")
    try:
        if named:
            check_folder(cfg, Path(str(cfg.resume)))
        elif holds_run:
            check_folder(cfg, folder)  # type: ignore[arg-type]
    except ConfigError as error:
        return f"error: {error}"
    return None


def name_jobs_by_swept_keys(argv: list[str], overrides: list[Override] | None, configs: Path) -> list[str]:
    """``argv`` of a sweep with its single-valued overrides added to ``override_dirname.exclude_keys``,
    so its job folders are named by the keys it varies; any other ``argv`` unchanged. ``overrides``:
    ``argv``'s, parsed (None: Hydra's parser refused them and reports it with its own message)."""
    if not is_multirun(argv) or any("override_dirname.exclude_keys" in a for a in argv) or overrides is None:
        return argv
    # A key given twice keeps its last value (as Hydra's sweeper does): hidden_size=4 hidden_size=4,8
    # sweeps hidden_size, which must then name the folders. A swept key is never excluded.
    last = {o.key: o for o in overrides if not o.hydra}
    swept = {k for k, o in last.items() if o.sweep}
    fixed = [k for k, o in last.items() if not o.sweep]
    train = yaml.safe_load((configs / "train.yaml").read_text())
    base = train["hydra"]["job"]["config"]["override_dirname"]["exclude_keys"]
    keys = ",".join(f"'{k}'" for k in dict.fromkeys([*base, *fixed]) if k not in swept)
    return [*argv, f"hydra.job.config.override_dirname.exclude_keys=[{keys}]"]


def run_label(name: str | None, task: str, model: str, seq_len: int | str) -> str:
    """A single run's folder: ``<time>_<name>``, or ``<time>_<task>-<model>-seq<seq_len>`` unnamed."""
    return name or f"{task}-{model}-seq{seq_len}"


def suffix(name: str | None) -> str:
    """A sweep's folder: ``<time>_<name>``, or ``<time>`` unnamed."""
    return f"_{name}" if name else ""
