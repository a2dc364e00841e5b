"""Learning works: short-range dependencies are learned, in-process, on a small budget."""

from __future__ import annotations

from pathlib import Path

from rnn_scratch.config import TrainConfig
from rnn_scratch.train import train


def test_recall_at_seq_len_5_is_learned(tmp_path: Path) -> None:
    cfg = TrainConfig(seq_len=5, hidden_size=32, steps=150, eval_every=150, eval_size=512)
    metrics = train(cfg, tmp_path, progress=False)
    assert metrics["status"] == "completed"
    assert metrics["eval_acc"] >= 0.95, metrics
    assert metrics["eval_acc"] > 5 * metrics["chance_acc"]


def test_composed_default_config_is_the_dataclass_default(compose_cfg) -> None:
    """configs/train.yaml and TrainConfig() agree, so a notebook run equals the script's."""
    assert compose_cfg() == TrainConfig()
