"""The page builder: a page per preset, ``docs/study/<preset>.md`` with its folder of data and figures,
and the study's front page ``docs/study.md`` (findings first), each rendered from data through the
templates of ``rnn_scratch/study/templates/``.

``publish(preset, ...)`` reads the preset's runs (``outputs/study/<profile>/<preset>/``, when this checkout
has them) or else its published table (``docs/study/<preset>/summary.csv``, ``rnn_scratch.study.
published``), writes its folder (tables, figures, ``findings.json``) and its page, and nothing else.
``front_page`` renders ``docs/study.md`` from every preset's ``findings.json``: nothing re-parses a
published page. ``write_study`` publishes every preset and then the front page; ``update_study`` some.

Layers: this package reads results through the results library (``runs``, ``aggregate``, ``stats``,
``published``, ``report``'s ``Sweep``) and never imports the job planner (``adaptive``, ``verify``,
``ledger``, ``certify``); import-linter's contracts in ``pyproject.toml`` say so.
"""

from __future__ import annotations

from rnn_scratch.study.pages.build import front_page, publish, update_study, write_study
from rnn_scratch.study.presets import Preset

__all__ = ["Preset", "front_page", "publish", "update_study", "write_study"]
