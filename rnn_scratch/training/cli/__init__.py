"""What the scripts do, without Hydra or argparse: ``scripts/*.py`` parse the command line, call these.

* ``usage``: the choices and keys of ``python scripts/train.py --help``, read from ``configs/``
* ``argv``: the command line checked and completed before Hydra writes anything: unknown keys and
  options, a run folder it may not reuse, a sweep's folders named by the keys it varies
* ``values``: the jobs of a sweep whose configs are checked before the first starts, the one-line error
* ``job``: one run or sweep job given the config and what Hydra says of the job (``Job``): threads and
  GPU, train or tune, errors as exit codes, the final line, the command that resumes it
* ``sample``: text from the model of a finished ``task=text`` run (``scripts/sample.py``)

Hydra's objects never reach here: ``scripts/train.py`` hands over plain values (``Override``, ``Job``,
a ``TrainConfig``), so these functions run and are tested without Hydra.
"""
