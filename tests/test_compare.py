"""Comparing a re-run with its published row: outcomes exactly, metrics within the stated tolerance; which
published jobs a check draws, and which a certification re-runs; the page a certification marks."""

from __future__ import annotations

from pathlib import Path

import pytest

from rnn_scratch.study.compare import FLOOR, REL_TOL, Comparison, relative
from rnn_scratch.study.ledger import cheapest_per_pair, pair, plan
from rnn_scratch.study.verify import Published, pick_random

ROW = {"job": "seed=0", "status": "solved", "eval_loss": "0.05672449246048927", "steps_to_solve": "32",
       "steps": "32", "saturation_final": "0.0", "wall_time_s": "4.1", "code": "aaaaaaaaaaaa"}  # fmt: skip


def test_float_rounding_passes_and_says_how_far() -> None:
    seen = Comparison()
    # the re-run of the issue: published on one processor, re-made on an AVX2 EPYC
    row = seen.add(ROW, {**ROW, "eval_loss": "0.056724462658166885", "wall_time_s": "9.0", "code": "b"})
    assert row.same and seen.same
    assert seen.largest["eval_loss"] == pytest.approx(5.25e-7, rel=0.01)  # 2.98e-8 / 0.0567
    assert seen.largest_text()[0].startswith("eval_loss 5.3e-07") and "wall_time_s" not in seen.largest
    assert relative(0.0, 1e-9) == pytest.approx(1e-9 / FLOOR) and 1e-9 / FLOOR < REL_TOL  # at zero: absolute


def test_a_metric_beyond_the_tolerance_and_an_outcome_flip_are_failures() -> None:
    seen = Comparison()
    beyond = seen.add(ROW, {**ROW, "eval_loss": repr(0.05672449246048927 * (1 + 3 * REL_TOL))})
    assert not beyond.same and beyond.beyond[0].startswith("eval_loss 0.05672449246048927 published")
    flip = seen.add(ROW, {**ROW, "status": "completed", "steps_to_solve": "", "steps": "300"})
    assert flip.flips == ["solved True published, False now", "status solved published, completed now",
                          "steps_to_solve 32 published, - now", "steps 32 published, 300 now"]  # fmt: skip
    assert seen.add(ROW, {**ROW, "eval_loss": "nan"}).beyond == [
        "eval_loss 0.05672449246048927 published, nan now"
    ]
    assert not seen.same and len(seen.flips) == 4


def job(name: str, wall: str, code: str = "aaaaaaaaaaaa", preset: str = "p", **keys: str) -> Published:
    own = [f"{k.replace('plus_', '+')}={v}" for k, v in keys.items()]
    row = {"job": name, "status": "completed", "wall_time_s": wall, "code": code}
    return Published(preset, row, [f"+experiment={preset}", *own], code)


def test_a_random_check_draws_quick_jobs_of_this_version_reproducibly() -> None:
    jobs = [job(str(i), str(10 * i), "now" if i % 2 else "old") for i in range(12)]
    drawn = pick_random(jobs, 2, 7, {"now"}, 60.0)
    assert drawn == pick_random(jobs, 2, 7, {"now"}, 60.0) and len(drawn) == 2  # the seed decides
    assert all(j.version == "now" and float(j.row["wall_time_s"]) < 60 for j in drawn)
    assert pick_random(jobs, 2, 7, {"other"}, 60.0) == []


def test_certification_reruns_the_cheapest_job_of_each_cell_and_task() -> None:
    lstm, gru = {"plus_cell": "lstm", "task": "recall"}, {"plus_cell": "gru", "task": "recall"}
    jobs = [
        job("a", "5", **lstm),
        job("b", "3", **lstm),
        job("c", "9", **gru),
        job("d", "1", plus_cell="gru", task="adding"),
    ]
    assert pair(jobs[0]) == ("lstm", "recall") and pair(job("e", "1")) == ("-", "-")
    assert sorted(j.row["job"] for j in cheapest_per_pair(jobs)) == ["b", "c", "d"]


