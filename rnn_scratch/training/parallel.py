"""How one job of a sweep shares the machine: CPU threads per job, and which GPU it trains on.

Hydra's launchers start the jobs but leave resources to them. Run in parallel by joblib, every job
would ask torch for all the cores (2 jobs x 2 threads on 2 cores: oversubscribed, slower than one job at
a time), and every GPU job would land on GPU 0. These functions decide from plain numbers (no Hydra
here; ``scripts/train.py`` reads them from ``HydraConfig``):

* threads: one torch thread per job on this machine (joblib, or the basic launcher's one job at a
  time), as a single run has. A launcher cannot know what else the cores are doing: beside other work
  (load average 7 on 2 cores), a 2-job sweep at ``n_jobs=1`` took 29.4 s on one thread per job and
  225.9 s on two (``docs/sweeps.md``). One thread also keeps a sweep job's numbers bitwise those of the
  same run started alone. A submitit job has its own allocation: it gets ``cpus_per_task`` threads when
  that is set. ``threads=N`` overrides either.
* GPU: job ``num`` trains on GPU ``num % device_count``, unless a scheduler already gave each job its
  own GPUs (submitit's local and Slurm executors set ``CUDA_VISIBLE_DEVICES`` per job).
"""

from __future__ import annotations

from collections.abc import Mapping

# Set in every job that submitit starts (local and Slurm), which also sets CUDA_VISIBLE_DEVICES per job.
SCHEDULER_ENV = ("SUBMITIT_EXECUTOR",)


def launcher_name(target: str) -> str:
    """``joblib``, ``submitit`` or ``basic``, from the launcher's ``_target_`` class path."""
    if "joblib" in target.lower():
        return "joblib"
    if "submitit" in target.lower():
        return "submitit"
    return "basic"


def job_threads(launcher: str, cpus_per_task: int | None = None) -> int | None:
    """Threads for one job of a multirun by ``launcher`` (see ``launcher_name``): ``cpus_per_task`` for
    a submitit job that sets it (its allocation is its own), else None = a single run's default, one
    thread (bitwise reproducible; more would oversubscribe cores that other jobs or processes share)."""
    if launcher == "submitit" and cpus_per_task:
        return cpus_per_task
    return None


def gpus_assigned_by_scheduler(env: Mapping[str, str]) -> bool:
    """True when a scheduler set this job's CUDA_VISIBLE_DEVICES (its GPUs are its own already)."""
    return "CUDA_VISIBLE_DEVICES" in env and any(env.get(key) for key in SCHEDULER_ENV)


def choose_gpu(job_num: int | None, device_count: int, env: Mapping[str, str]) -> int | None:
    """The CUDA device index for job ``job_num`` of a sweep, or None to leave torch's current device.

    None for a single run (``job_num`` None), without GPUs, or when a scheduler assigned the GPUs;
    else round-robin over the visible devices, so parallel jobs spread over them.
    """
    if job_num is None or device_count <= 0 or gpus_assigned_by_scheduler(env):
        return None
    return job_num % device_count
