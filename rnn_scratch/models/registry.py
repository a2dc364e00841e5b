"""The one registry of cells: every list of cells in the code is read from here.

A cell class is registered by decorating it (``@register_cell``) in its own module of
``rnn_scratch.models.cells``, which imports every module in its folder, so a new cell is one new file
there (plus its config, ``configs/model/<name>.yaml``). What the rest of the code asks::

    cell_class("lstm")     -> LSTMCell            every registered cell, by name
    cell_names()           -> ("rnn", "lstm", "gru", ...), by each class's ``order``
    model_names()          -> the cells, then ``torch_<name>`` for each cell with a torch.nn reference
    model_cell("torch_gru") -> GRUCell             the cell a model name stands for (baselines included)

Nothing outside ``rnn_scratch.models`` names a cell class or branches on a cell's type: it asks the
class what it declares (``rnn_scratch.models.base.RecurrentCell``).
"""

from __future__ import annotations

from typing import TypeVar

from rnn_scratch.models.base import RecurrentCell

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
