"""Opening a run never runs its code: checkpoints hold tensors and plain values, every load reads them
with ``torch.load(weights_only=True)``, and a crafted, foreign or malformed checkpoint given to
``scripts/sample.py``, ``scripts/analyze.py`` or ``scripts/train.py resume=<folder>`` is refused in one
line naming the file (exit 2) while its payload never runs."""

from __future__ import annotations

import pickle
import random
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from conftest import ROOT, TINY, run_script

from rnn_scratch.errors import ConfigError
from rnn_scratch.training.checkpoint import CHECKPOINT, load_checkpoint, rng_state, set_rng_state


class Payload:
    """Unpickling this writes a marker file: the proof that a load ran the file's code."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, ...]:
        return (Path.touch, (self.marker,))


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One tiny finished run (the checkpoint is read before anything asks what task it had)."""
    run = tmp_path_factory.mktemp("made") / "run"
    proc = run_script([*TINY, "threads=1", f"hydra.run.dir={run}"], cwd=run.parent)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return run


def test_a_checkpoint_reads_with_weights_only_and_restores_every_rng(finished_run: Path) -> None:
    saved = torch.load(finished_run / CHECKPOINT, map_location="cpu", weights_only=True)
    assert {"model", "optimizer", "rng", "config"} <= set(saved)
    generator = torch.Generator().manual_seed(3)
    random.seed(1), np.random.seed(2), torch.manual_seed(4)  # noqa: NPY002
    state = rng_state(generator)
    torch.save(state, finished_run.parent / "rng.pt")
    state = torch.load(finished_run.parent / "rng.pt", weights_only=True)
    drawn = (
        random.random(),
        np.random.rand(),  # noqa: NPY002 - the legacy global RNG a run seeds
        torch.rand(1).item(),
        torch.rand(1, generator=generator).item(),
    )  # noqa: NPY002
    random.seed(9), np.random.seed(9), torch.manual_seed(9), generator.manual_seed(9)  # noqa: NPY002
    set_rng_state(state, generator)
    again = (
        random.random(),
        np.random.rand(),  # noqa: NPY002
        torch.rand(1).item(),
        torch.rand(1, generator=generator).item(),
    )  # noqa: NPY002
    assert again == drawn  # every generator continues where it was saved (draws of the same RNG: exact)


def crafted(folder: Path, kind: str, marker: Path) -> None:
    """A copy of a run folder whose checkpoint is a crafted pickle, a foreign file or a malformed one."""
    path = folder / CHECKPOINT
    if kind == "torch.save":  # the format torch writes, with the payload among the weights
        torch.save({"model": Payload(marker), "config": {}}, path)
    elif kind == "pickle":  # a plain pickle (protocol 2: GLOBAL opcodes, the form older torch wrote)
        path.write_bytes(pickle.dumps({"model": Payload(marker)}, protocol=2))
    elif kind == "foreign":  # a file of tensors that is not a run's checkpoint
        torch.save({"weights": torch.zeros(2)}, path)
    else:  # truncated
        path.write_bytes(b"PK\x03\x04 not a whole file")


ENTRY_POINTS = {
    "sample": lambda run: (["--length", "5", str(run)], ROOT / "scripts" / "sample.py"),
    "analyze": lambda run: ([str(run)], ROOT / "scripts" / "analyze.py"),
    "resume": lambda run: (
        [*TINY, "threads=1", f"resume={run}", f"hydra.run.dir={run.parent / 'new'}"],
        ROOT / "scripts" / "train.py",
    ),  # fmt: skip
}


@pytest.mark.parametrize("kind", ["torch.save", "pickle", "foreign", "truncated"])
@pytest.mark.parametrize("entry", list(ENTRY_POINTS))
def test_a_crafted_checkpoint_runs_nothing_and_is_refused_in_one_line(
    finished_run: Path, tmp_path: Path, entry: str, kind: str
) -> None:
    run = tmp_path / "shared_run"
    shutil.copytree(finished_run, run)
    if entry == "resume":  # an unfinished run, so that resume reads its checkpoint
        (run / "metrics.json").unlink()
    marker = tmp_path / "payload_ran"
    crafted(run, kind, marker)
    args, script = ENTRY_POINTS[entry](run)
    proc = run_script(args, cwd=tmp_path, script=script)
    assert not marker.exists(), f"{entry} ran the checkpoint's payload"
    assert proc.returncode == 2, proc.stdout[-2000:] + proc.stderr[-2000:]
    lines = proc.stderr.strip().splitlines()
    assert (
        len(lines) == 1 and lines[0].startswith("error: checkpoint: ") and str(run / CHECKPOINT) in lines[0]
    )
    assert not (tmp_path / "new").exists()  # resume: nothing written


def test_the_payload_would_run_under_the_old_load(tmp_path: Path) -> None:
    """The test above can fail: the same file loaded as before (weights_only=False) runs its payload."""
    marker = tmp_path / "payload_ran"
    crafted(tmp_path, "torch.save", marker)
    torch.load(tmp_path / CHECKPOINT, weights_only=False)
    assert marker.exists()
    marker.unlink()
    with pytest.raises(ConfigError, match="checkpoint: .*refused"):
        load_checkpoint(tmp_path / CHECKPOINT)
    assert not marker.exists()


def test_no_load_in_the_package_allows_pickled_code() -> None:
    for path in [*(ROOT / "rnn_scratch").rglob("*.py"), *(ROOT / "scripts").glob("*.py")]:
        text = path.read_text()
        assert "weights_only=False" not in text, path
        assert text.count("torch.load(") <= text.count("weights_only=True"), path
