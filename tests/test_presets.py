"""A preset carries its study behaviour in its own YAML (``# @study``), and a run's ``metrics.json`` is a
``RunRecord``: the blocks of every preset parse, a bad block fails naming its file, a preset gets its own
section from its YAML alone, each sweep is read once per page build, and records read back what training
wrote (old files too)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from conftest import ROOT

from rnn_scratch.study import sweep as report  # analyse reads each job through sweep.load_job
from rnn_scratch.study.pages import Preset, write_study
from rnn_scratch.study.presets import SMOKE, Study, StudyBlockError, study_presets
from rnn_scratch.training.record import RunRecord, Status

EXPERIMENTS = ROOT / "configs" / "experiment"


def test_every_study_preset_declares_its_part_in_its_yaml() -> None:
    names = study_presets(EXPERIMENTS)
    assert names == [
        "vanishing",
        "cells",
        "contest",
        "stability",
        "adding",
        "hidden",
        "dynamics",
        "series",
        "horizon",
        "memory",
        "chrono",
        "literature",
    ]  # fmt: skip  (the page order: each block's `page`)
    studies = {n: Preset(n, EXPERIMENTS / f"{n}.yaml", Path("runs")).study for n in names}
    assert [n for n, s in studies.items() if s.headline] == ["memory"]
    assert [n for n, s in studies.items() if s.grid == "adaptive"] == ["memory"]
    assert {n: s.section for n, s in studies.items() if s.section} == {
        "contest": "rnn_scratch.study.contest", "stability": "rnn_scratch.study.stability",
        "literature": "rnn_scratch.study.literature", "memory": "rnn_scratch.study.memory",
    }  # fmt: skip
    assert studies["literature"].reads == ("horizon",)
    literature = Preset("literature", EXPERIMENTS / "literature.yaml", Path("runs"))
    # quick: the cited rows alone, three multiruns into literature/<name>; full: the whole grid, one
    assert literature.overrides("quick") == [] and literature.sweeps("full") == {"": ["seed=range(10)"]}
    quick = literature.sweeps("quick")
    assert quick is not None and list(quick) == ["temporal_order_T100", "adding_T100", "adding_T200"]
    assert quick["adding_T200"] == ["task=adding", "seq_len=200", "+cell=rnn,irnn,lstm", "seed=0,1,2"]
    assert literature.overrides("smoke") == [*SMOKE, "+cell=lstm", "seq_len=10"]
    assert Preset("tune", EXPERIMENTS / "tune.yaml", Path("runs")).study.page is None  # not in the study
    # the block stays out of the claim the page quotes
    assert not any("page:" in line for line in Preset("cells", EXPERIMENTS / "cells.yaml", Path("r")).claim())


@pytest.mark.parametrize(
    ("block", "said"),
    [
        ("# page: 1\n# colour: red", "unknown key"),
        ("# page: 1\n# profiles:\n#   huge: [seed=1]", "profile 'huge'"),
        ("# page: 1\n# profiles:\n#   full: seed", "a list of key=value overrides"),
        ("# page: 1\n# profiles:\n#   quick:\n#     a: seed", "a mapping of subfolder"),
        ("# contrast: model", "integer `page`"),
        ("# page: 1\n# section: rnn_scratch.study.stats", "no function section(page)"),
        ("# page: 1\n# section: rnn_scratch.study.nowhere", "No module named"),
        ("# page: [1", "not YAML"),
    ],
)
def test_a_bad_block_fails_naming_its_file(block: str, said: str) -> None:
    with pytest.raises(StudyBlockError, match=re.escape(said)) as error:
        Study.parse(f"name: x\n\n# @study\n{block}\n", "configs/experiment/x.yaml")
    assert str(error.value).startswith("configs/experiment/x.yaml: ")


def fake_job(folder: Path, overrides: list[str], config: dict, solved_at: int | None) -> None:
    (folder / ".hydra").mkdir(parents=True)
    (folder / ".hydra" / "overrides.yaml").write_text("".join(f"- {o}\n" for o in overrides))
    metrics = {"status": "solved" if solved_at else "completed", "diverged": False, "steps": solved_at or 100,
               "eval_acc": 0.95 if solved_at else 0.12, "steps_to_solve": solved_at, "solved_rule": "x",
               "wall_time_s": 1.0, "config": config}  # fmt: skip
    (folder / "metrics.json").write_text(json.dumps(metrics))


def sweeps(tmp_path: Path) -> tuple[Path, Path]:
    """A horizon-like sweep (cells x T x seeds) and a literature-like one: lstm on temporal order at 100."""
    runs = tmp_path / "out"
    for cell in ("rnn", "lstm"):
        for T in (10, 100):
            for seed in (0, 1):
                config = {"seq_len": T, "seed": seed, "steps": 100, "batch_size": 32, "model": {"name": cell},
                          "task": {"name": "temporal_order"}}  # fmt: skip
                solved = 20 if cell == "lstm" or T == 10 else None
                folder = runs / "horizon" / f"+cell={cell},seed={seed},seq_len={T}"
                fake_job(folder, [f"+cell={cell}", f"seq_len={T}", f"seed={seed}"], config, solved)
    for seed in (0, 1):
        config = {"seq_len": 100, "seed": seed, "steps": 100, "batch_size": 32, "model": {"name": "lstm"},
                  "task": {"name": "temporal_order"}}  # fmt: skip
        fake_job(runs / "literature" / f"seed={seed}", [f"seed={seed}"], config, 40)
    return runs / "horizon", runs / "literature"


def test_a_preset_gets_its_section_from_its_yaml_and_each_sweep_is_read_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    horizon, literature = sweeps(tmp_path)
    configs = tmp_path / "experiment"
    configs.mkdir()
    (configs / "h.yaml").write_text("# Claim: h.\nname: h\n\n# @study\n# page: 1\n# headline: horizon.png\n")
    (configs / "lit.yaml").write_text(
        "# Claim: lit.\nname: lit\n\n# @study\n# page: 2\n# section: rnn_scratch.study.literature\n"
        "# reads: [horizon]\n"
    )
    loaded: list[Path] = []
    load_job = report.load_job

    def counted(folder: Path):  # noqa: ANN202
        loaded.append(folder)
        return load_job(folder)

    monkeypatch.setattr(report, "load_job", counted)
    presets = [
        Preset("horizon", configs / "h.yaml", horizon),
        Preset("literature", configs / "lit.yaml", literature),
    ]
    docs = tmp_path / "docs"
    written = write_study(presets, docs, "smoke", [], root=tmp_path)
    assert sorted(loaded) == sorted({*loaded}) and len(loaded) == 8 + 2  # every job folder read once
    page = (docs / "study" / "literature.md").read_text()
    assert (docs / "study.md").is_file()  # the front page, from each preset's findings.json
    # the literature's own section, from its YAML: its runs (2/2) and the horizon's lstm at T = 100 (2/2)
    row = next(line for line in page.splitlines() if line.startswith("| 100 | lstm | solved (T = 100-110)"))
    # 4 runs, not its own 2 (1,280 sequences each): the horizon's two solved at 20 x 32 = 640 joined them
    assert "| 4/4 [0.40, 1.00] |" in row and "640 |" in row
    # the horizon part: any sweep over cells against T
    assert "| cell | T = 10 | T = 100 |" in (docs / "study" / "horizon.md").read_text()
    assert docs / "study" / "headline.png" in written  # the headline named by h.yaml's block
    assert (docs / "study" / "headline.png").read_bytes() == (
        docs / "study" / "horizon" / "horizon.png"
    ).read_bytes()
    # without the block, the same preset has no section of its own and makes no headline
    (configs / "lit.yaml").write_text("# Claim: lit.\nname: lit\n")
    (configs / "h.yaml").write_text("# Claim: h.\nname: h\n")
    presets = [
        Preset("horizon", configs / "h.yaml", horizon),
        Preset("literature", configs / "lit.yaml", literature),
    ]
    written = write_study(presets, tmp_path / "plain", "smoke", [], root=tmp_path)
    assert (
        "| temporal_order | 100 | lstm |" not in (tmp_path / "plain" / "study" / "literature.md").read_text()
    )
    assert not any(p.name == "headline.png" for p in written)


def test_a_record_reads_back_what_training_wrote_and_old_files_load(tmp_path: Path) -> None:
    written = {"status": "solved", "diverged": False, "steps": 40, "train_loss": 0.1, "eval_loss": 0.2,
               "eval_acc": 0.95, "steps_to_solve": 40, "grad_norm_max": 3.0, "chance_acc": 0.125,
               "sequences_to_solve": 1280, "budget_sequences": 3200, "solved_rule": "eval_acc >= 0.9",
               "solved": True, "clipped_fraction": 0.0, "wall_time_s": 2.0, "signal": None,
               "config": {"batch_size": 32}}  # fmt: skip
    (tmp_path / "metrics.json").write_text(json.dumps(written))
    record = RunRecord.read(tmp_path)
    assert record.status == Status.SOLVED and record.solved and not record.diverged and record.status.ended
    assert list(record.to_json().items()) == list(written.items())  # keys, values and their order
    # a file of an older version: no solve block, no diverged flag; a diverged run
    old = {"status": "diverged", "steps": 7, "eval_acc": 0.1, "config": {}}
    (tmp_path / "metrics.json").write_text(json.dumps(old))
    record = RunRecord.read(tmp_path)
    assert (
        record.diverged and record.status.finished and not record.solved and record.budget_sequences is None
    )
    assert f"{record.status}" == "diverged" and record.measured == {"eval_acc": 0.1}
    for text in ('{"status": "running"}', "[1, 2]", "{not json"):  # not a run's record
        (tmp_path / "metrics.json").write_text(text)
        assert RunRecord.read(tmp_path).status == Status.UNREADABLE
    (tmp_path / "metrics.json").unlink()
    assert RunRecord.read(tmp_path).status == Status.MISSING and not Status.MISSING.finished
