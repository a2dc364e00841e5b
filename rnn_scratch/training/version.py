"""The code version a run was made with, written into its ``metrics.json`` as ``"code"``.

A study that resumes finished jobs could put runs of different code on one page; the version of each run
lets ``skip_completed`` re-run a job whose code changed and lets the study refuse to publish a page that
mixes versions (``rnn_scratch.study.pages``). Two parts:

* ``hash``: SHA-256 (first 12 hex digits) of what the sources that decide a run *say*, not how they are
  written, in sorted path order: the package's ``*.py`` files but for ``study/`` and ``benchmark/`` (they
  read runs and time code, never change one), and, in a checkout, ``scripts/train.py`` and
  ``configs/**/*.yaml``. A Python file counts as its syntax tree, ``ast.dump`` with docstrings removed
  (comments and formatting never reach the tree); a YAML file as its parsed values (JSON, keys sorted) and
  its ``# @package`` line (the one comment Hydra reads). So rewording a docstring or a comment keeps the
  version, and any added or changed statement, expression or config value makes a new one. A file that does
  not parse counts as its bytes. No git is needed, so a pip-installed copy has a version too.
* ``git``: the checkout's commit and whether its tracked files differ from it (``dirty``); None outside a
  git checkout.

``machine(device)``, written beside it as ``"machine"``, says where the run ran: torch's version, the
processor and the kernels torch chose for it, the threads and the device (float32 results differ across
these in their last bits, which ``--verify``'s tolerance allows for).

``scripts/study.py --verify`` checks what a version cannot: that the results are the same.
"""

from __future__ import annotations

import ast
import hashlib
import json
import platform
import subprocess
from functools import cache
from pathlib import Path
from typing import Any

import torch
import yaml

PACKAGE = Path(__file__).resolve().parents[1]  # rnn_scratch/
ROOT = PACKAGE.parent
NOT_A_RUN = ("study", "benchmark")  # subpackages that never change what a run computes
DIRECTIVE = "# @package"  # Hydra reads this comment: it moves a config's keys, so it is behaviour


def source_files(root: Path = ROOT) -> list[Path]:
    """The files that make the hash, sorted: the package (less ``NOT_A_RUN``), the training script and the
    configs (the last two where ``root`` is a checkout)."""
    package = root / "rnn_scratch"
    files = [p for p in package.rglob("*.py") if p.relative_to(package).parts[0] not in NOT_A_RUN]
    files += [p for p in [root / "scripts" / "train.py"] if p.is_file()]
    files += list((root / "configs").rglob("*.yaml")) if (root / "configs").is_dir() else []
    return sorted(p for p in files if "__pycache__" not in p.parts)


def _strip_docstrings(tree: ast.AST) -> ast.AST:
    """The tree without the string that opens a module, class or function body (its docstring)."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            first = node.body[0] if node.body else None
            if (
                isinstance(first, ast.Expr)
                and isinstance(first.value, ast.Constant)
                and isinstance(first.value.value, str)
            ):
                node.body = node.body[1:] or [ast.Pass()]  # a body of only a docstring stays a body
    return tree


def normalised(path: Path) -> bytes:
    """What a file says: a Python module's syntax tree without docstrings (no line numbers, comments or
    layout), a YAML file's values and ``# @package`` line; a file that does not parse, its bytes."""
    text = path.read_bytes()
    try:
        if path.suffix == ".py":
            return ast.dump(_strip_docstrings(ast.parse(text)), include_attributes=False).encode()
        if path.suffix in (".yaml", ".yml"):
            lines = text.decode().splitlines()
            package = [line.strip() for line in lines if line.strip().startswith(DIRECTIVE)]
            values = json.dumps(yaml.safe_load(text), sort_keys=True, default=str)
            return ("\n".join(package) + "\n" + values).encode()
    except (SyntaxError, ValueError, yaml.YAMLError):
        pass
    return text


def source_hash(root: Path = ROOT) -> str:
    """12 hex digits of SHA-256 over each source file's path (relative to ``root``) and normalised text."""
    digest = hashlib.sha256()
    for path in source_files(root):
        digest.update(path.relative_to(root).as_posix().encode() + b"\0" + normalised(path) + b"\0")
    return digest.hexdigest()[:12]


def git_state(root: Path = ROOT) -> tuple[str | None, bool | None]:
    """(commit, dirty) of the checkout at ``root``; (None, None) when it is not one or git is missing."""
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True,
                                timeout=10, check=True).stdout.strip()  # fmt: skip
        status = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=root,
                                capture_output=True, text=True, timeout=10, check=True).stdout  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        return None, None
    return commit or None, bool(status.strip())


@cache
def code_version() -> dict[str, Any]:
    """This process's code version, computed once (the code it imported at its start)."""
    commit, dirty = git_state()
    return {"hash": source_hash(), "git": commit, "dirty": dirty}


def processor_name() -> str:
    """The CPU's model name (``/proc/cpuinfo`` on Linux), else what ``platform`` knows, else ``unknown``."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def machine(device: str | torch.device) -> dict[str, Any]:
    """Where a run ran, so that a difference between two machines can be traced: torch's version, the
    processor (its model and the instruction set torch chose its CPU kernels for, which
    ``ATEN_CPU_CAPABILITY`` overrides; on CUDA the GPU's name), the intra-op thread count and the device."""
    device = torch.device(device)
    found: dict[str, Any] = {
        "torch": torch.__version__,
        "processor": processor_name(),
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "threads": torch.get_num_threads(),
        "device": str(device),
    }
    if device.type == "cuda":
        found["gpu"] = torch.cuda.get_device_name(device)
    return found
