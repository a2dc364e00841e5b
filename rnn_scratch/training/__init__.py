"""The training harness: one run from a config to a finished folder.

* ``config``: the run's dataclasses (Hydra's schema, the library's arguments) and ``validate``
* ``loop``: ``train(cfg, out_dir)``, read as its phases: setup, step, evaluate, finish
* ``monitor``: TensorBoard: scalars, the per-timestep gradient profile and heatmap, what an eval logs;
  ``instruments``: the hidden-state dynamics logged at eval; ``dashboard``: HParams sessions
* ``checkpoint`` (atomic, with every RNG state) and ``resume`` (which run a job continues or skips)
* ``results``: ``metrics.json``, the HParams values and a sweep's summary line; ``parallel``: threads
  and GPU per sweep job; ``overrides``: command-line keys checked against the schema
* ``cli``: what the scripts do (``scripts/train.py``'s checks, folder naming, ``--help`` and job), given
  plain values

May import: ``models``, ``tasks``, ``analysis``, ``errors``. Never Hydra: ``scripts/train.py`` turns
Hydra's config into a ``TrainConfig`` and its job into a ``cli.job.Job``.
"""