def test_the_plan_counts_published_stale_and_unfinished_jobs(tmp_path: Path) -> None:
    jobs = [job("a", "5", "now"), job("b", "7", "old"), job("c", "", "old")]
    jobs.append(Published("p", {"job": "d", "status": "missing", "wall_time_s": ""}, [], "unrecorded"))
    (found,) = plan(jobs, ["p"], "now", tmp_path)
    assert [len(found.published), len(found.stale), len(found.unfinished)] == [1, 2, 1]
    assert not found.current and found.core_seconds() == pytest.approx(7 + 6 + 6)  # median 6 for no time
    assert "p: 1 published at now, 3 missing (2 stale, 1 never finished" in found.line()


def test_a_page_names_its_hardware_and_says_when_it_is_not_at_this_version(tmp_path: Path) -> None:
    import json

    from rnn_scratch.study.pages.preset import code_status, hardware
    from rnn_scratch.study.runs import Job
    from rnn_scratch.training.version import machine

    ran = {"machine": {**machine("cpu"), "processor": "AMD EPYC", "cpu_capability": "AVX2", "torch": "2.13"}}
    jobs = [Job(tmp_path / "a", {}, "completed", {**ran, "code": {"hash": "aaaaaaaaaaaa"}}),
            Job(tmp_path / "b", {}, "solved", {**ran, "code": {"hash": "aaaaaaaaaaaa"}}),
            Job(tmp_path / "c", {}, "completed", {"code": {"hash": "aaaaaaaaaaaa"}})]  # fmt: skip
    assert hardware(jobs) == [("AMD EPYC (AVX2, torch 2.13)", 2)]
    assert hardware(jobs[2:]) == []  # runs from before the machine was recorded
    assert code_status(tmp_path, jobs, "aaaaaaaaaaaa")["state"] == "current"
    found = code_status(tmp_path, jobs, "bbbbbbbbbbbb")
    assert found["state"] == "stale" and found["made"] == {"aaaaaaaaaaaa": 3}
    # certified at the new version: the page's code line is rendered from certified.json, not edited
    (tmp_path / "certified.json").write_text(
        json.dumps({"certified": "bbbbbbbbbbbb", "made": {"aaaaaaaaaaaa": 3}})
    )
    assert code_status(tmp_path, jobs, "bbbbbbbbbbbb")["state"] == "certified"
    # rows the budget added since, made by the certified version: still certified, not mixed
    grown = [*jobs, Job(tmp_path / "d", {}, "solved", {"code": {"hash": "bbbbbbbbbbbb"}})]
    found = code_status(tmp_path, grown, "bbbbbbbbbbbb")
    assert found["state"] == "certified" and found["made"] == {"aaaaaaaaaaaa": 3, "bbbbbbbbbbbb": 1}
    other = [*jobs, Job(tmp_path / "e", {}, "solved", {"code": {"hash": "cccccccccccc"}})]
    assert code_status(tmp_path, other, "bbbbbbbbbbbb")["state"] == "mixed"  # a version it never saw


def test_a_time_budget_runs_the_headline_then_contrasts_then_the_rest(tmp_path: Path) -> None:
    """The order --time-budget spends itself in (each job's fit: tests/test_resume.py)."""
    from rnn_scratch.study.ledger import priority, seconds
    from rnn_scratch.study.presets import Preset

    def preset(name: str, block: str) -> Preset:
        config = tmp_path / f"{name}.yaml"
        config.write_text(f"# @study\n# page: 1\n{block}")
        return Preset(name, config, tmp_path / name)

    presets = [
        preset("rest", ""),
        preset("pair", "# contrast: seq_len\n"),
        preset("head", "# headline: x.png\n"),
    ]
    assert [p.name for p in priority(presets)] == ["head", "pair", "rest"]
    assert seconds("2h") == 7200 and seconds("90m") == 5400 and seconds("600") == 600
    with pytest.raises(ValueError, match="--time-budget: '2x' is not a duration"):
        seconds("2x")
