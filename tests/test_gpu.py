"""The CUDA path: the same models, data and training loop on a GPU (skipped without CUDA)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

import rnn_scratch as R
from rnn_scratch.tasks import make_task
from rnn_scratch.training.config import ModelConfig, TrainConfig
from rnn_scratch.training.loop import train

pytestmark = pytest.mark.gpu

PAIRS = [(R.RNN, torch.nn.RNN), (R.LSTM, torch.nn.LSTM), (R.GRU, torch.nn.GRU)]


@pytest.mark.parametrize(("ours", "theirs"), PAIRS)
def test_layers_match_cudnn_on_the_gpu(ours: type, theirs: type) -> None:
    torch.manual_seed(0)
    layer = ours(16, 32).double().cuda()
    ref = theirs(16, 32).double().cuda()
    with torch.no_grad():
        for name, p in layer.named_parameters():
            getattr(ref, f"{name}_l0").copy_(p)
    x = torch.randn(20, 4, 16, dtype=torch.float64, device="cuda")
    out, _ = layer(x)
    ref_out, _ = ref(x)
    assert (out - ref_out).abs().max() < 1e-10
    out.square().sum().backward()
    ref_out.square().sum().backward()
    for name, p in layer.named_parameters():
        assert (p.grad - getattr(ref, f"{name}_l0").grad).abs().max() < 1e-9, name


def test_manual_bptt_matches_autograd_on_the_gpu() -> None:
    torch.manual_seed(0)
    grads = {}
    for mode in ("autograd", "manual"):
        torch.manual_seed(0)
        layer = R.RNN(8, 16, bptt=mode).double().cuda()
        x = torch.randn(30, 4, 8, dtype=torch.float64, device="cuda")
        layer(x)[0][-1].sum().backward()
        grads[mode] = [p.grad for p in layer.parameters()]
    for a, b in zip(grads["autograd"], grads["manual"], strict=True):
        assert (a - b).abs().max() < 1e-10


@pytest.mark.parametrize("name", ["recall", "temporal_order"])
def test_task_data_is_generated_on_the_gpu(name: str) -> None:
    batch = make_task(name, 20).sample(8, torch.Generator("cuda").manual_seed(0))
    assert batch.x.is_cuda and batch.y.is_cuda


@pytest.mark.parametrize("model", ["rnn", "lstm", "torch_gru"])
def test_training_runs_on_cuda(tmp_path: Path, model: str) -> None:
    cfg = TrainConfig(seq_len=10, hidden_size=16, steps=20, eval_every=10, eval_size=64,
                      device="cuda", model=ModelConfig(name=model))  # fmt: skip
    metrics = train(cfg, tmp_path, progress=False)
    assert metrics["status"] == "completed" and metrics["device"].startswith("cuda")
