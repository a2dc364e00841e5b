"""The run record: what a run writes to ``metrics.json``, and how a reader takes it back.

Training builds one ``RunRecord`` at the end of a run (``rnn_scratch.training.loop.finish``) and writes
``record.to_json()``; resume, the sweep summary and the study read files back with ``RunRecord.read`` and
ask the record, never the raw strings, how the run ended:

* ``status`` (``Status``): ``completed`` (its whole budget), ``solved`` (``stop_when_solved``: the first
  eval that met the task's rule and that the fresh set confirmed; the run stopped there, or it was the
  last), ``diverged`` (a non-finite loss or gradient, or a loss above ``diverge_above``),
  ``interrupted`` (SIGINT, SIGTERM: a checkpoint to resume from). A folder read back
  without a ``metrics.json`` is ``missing``; with one no run wrote, ``unreadable``.
* **finished** (completed, solved, diverged): a result, counted in a group's n; **ended** (completed,
  solved): nothing left to resume.
* **solved** (``RunRecord.solved``, the one place that decides it; the study's tables, the tuning
  objective and the sweep summary all ask it): the task's rule held at an eval (``steps_to_solve`` is not
  null) and, where the run measured a fresh eval (``final_eval_size`` new sequences), the fresh eval meets
  the rule too. Training confirms each passing eval on the fresh set before it counts it, and a run that
  stops on a pass reports that confirming eval as its fresh eval, so for runs of this code the second
  clause always holds; it decides only for records written before (an early stop on a pass the final
  fresh eval then missed: unsolved). ``metrics.json``'s ``solved`` is this, or null without a rule.

The file's layout is fixed (tests, docs and every finished study read it): the keys in the order
``status, diverged, steps``, the run's last measured values (``measured``: train and eval metrics,
gradient norms, dynamics, the task's baselines), ``steps_to_solve, sequences_to_solve, budget_sequences,
solved_rule, solved``, what was recorded at the end (``end``: clipped fraction, wall time, throughput,
device, the code version and the machine (``rnn_scratch.training.version``), the forward and backward
views, the fresh eval, the divergence or signal), ``config``. A file written by an older version (fewer
keys) reads with the missing ones as null (``machine`` then holds only the device it recorded).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any

from rnn_scratch.tasks.registry import make_task


class Status(str, Enum):
    """How a run ended (written by training), or why a folder holds no record (read back)."""

    COMPLETED = "completed"
    SOLVED = "solved"
    DIVERGED = "diverged"
    INTERRUPTED = "interrupted"
    MISSING = "missing"  # read back: no metrics.json (not run, still running, or killed)
    UNREADABLE = "unreadable"  # read back: a metrics.json that is not a run's record

    def __str__(self) -> str:  # the word itself in f-strings and tables, on every Python version
        return self.value

    def __format__(self, spec: str) -> str:
        return format(self.value, spec)

    @property
    def finished(self) -> bool:
        """A result: the run counts in its group's n (a diverged run as unsolved)."""
        return self in (Status.COMPLETED, Status.SOLVED, Status.DIVERGED)

    @property
    def ended(self) -> bool:
        """Ran to its end or to its solve: nothing left to resume."""
        return self in (Status.COMPLETED, Status.SOLVED)


FINISHED = frozenset(s for s in Status if s.finished)
# The statuses of a run that gave no result, in the order the pages list them, then the diverged ones.
NOT_A_RESULT = (Status.MISSING, Status.UNREADABLE, Status.INTERRUPTED, Status.DIVERGED)

# keys of metrics.json the record holds in its own fields (the rest go to ``measured`` or ``end``)
_HEAD = ("status", "diverged", "steps")
_SOLVE = ("steps_to_solve", "sequences_to_solve", "budget_sequences", "solved_rule", "solved")


def as_eval(found: dict[str, Any]) -> dict[str, Any]:
    """The ``fresh_eval_*`` metrics of ``found`` as the eval metrics ``Task.solved`` reads
    (``fresh_eval_acc`` -> ``acc``; its size and step and unmeasured values left out)."""
    skip = ("fresh_eval_size", "fresh_eval_step")
    prefix = "fresh_eval_"
    return {
        k[len(prefix) :]: v
        for k, v in found.items()
        if k.startswith(prefix) and k not in skip and v is not None
    }


def identity(config: dict[str, Any], choices: dict[str, str] | None = None) -> dict[str, Any]:
    """What a run is, as the study names it, from its config (``TrainConfig`` as a dict) and the config
    groups Hydra chose (``HydraConfig.runtime.choices``): ``cell``, the ``cell`` group's choice (a
    variant: ``irnn``, ``lstm_tuned``), else the model's name; ``task``; ``tuned_on``, the task a tuned
    config's settings were chosen on (None: untuned); ``lr``, the run's own learning rate."""
    model, task = config.get("model") or {}, config.get("task") or {}
    return {
        "cell": (choices or {}).get("cell") or (choices or {}).get("model") or model.get("name"),
        "model": model.get("name"),
        "task": task.get("name"),
        "tuned_on": config.get("tuned_on"),
        "lr": (config.get("optim") or {}).get("lr"),
    }


