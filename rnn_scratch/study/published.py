"""A published page's runs read back from its committed table, ``docs/study/<preset>/summary.csv``.

The results library reads runs from their folders (``runs.load_job``) when ``outputs/`` holds them; a
checkout that has only ``docs/`` has each page's ``summary.csv``: a row per job, the swept keys between
``job`` and ``status``, then what the run measured. ``read_published`` turns the rows back into the
``Job``s and the ``Sweep`` every table, test and figure of the page builder takes, so a page can be
rebuilt from its data alone (``scripts/study.py --report-only`` without runs). What a row does not hold
(the task's solved rule, the batch size) comes from the preset's config as Hydra composes it, with the
row's own keys laid over it; a run is solved exactly as ``RunRecord.solved`` says (its eval passed and the
fresh eval, where measured, meets the rule). Loss curves and gradient profiles are not in the table: the
figures drawn from them are kept as published, not redrawn.
"""

from __future__ import annotations

import csv
from functools import cache
from pathlib import Path
from typing import Any

from rnn_scratch.study.aggregate import group_by_seed, primary_metric, sort_key
from rnn_scratch.study.runs import Job
from rnn_scratch.study.sweep import Sweep, x_key
from rnn_scratch.training.record import Status

SUMMARY = "summary.csv"
GROUPS = ("cell", "model", "task", "tuned")  # keys that are config-group choices (a word, not a number)


def value(text: str) -> Any:
    """A CSV cell as the value ``metrics.json`` held: None for empty, a bool, int or float where it
    reads as one, else the text."""
    if text == "":
        return None
    if text in ("True", "False"):
        return text == "True"
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            continue
    return text


@cache
def preset_config(configs: Path, preset: str, groups: tuple[str, ...] = ()) -> dict[str, Any]:
    """The run config Hydra composes for ``+experiment=<preset>`` and the job's config-group choices
    (``groups``: ``cell=irnn``, ``task=copy``; each tried as an override, then as an addition ``+``), as
    a dict; {} when it does not compose (a preset or group removed since the page was published)."""
    from hydra import compose, initialize_config_dir
    from hydra.core.config_store import ConfigStore
    from hydra.core.global_hydra import GlobalHydra
    from omegaconf import OmegaConf

    from rnn_scratch.training.config import register

    register(ConfigStore.instance())
    overrides = [f"+experiment={preset}"]
    for choice in groups:
        overrides.append(choice if _composes(configs, preset, (*overrides[1:], choice)) else f"+{choice}")
    GlobalHydra.instance().clear()
    try:
        with initialize_config_dir(str(configs.resolve()), version_base="1.3"):
            found = OmegaConf.to_container(compose("train", overrides=overrides))
    except Exception:  # noqa: BLE001 - any composition error: the page says what it can without it
        return {} if not groups else preset_config(configs, preset)
    finally:
        GlobalHydra.instance().clear()
    return {str(k): v for k, v in found.items()} if isinstance(found, dict) else {}


@cache
def _composes(configs: Path, preset: str, overrides: tuple[str, ...]) -> bool:
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    GlobalHydra.instance().clear()
    try:
        with initialize_config_dir(str(configs.resolve()), version_base="1.3"):
            compose("train", overrides=[f"+experiment={preset}", *overrides])
        return True
    except Exception:  # noqa: BLE001
        return False
    finally:
        GlobalHydra.instance().clear()


def row_config(base: dict[str, Any], keys: dict[str, str], row: dict[str, Any]) -> dict[str, Any]:
    """The run's config: ``base`` (composed with the row's group choices), its other swept keys laid
    over it (a dotted key such as ``optim.lr`` into its section), and its budget as the row recorded it."""
    config: dict[str, Any] = {k: dict(v) if isinstance(v, dict) else v for k, v in base.items()}
    for key, text in keys.items():
        if "." in key:
            section, _, name = key.partition(".")
            config[section] = {**(config.get(section) or {}), name: value(text)}
        elif key not in GROUPS:
            config[key] = value(text)
    batch, budget = config.get("batch_size"), row.get("budget_sequences")
    if batch and budget:
        config["steps"] = int(budget) // int(batch)  # the budget the run had, in steps
    if row.get("tuned_on") is not None:  # the record's identity, as its row keeps it
        config["tuned_on"] = row["tuned_on"]
    if row.get("lr") is not None:
        config["optim"] = {**(config.get("optim") or {}), "lr": row["lr"]}
    return config


def job_from_row(row: dict[str, str], keys: list[str], configs: Path, preset: str, folder: Path) -> Job:
    """One row of ``summary.csv`` as the ``Job`` its run folder would have given."""
    swept = {k: row[k] for k in keys}
    base = preset_config(configs, preset, tuple(f"{k}={swept[k]}" for k in keys if k in GROUPS))
    metrics = {k: value(v) for k, v in row.items() if k not in ("job", *keys)}
    status = str(metrics.pop("status") or Status.MISSING.value)
    if row.get("code"):  # a hash is text, even one of digits only ("000000000000", "123e45678901")
        metrics["code"] = {"hash": row["code"]}
    config = row_config(base, swept, metrics)
    task = dict(config.get("task") or {})
    if task.get("name") and status in ("completed", "solved", "diverged"):
        from rnn_scratch.tasks.registry import make_task

        try:
            rule = make_task(task.pop("name"), int(config.get("seq_len") or 0), **task).solved_rule
        except (TypeError, ValueError):
            rule = None
        metrics["solved_rule"] = rule
    metrics["config"] = config
    return Job(folder / row["job"], swept, Status(status), metrics)


def read_rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as f:
        return list(csv.DictReader(f))


def read_published(
    folder: Path, preset: str, configs: Path, order: dict[str, list[str]] | None = None
) -> Sweep | None:
    """The sweep a page published (``folder``: docs/study/<preset>/), read from its ``summary.csv``;
    None without one. ``order``: each key's values in the order the preset lists them."""
    path = folder / SUMMARY
    if not path.is_file():
        return None
    rows = read_rows(path)
    if not rows:
        return None
    columns = list(rows[0])
    keys = columns[1 : columns.index("status")] if "status" in columns else []
    jobs = [job_from_row(r, keys, configs, preset, folder) for r in rows]
    listed = order or {}
    swept = [k for k in keys if len({j.overrides.get(k) for j in jobs}) > 1] or keys
    x = x_key(swept, jobs)
    ordered = [*(k for k in swept if k not in (x, "seed")), *([x] if x else []), "seed"]

    def position(key: str, text: str | None) -> tuple[int, float, str]:
        found = sort_key(text)
        if found[0] == 2 and text in listed.get(key, []):
            return (2, float(listed[key].index(text)), "")
        return found

    jobs.sort(key=lambda j: [position(k, j.overrides.get(k)) for k in ordered if k in swept])
    groups = group_by_seed(jobs, [k for k in ordered if k in swept])
    return Sweep(folder, jobs, swept, x, groups, primary_metric(jobs), listed)
