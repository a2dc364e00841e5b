"""Every ``python scripts/train.py ...`` command of the README and the docs pages runs as written.

Each command is run for real with a tiny budget appended (later overrides win in Hydra) and its
outputs sent to a temporary folder. Commands with a placeholder (``<partition>``, ``/path/to``) or that
need a cluster or the network are skipped. Sweeps are ``slow``.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
from conftest import ROOT, run_script

PAGES = ["README.md", *(f"docs/{p}.md" for p in ("configuration", "instruments", "runs", "sweeps"))]
TINY = ["steps=2", "eval_size=16", "batch_size=4", "hidden_size=4"]
SKIP = ("<", "/path/to", "slurm", "download=true")


def commands(page: str) -> list[str]:
    """The ``python scripts/train.py`` lines of the page's ```bash blocks, comments dropped."""
    blocks = re.findall(r"```bash\n(.*?)```", (ROOT / page).read_text(), flags=re.S)
    found = []
    for block in blocks:
        for line in block.replace("\\\n", " ").splitlines():
            command = line.split(" #")[0].strip()
            if command.startswith("python scripts/train.py") and not any(s in command for s in SKIP):
                found.append(command)
    return found


CASES = [
    pytest.param(page, command, marks=[pytest.mark.slow] if " -m " in command else [], id=command[24:])
    for page in PAGES
    for command in commands(page)
]


def test_the_quick_start_is_checked() -> None:
    assert "python scripts/train.py seq_len=50" in commands("README.md")


@pytest.mark.parametrize(("page", "command"), CASES)
def test_a_documented_command_runs(tmp_path: Path, page: str, command: str) -> None:
    args = shlex.split(command)[2:]
    if "--help" not in args:
        where = "hydra.sweep.dir" if "-m" in args else "hydra.run.dir"
        args += [*TINY, f"{where}={tmp_path / 'out'}"]
    proc = run_script(args, cwd=tmp_path, timeout=600)
    assert proc.returncode == 0, f"{page}: {command}\n{proc.stderr[-2000:]}"
    if "--help" not in args:
        assert list((tmp_path / "out").rglob("metrics.json")), f"{page}: {command} wrote no metrics.json"
