"""Which run a job continues, or skips: resume from a checkpoint, or return a finished run's metrics.

A run folder holds ``checkpoint.pt`` (written every ``checkpoint_every`` steps) and, once the run
ends, ``metrics.json``. ``resume_from`` picks the folder to continue; ``check_same_run`` refuses a
checkpoint written by another configuration; ``finished_metrics`` lets a study re-launched into its
own folders (``skip_completed``) redo only what is missing; ``check_folder_free`` refuses to start a
fresh run in a folder that already holds a finished one (one run folder, one run's events);
``results_dir`` names the folder that receives a run's results.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path
from typing import Any

from rnn_scratch.tasks.registry import as_named_now
from rnn_scratch.training.checkpoint import CHECKPOINT, load_checkpoint
from rnn_scratch.training.config import ConfigError, TrainConfig
from rnn_scratch.training.record import RunRecord
from rnn_scratch.training.version import code_version


def resume_from(cfg: TrainConfig, out_dir: Path) -> Path | None:
    """The run folder to continue, if any. ``resume=None`` continues an unfinished run in ``out_dir``
    (how a requeued cluster job picks up); ``true`` insists on it; a path names another run folder."""
    choice = (cfg.resume or "").lower()
    if choice in ("false", "no"):
        return None
    if choice in ("", "true", "yes"):
        unfinished = (out_dir / CHECKPOINT).exists() and not _completed(out_dir)
        if choice and not (out_dir / CHECKPOINT).exists():
            raise ConfigError("resume", f"no {CHECKPOINT} in {out_dir} to resume from")
        return out_dir if (unfinished or choice) else None
    folder = Path(cfg.resume)  # type: ignore[arg-type]
    if not (folder / CHECKPOINT).is_file():
        raise ConfigError("resume", f"no {CHECKPOINT} in {folder}")
    return folder


def results_dir(cfg: TrainConfig, out_dir: Path) -> Path:
    """The folder that receives the run's checkpoint, events and metrics: the folder ``resume`` names,
    when it names one (the run continues in its own folder), else ``out_dir``."""
    choice = (cfg.resume or "").lower()
    return out_dir if choice in ("", "true", "yes", "false", "no") else Path(cfg.resume)  # type: ignore[arg-type]


def check_folder_free(cfg: TrainConfig, out_dir: Path) -> None:
    """A fresh run never overwrites a finished one: refuse a folder whose ``metrics.json`` says finished
    (naming the keys whose values differ, if any), so its events never mix with another run's."""
    record = RunRecord.read(out_dir)
    if not record.status.finished:
        return
    saved, now = (
        with_defaults(record.config, cfg),
        json.loads(json.dumps(dataclasses.asdict(cfg), default=str)),
    )
    differ = [f"{k}={saved.get(k)!r}" for k, v in now.items() if k not in FREE_KEYS and saved.get(k) != v]
    what = f"of another config ({', '.join(differ[:4])})" if differ else "of this config"
    raise ConfigError(
        "hydra.run.dir",
        f"{out_dir} already holds a finished run {what}: give another folder, or resume=true to continue it",
    )


def _completed(run_dir: Path) -> bool:
    return RunRecord.read(run_dir).status.ended


# Keys that change neither the weights nor the data a run sees: where it runs, what it is called, how
# often it saves, how it reacts to trouble, what the instruments draw.
FREE_KEYS = frozenset({
    "resume", "device", "threads", "name", "checkpoint_every", "on_diverge", "skip_completed",
    "heatmap_range", "analysis",
})  # fmt: skip


def finished_metrics(cfg: TrainConfig, out_dir: Path) -> dict[str, Any] | None:
    """``skip_completed``: the metrics of a run already finished in ``out_dir`` (completed, solved or
    diverged) with the same config but for the keys that do not shape it, else None."""
    record, metrics = RunRecord.load(out_dir)
    if not record.status.finished:
        return None
    saved, now = (
        with_defaults(record.config, cfg),
        json.loads(json.dumps(dataclasses.asdict(cfg), default=str)),
    )
    same = all(saved.get(k) == v for k, v in now.items() if k not in FREE_KEYS)
    return metrics if same and same_code(metrics) else None  # the file as written


