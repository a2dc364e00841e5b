"""The code version a run was made with, written into its ``metrics.json`` as ``"code"``.

A study that resumes finished jobs could put runs of different code on one page; the version of each run
lets ``skip_completed`` re-run a job whose code changed and lets the study refuse to publish a page that
mixes versions (``rnn_scratch.study.pages``). Two parts:

* ``hash``: SHA-256 (first 12 hex digits) of the sources that decide what a run computes, path and bytes in
  sorted path order: the package's ``*.py`` files but for ``study/`` and ``benchmark/`` (they read runs and
  time code, never change one), and, in a checkout, ``scripts/train.py`` and ``configs/**/*.yaml``. It needs
  no git, so a pip-installed copy has one too. Any edit to those files changes it, a comment included: a
  version says "the same files", not "the same results" (``scripts/study.py --verify`` checks results).
* ``git``: the checkout's commit and whether its tracked files differ from it (``dirty``); None outside a
  git checkout.
"""

from __future__ import annotations

import hashlib
import subprocess
from functools import cache
from pathlib import Path
from typing import Any

PACKAGE = Path(__file__).resolve().parents[1]  # rnn_scratch/
ROOT = PACKAGE.parent
NOT_A_RUN = ("study", "benchmark")  # subpackages that never change what a run computes


def source_files(root: Path = ROOT) -> list[Path]:
    """The files whose bytes make the hash, sorted: the package (less ``NOT_A_RUN``), the training script
    and the configs (the last two where ``root`` is a checkout)."""
    package = root / "rnn_scratch"
    files = [p for p in package.rglob("*.py") if p.relative_to(package).parts[0] not in NOT_A_RUN]
    files += [p for p in [root / "scripts" / "train.py"] if p.is_file()]
    files += list((root / "configs").rglob("*.yaml")) if (root / "configs").is_dir() else []
    return sorted(p for p in files if "__pycache__" not in p.parts)


def source_hash(root: Path = ROOT) -> str:
    """12 hex digits of SHA-256 over each source file's path (relative to ``root``) and bytes."""
    digest = hashlib.sha256()
    for path in source_files(root):
        digest.update(path.relative_to(root).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
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
