"""Commands the tool prints (resume, report, tuned config) that work when pasted into bash as printed.

Two grammars stand between a printed line and the run it names. Bash splits words and expands ``$``,
backquotes and ``!``; Hydra then reads each ``key=value``, where a value holding ``=``, ``,``, spaces
or brackets is a grammar error (``mismatched input '='``) or a sweep unless it is quoted. A sweep job's
folder is named by its overrides (``.../clip=null,seq_len=50``), so a path in a printed command is
quoted for Hydra first (``hydra_value``), then each word for bash (``shell_word``). ``hydra_unquote``
reads such a value back as Hydra does, for the checks made before Hydra runs.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterable

# An unquoted Hydra value that reads back as the same string: a path or a plain word. Anything else
# (=, comma, space, brackets, quotes, $, ...) is quoted.
_PLAIN = re.compile(r"[A-Za-z0-9_./:@+-]+")
_QUOTES = "'\""


def hydra_value(text: str) -> str:
    """``text`` as a Hydra override's value that reads back as that string: as it is when plain
    (``outputs/runs/x``), else single-quoted, with a quote (and the backslashes before one) escaped."""
    if _PLAIN.fullmatch(text) and text.lower() not in ("null", "true", "false") and not _number(text):
        return text
    escaped = re.sub(r"(\\*)'", lambda m: m.group(1) * 2 + "\\'", text)
    escaped = re.sub(r"(\\+)$", lambda m: m.group(1) * 2, escaped)  # a trailing backslash before the '
    return f"'{escaped}'"


def _number(text: str) -> bool:
    """Whether Hydra would read ``text`` unquoted as a number (``12``, ``1e3``, ``inf``)."""
    try:
        float(text.replace("_", ""))
    except ValueError:
        return False
    return True


def hydra_unquote(value: str) -> str:
    """A value as given on the command line (``'/x/clip=null'``), read as Hydra reads a quoted string:
    without its quotes, escaped quotes and backslashes undone; a plain value as it is."""
    if len(value) < 2 or value[0] not in _QUOTES or value[-1] != value[0]:
        return value
    quote, inner = value[0], value[1:-1]
    inner = re.sub(r"(\\+)" + quote, lambda m: "\\" * (len(m.group(1)) // 2) + quote, inner)
    return re.sub(r"(\\+)$", lambda m: "\\" * (len(m.group(1)) // 2), inner)


def shell_word(arg: str) -> str:
    """``arg`` as one bash word: as it is when bash leaves it alone, else in double quotes where
    nothing inside expands (``"hydra.run.dir='/x/a=1,b=2'"`` reads better than shlex's nested
    single quotes), else shlex's quoting."""
    if shlex.quote(arg) == arg:
        return arg
    if not set(arg) & set('"$`\\!'):
        return f'"{arg}"'
    return shlex.quote(arg)


def shell_command(words: Iterable[str]) -> str:
    """A command line of ``words``, each quoted for bash (``shell_word``)."""
    return " ".join(map(shell_word, words))