def recorded_hash(metrics: dict[str, Any]) -> str | None:
    """The code hash a run's ``metrics.json`` recorded; None for a run made before versions were kept."""
    code = metrics.get("code")
    return code.get("hash") if isinstance(code, dict) else None


def same_code(metrics: dict[str, Any]) -> bool:
    """Whether a finished run was made by the code running now (a run with no recorded version was not)."""
    return recorded_hash(metrics) == code_version()["hash"]


def supersede(cfg: TrainConfig, out_dir: Path) -> Path | None:
    """``skip_completed``: a finished run of the same config made by other code is not kept as this job's
    result; its files move to ``<out_dir>/superseded/<its hash>/`` (nothing is deleted) and the job runs
    again. Returns where they went, None when there was nothing to move."""
    record, metrics = RunRecord.load(out_dir)
    if not (cfg.skip_completed and record.status.finished) or same_code(metrics):
        return None
    saved, now = (
        with_defaults(record.config, cfg),
        json.loads(json.dumps(dataclasses.asdict(cfg), default=str)),
    )
    if not all(saved.get(k) == v for k, v in now.items() if k not in FREE_KEYS):
        return None  # another config: check_folder_free refuses it, as before
    target = out_dir / "superseded" / (recorded_hash(metrics) or "unrecorded")
    target.mkdir(parents=True, exist_ok=True)
    for name in ("metrics.json", CHECKPOINT, "grad_norms.npz", "tb"):
        if (out_dir / name).exists():
            shutil.move(str(out_dir / name), str(target / name))
    return target


def check_same_run(saved: dict[str, Any], cfg: TrainConfig) -> None:
    """A checkpoint continues only the run that wrote it: the keys that shape the run must match
    (``steps`` may grow: that is what resuming with a larger budget means)."""
    free = FREE_KEYS | {"steps"}
    now = dataclasses.asdict(cfg)
    depth = with_defaults(saved, cfg)["model"].get("num_layers", 1)
    if depth != cfg.model.num_layers:  # the one difference the weights themselves cannot absorb
        raise ConfigError(
            "model.num_layers",
            f"the checkpoint is {depth}-layer, this run {cfg.model.num_layers}-layer; cannot resume",
        )
    for key, value in with_defaults(saved, cfg).items():
        if key not in free and now.get(key) != value:
            raise ConfigError(key, f"differs from the checkpoint's ({value!r}); cannot resume")


def with_defaults(saved: dict[str, Any], cfg: Any) -> dict[str, Any]:
    """``saved`` (a run's config as written) with every option added to ``cfg``'s schema since then, at
    its default: a run written before an option existed ran as its default does (``task.distractors``
    was added with ``separate``, the behaviour before it), so it is still the same config; and its task
    under the name it has now (``recall`` with keys distractors is ``recall_keys``)."""
    filled = dict(saved)
    if isinstance(filled.get("task"), dict):  # a task named since (recall_keys) is still the same task
        filled["task"] = as_named_now(filled["task"])
    for f in dataclasses.fields(cfg):
        value = getattr(cfg, f.name)
        if dataclasses.is_dataclass(value) and isinstance(filled.get(f.name), dict):
            filled[f.name] = with_defaults(filled[f.name], value)
        elif f.name not in filled and f.default is not dataclasses.MISSING:
            filled[f.name] = json.loads(json.dumps(f.default, default=str))
    return filled


def check_folder(cfg: TrainConfig, out_dir: Path) -> None:
    """Raise ``ConfigError`` if running ``cfg`` in ``out_dir`` would overwrite a finished run or continue
    another config's checkpoint; what ``setup`` decides, asked before anything is written (a script
    calls it before its framework writes its own files into the folder)."""
    if cfg.skip_completed and finished_metrics(cfg, out_dir) is not None:
        return
    if (moved := supersede(cfg, out_dir)) is not None:
        print(f"skip_completed: {out_dir} held a finished run of other code; kept in {moved}, running again")
    source = resume_from(cfg, out_dir)
    if source is None:
        check_folder_free(cfg, out_dir)
    else:
        check_same_run(load_checkpoint(source / CHECKPOINT)["config"], cfg)
