"""Speed: the hand-written recurrences timed against ``torch.nn`` and the matmul floor.

* ``timing``: the implementations, interleaved timing, paired ratios (``scripts/benchmark.py``)
* ``report``: its tables as text, CSV, JSON and ``results.md`` (``docs/benchmark/``)

May import: ``models`` (and ``errors``). Sits beside the study, above the training harness.
"""
