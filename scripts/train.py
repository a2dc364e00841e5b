"""Train one model: ``python scripts/train.py seq_len=50``; sweep with ``-m seq_len=10,50,100``.

Hydra composes configs/train.yaml with the command-line overrides, validates types against the
dataclasses of rnn_scratch/config.py, and gives the run its folder; ``rnn_scratch.train`` does the rest.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import signal
import sys
from pathlib import Path

import hydra
import torch
from hydra.core.config_store import ConfigStore
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf

from rnn_scratch import parallel
from rnn_scratch.config import ConfigError, TrainConfig, register
from rnn_scratch.train import Diverged, resolve_device, train

log = logging.getLogger("rnn_scratch")
register(ConfigStore.instance())
OmegaConf.register_new_resolver("suffix", lambda name: f"_{name}" if name else "", replace=True)


def share_the_machine(cfg: TrainConfig) -> TrainConfig:
    """A sweep's job: torch threads that fit beside the jobs running with it, a GPU of its own."""
    hydra_cfg = HydraConfig.get()
    if hydra_cfg.mode != RunMode.MULTIRUN:
        return cfg
    launcher = hydra_cfg.launcher
    if cfg.threads is None:
        kind = parallel.launcher_name(launcher.get("_target_", ""))
        threads = parallel.job_threads(
            kind, parallel.available_cpus(), launcher.get("n_jobs"), launcher.get("cpus_per_task")
        )
        cfg = dataclasses.replace(cfg, threads=threads)
    if cfg.device in ("auto", "cuda") and resolve_device(cfg.device).type == "cuda":
        gpu = parallel.choose_gpu(hydra_cfg.job.num, torch.cuda.device_count(), os.environ)
        if gpu is not None:
            torch.cuda.set_device(gpu)  # device "cuda" now means this one, for the whole run
            log.info("job %d: cuda:%d", hydra_cfg.job.num, gpu)
    return cfg


@hydra.main(version_base="1.3", config_path="../configs", config_name="train")
def main(dict_cfg: DictConfig) -> float | None:
    cfg = share_the_machine(OmegaConf.to_object(dict_cfg))  # type: ignore[arg-type]
    out_dir = Path(HydraConfig.get().runtime.output_dir)
    try:
        metrics = train(cfg, out_dir, progress=sys.stderr.isatty())
    except ConfigError as error:
        # One line naming the key, a non-zero exit, and no metrics.json.
        print(f"error: {error}", file=sys.stderr)
        sys.exit(2)
    except Diverged as error:  # on_diverge=raise; metrics.json says "diverged"
        print(f"error: {error}", file=sys.stderr)
        sys.exit(3)
    scores = " ".join(f"{k}={v:.4g}" for k, v in metrics.items() if k.startswith("eval_") and v is not None)
    log.info("%s: %s in %.1fs -> %s", metrics["status"], scores, metrics["wall_time_s"], out_dir)
    if metrics["status"] == "interrupted":  # checkpoint saved: resume=true continues it
        sys.exit(128 + signal.Signals[metrics["signal"]].value)
    return metrics["eval_acc"]


if __name__ == "__main__":
    main()
