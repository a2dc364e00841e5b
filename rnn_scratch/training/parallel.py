"""How one job of a sweep shares the machine: CPU threads per job, and which GPU it trains on.

Hydra's launchers start the jobs but leave resources to them. Run in parallel by joblib, every job
would ask torch for all the cores (2 jobs x 2 threads on 2 cores: oversubscribed, slower than one job at
a time), and every GPU job would land on GPU 0. These functions decide from plain numbers (no Hydra
here; ``scripts/train.py`` reads them from ``HydraConfig``):

* threads: jobs x threads <= cores. joblib runs ``n_jobs`` jobs at once (-1 = one per core, -2 = all but
  one, as joblib counts), so each gets ``cores // n_jobs`` threads, at least 1. A submitit job has its
  own allocation: it gets ``cpus_per_task`` threads when that is set.
* GPU: job ``num`` trains on GPU ``num % device_count``, unless a scheduler already gave each job its
  own GPUs (submitit's local and Slurm executors set ``CUDA_VISIBLE_DEVICES`` per job).
"""

from __future__ import annotations

import os
from collections.abc import Mapping

# Set in every job that submitit starts (local and Slurm), which also sets CUDA_VISIBLE_DEVICES per job.
SCHEDULER_ENV = ("SUBMITIT_EXECUTOR",)


def available_cpus() -> int:
    """Cores this process may run on (its affinity mask, e.g. under taskset or a Slurm cgroup)."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


def launcher_name(target: str) -> str:
    """``joblib``, ``submitit`` or ``basic``, from the launcher's ``_target_`` class path."""
    if "joblib" in target.lower():
        return "joblib"
    if "submitit" in target.lower():
        return "submitit"
    return "basic"


def concurrent_jobs(n_jobs: int, cpu_count: int) -> int:
    """How many jobs joblib runs at once for ``n_jobs``: negative counts back from all cores + 1."""
    if n_jobs < 0:
        return max(1, cpu_count + 1 + n_jobs)
    return max(1, n_jobs)


def threads_per_job(n_jobs: int, cpu_count: int) -> int:
    """torch threads for each of ``n_jobs`` parallel jobs so that jobs x threads <= cores."""
    return max(1, cpu_count // concurrent_jobs(n_jobs, cpu_count))


def job_threads(
    launcher: str, cpu_count: int, n_jobs: int | None = None, cpus_per_task: int | None = None
) -> int | None:
    """Threads for one job of a multirun by ``launcher`` (see ``launcher_name``); None = a single run's
    default (one thread, bitwise reproducible), right for the basic launcher's one job at a time.
    """
    if launcher == "joblib":
        return threads_per_job(-1 if n_jobs is None else n_jobs, cpu_count)
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
