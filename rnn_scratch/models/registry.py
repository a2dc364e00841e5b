"""The one registry of cells: every list of cells in the code is read from here.

A cell class is registered by decorating it (``@register_cell``) in its own module of
``rnn_scratch.models.cells``, which imports every module in its folder, so a new cell is one new file
there (plus its config, ``configs/model/<name>.yaml``). What the rest of the code asks::

    cell_class("lstm")     -> LSTMCell            every registered cell, by name
    cell_names()           -> ("rnn", "lstm", "gru", ...), by each class's ``order``
    model_names()          -> the cells, then ``torch_<name>`` for each cell with a torch.nn reference
    model_cell("torch_gru") -> GRUCell             the cell a model name stands for (baselines included)
    idle_setting("rnn", "forget_bias", cfg) -> "model.forget_bias: does nothing for model=rnn (...)"

Nothing outside ``rnn_scratch.models`` names a cell class or branches on a cell's type: it asks the
class what it declares (``rnn_scratch.models.base.RecurrentCell``).
"""

from __future__ import annotations

from typing import TypeVar

from rnn_scratch.models.base import RecurrentCell
from rnn_scratch.models.config import ModelConfig

TORCH_PREFIX = "torch_"
"""``torch_<cell>`` is the cell's ``torch.nn`` reference behind the same interface."""

_CELLS: dict[str, type[RecurrentCell]] = {}

C = TypeVar("C", bound=type[RecurrentCell])


def register_cell(cls: C) -> C:
    """Register a cell class under its ``name`` (a class decorator). Registering another class under a
    taken name is an error; registering the same class again (a re-imported module) is not."""
    name = cls.name
    if not name or not name.isidentifier() or name.startswith(TORCH_PREFIX):
        raise ValueError(f"{cls.__name__}.name must be an identifier not starting with {TORCH_PREFIX!r}")
    known = _CELLS.get(name)
    if known is not None and known.__qualname__ != cls.__qualname__:
        raise ValueError(f"cell name {name!r} is taken by {known.__qualname__}")
    _CELLS[name] = cls
    return cls


def unregister_cell(name: str) -> None:
    """Remove a cell (a test's toy cell, once its tests are done)."""
    _CELLS.pop(name, None)


def cell_names() -> tuple[str, ...]:
    """Every registered cell, by its declared ``order`` (then by name)."""
    return tuple(sorted(_CELLS, key=lambda name: (_CELLS[name].order, name)))


def cell_class(name: str) -> type[RecurrentCell]:
    """The cell class registered as ``name``; ValueError naming the choices otherwise."""
    if name not in _CELLS:
        raise ValueError(f"model.name: unknown cell {name!r}; choose one of {', '.join(cell_names())}")
    return _CELLS[name]


def baseline_names() -> tuple[str, ...]:
    """``torch_<name>`` for every cell that declares a ``torch.nn`` reference."""
    return tuple(TORCH_PREFIX + n for n in cell_names() if _CELLS[n].torch_reference is not None)


def model_names() -> tuple[str, ...]:
    """Every value ``model.name`` may take: the cells, then their torch.nn baselines."""
    return (*cell_names(), *baseline_names())


def is_baseline(model: str) -> bool:
    """Whether ``model`` names a torch.nn baseline (``torch_<cell>``)."""
    return model in baseline_names()


def model_cell(model: str) -> type[RecurrentCell]:
    """The cell class a model name stands for: itself, or the cell a ``torch_<cell>`` baseline mirrors."""
    return cell_class(model.removeprefix(TORCH_PREFIX) if is_baseline(model) else model)


# What a torch.nn baseline never reads: it is torch's module with torch's init and backward.
BASELINE_IGNORES = ("init", "init_gain", "gate_init", "forget_bias", "chrono_tmax", "bptt", "truncate")


def idle_setting(model: str, key: str, cfg: ModelConfig) -> str | None:
    """The one line refusing ``model.<key>`` given for ``model`` when, at ``cfg``'s values, it changes
    nothing (``model=rnn model.forget_bias=3``); None when the model reads it. The cell says what it
    reads (``RecurrentCell.ignores``); a key some other cell reads names those cells."""
    if is_baseline(model) and key in BASELINE_IGNORES:
        return f"model.{key}: does nothing for model={model} (torch.nn's module, its own init and backward)"
    why = model_cell(model).ignores(key, cfg) if key != "name" else None
    if why is None:
        return None
    takers = [n for n in cell_names() if cell_class(n).ignores(key, ModelConfig()) is None] if not why else []
    where = f" (it applies to model={', '.join(takers)})" if takers else ""
    return f"model.{key}: does nothing for model={model}{' ' + why if why else ''}{where}"
