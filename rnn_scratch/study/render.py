"""Templates filled from data: the pages' prose lives in ``rnn_scratch/study/templates/`` (Jinja2); Python
computes the numbers and the tables (``Table``) and never a sentence.

A ``Table`` is a header and rows of cells already formatted (numbers with their intervals); the ``table``
filter writes it as Markdown. No table is wider than ``MAX_COLUMNS``: a builder that would make one splits
it (``split_columns``) and links the CSV that holds every column, and ``markdown`` refuses a wider one.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined

MAX_COLUMNS = 12  # the widest table a page may hold (issue 36): wider data lives in the linked CSV


@dataclass
class Table:
    """Formatted cells: ``header`` and ``rows`` (each as long as the header)."""

    header: list[str]
    rows: list[list[str]] = field(default_factory=list)
    title: str = ""  # what the columns are split by, when a wide table was split (``split_columns``)

    def __bool__(self) -> bool:
        return bool(self.rows)


def cell(text: Any) -> str:
    """A value safe inside a Markdown table cell (IndRNN's words hold a ``|w|``)."""
    return str(text).replace("|", "\\|").replace("\n", " ")


def markdown(table: Table) -> str:
    """The table as Markdown; ``ValueError`` when it is wider than ``MAX_COLUMNS``."""
    if len(table.header) > MAX_COLUMNS:
        raise ValueError(f"a table of {len(table.header)} columns (at most {MAX_COLUMNS}): {table.header}")
    lines = ["| " + " | ".join(cell(h) for h in table.header) + " |", "|" + "---|" * len(table.header)]
    lines += ["| " + " | ".join(cell(c) for c in row) + " |" for row in table.rows]
    return "\n".join(lines)


def split_columns(table: Table, keep: int = 1, most: int = MAX_COLUMNS) -> list[Table]:
    """``table`` as tables of at most ``most`` columns, each repeating the first ``keep`` columns."""
    if len(table.header) <= most:
        return [table]
    width = most - keep
    out = []
    for start in range(keep, len(table.header), width):
        span = slice(start, start + width)
        out.append(
            Table(
                [*table.header[:keep], *table.header[span]],
                [[*r[:keep], *r[span]] for r in table.rows],
                table.title,
            )
        )
    return out


def number(value: float | None, digits: int = 3) -> str:
    """``0.912``, ``1.2e+04``, ``-`` for None: the pages' one way of printing a value."""
    if value is None:
        return "-"
    if abs(value) >= 1e4 or 0 < abs(value) < 1e-2:
        return f"{value:.{digits}g}"
    return f"{value:.{digits}f}"


def link(path: Path, start: Path) -> str:
    """``path`` relative to the folder of the page at ``start`` (a page carries no absolute path)."""
    return Path(os.path.relpath(path, start)).as_posix()


ENV = Environment(
    loader=PackageLoader("rnn_scratch.study", "templates"),
    undefined=StrictUndefined,  # a key the data lacks is an error, not an empty sentence
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=True,
    autoescape=False,  # Markdown, not HTML
)
ENV.filters["table"] = markdown
ENV.filters["number"] = number
ENV.filters["pct"] = lambda v: "-" if v is None else f"{v:.0%}"
ENV.filters["commas"] = lambda v: "-" if v is None else f"{v:,.0f}"


def render(template: str, **data: Any) -> str:
    """``template`` (a file of ``rnn_scratch/study/templates/``) filled with ``data``; blank runs of more
    than one line collapsed, so a template may leave out a paragraph without leaving a gap."""
    text = ENV.get_template(template).render(**data)
    lines: list[str] = []
    for line in text.splitlines():
        if line.strip() or (lines and lines[-1].strip()):
            lines.append(line.rstrip())
    return "\n".join(lines).strip() + "\n"