@dataclass
class RunRecord:
    """One run's ``metrics.json``: how it ended, its budget and time to solve, its config, and the rest
    of what it measured as two ordered dicts (their keys are the file's own)."""

    status: Status
    steps: int  # the last completed step
    config: dict[str, Any] = field(default_factory=dict)  # TrainConfig as a dict
    measured: dict[str, Any] = field(default_factory=dict)  # train_*/eval_* metrics, grad norms, baselines
    steps_to_solve: int | None = None  # the first eval step that met the rule; None: never (or no rule)
    sequences_to_solve: int | None = None  # steps_to_solve x batch_size
    budget_sequences: int | None = None  # steps x batch_size: where a run that never solved is censored
    solved_rule: str | None = None  # None: the task has no rule (names, text, series)
    end: dict[str, Any] = field(default_factory=dict)  # wall time, views at the end, fresh eval, ...

    @property
    def diverged(self) -> bool:
        return self.status == Status.DIVERGED

    @property
    def passed_eval(self) -> bool:
        """The task's rule held at some eval (confirmed on the fresh set, for runs of this code)."""
        return self.steps_to_solve is not None

    @property
    def machine(self) -> dict[str, Any]:
        """Where the run ran (torch, processor, CPU kernels, threads, device: ``version.machine``); a
        record from before machines were recorded gives its device alone, or nothing."""
        found = self.end.get("machine")
        if isinstance(found, dict):
            return found
        return {"device": self.end["device"]} if self.end.get("device") else {}

    @property
    def solved(self) -> bool:
        """Solved, the one meaning: an eval met the rule, and the fresh eval, where one was measured,
        meets it too (``fresh_passes``)."""
        return self.passed_eval and self.fresh_passes() is not False

    def fresh_passes(self) -> bool | None:
        """Whether the recorded fresh eval meets the task's rule; None without a fresh eval or a rule."""
        fresh = as_eval({**self.measured, **self.end})
        task_cfg = dict(self.config.get("task") or {})
        if not fresh or "name" not in task_cfg:
            return None
        task = make_task(task_cfg.pop("name"), int(self.config.get("seq_len") or 0), **task_cfg)
        verdict = task.solved(fresh)
        return None if verdict is None else bool(verdict)

    def to_json(self) -> dict[str, Any]:
        """The dict ``metrics.json`` holds, keys in the file's order (a key of ``measured`` that the
        record owns, e.g. ``steps_to_solve`` set during training, keeps its place and takes the
        record's value)."""
        return {
            "status": self.status.value,
            "diverged": self.diverged,
            "steps": self.steps,
            **self.measured,
            "steps_to_solve": self.steps_to_solve,
            "sequences_to_solve": self.sequences_to_solve,
            "budget_sequences": self.budget_sequences,
            "solved_rule": self.solved_rule,
            "solved": None if self.solved_rule is None else self.solved,
            **self.end,
            "config": self.config,
        }

    @classmethod
    def from_json(cls, data: Any) -> RunRecord:
        """A record from ``metrics.json``'s dict; ``UNREADABLE`` (and nothing else) when it is not one."""
        try:
            status = Status(data["status"])
        except (TypeError, KeyError, ValueError):
            return cls(Status.UNREADABLE, 0)
        if not status.finished and status != Status.INTERRUPTED:
            return cls(Status.UNREADABLE, 0)  # missing/unreadable are a reader's words, never written
        keys = list(data)
        # measured: the keys before the solve block (``steps_to_solve`` may sit among them, where
        # training first set it); end: the keys after it
        split = min((keys.index(k) for k in _SOLVE[1:] if k in keys), default=len(keys))
        owned = {*_HEAD, *_SOLVE, "config"}
        config = data.get("config")
        return cls(
            status,
            int(data.get("steps") or 0),
            config if isinstance(config, dict) else {},
            {k: data[k] for k in keys[:split] if k not in owned or k == "steps_to_solve"},
            data.get("steps_to_solve"),
            data.get("sequences_to_solve"),
            data.get("budget_sequences"),
            data.get("solved_rule"),
            {k: data[k] for k in keys[split:] if k not in owned},
        )

    @classmethod
    def read(cls, run_dir: Path) -> RunRecord:
        """The record in ``run_dir/metrics.json``: ``MISSING`` without the file, ``UNREADABLE`` when it
        cannot be parsed or is not a run's record."""
        return cls.load(run_dir)[0]

    @classmethod
    def load(cls, run_dir: Path) -> tuple[RunRecord, dict[str, Any]]:
        """``read``, and the file's dict as written (``{}`` when missing or not a dict): the study shows
        every measured value by its key, and ``skip_completed`` returns the file as it is."""
        path = Path(run_dir) / "metrics.json"
        if not path.exists():
            return cls(Status.MISSING, 0), {}
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError):
            return cls(Status.UNREADABLE, 0), {}
        return cls.from_json(data), data if isinstance(data, dict) else {}
