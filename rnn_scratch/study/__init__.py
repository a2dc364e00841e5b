"""The study: what finished runs say, read from their folders (nothing here trains).

* ``runs``: a job folder read back (its ``metrics.json`` as a ``training.record.RunRecord``);
  ``aggregate``: seeds as an axis, groups and their statistics
* ``stats``: the statistics; ``plots``: the report's figures
* ``report``: a sweep's summary tables and figures (``scripts/report.py``)
* ``horizon``: success against the sequence length per cell, each cell's horizon T50 and its figure
* ``presets``: a preset's ``# @study`` block (profiles, page order, contrast, headline, section module)
* ``contest``, ``stability``, ``literature``: the sections those presets' blocks name (``literature``:
  the literature's long-lag results, cited constants, beside our runs)
* ``pages``: every preset's report and the study page ``docs/study.md`` (``scripts/study.py``)
* ``analyze``: post-hoc dynamics of a run folder (``scripts/analyze.py``)

May import: ``training`` (a run's config, record and eval seed) and everything below it.
"""

from rnn_scratch.study.pages import Preset, update_study, write_study

__all__ = ["Preset", "update_study", "write_study"]
