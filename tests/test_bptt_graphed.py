"""The CUDA-graph switch of the manual recurrences: what a CPU can check, and exactness on a GPU."""

from __future__ import annotations

import pytest
import torch

import rnn_scratch
from rnn_scratch.models.bptt import tanh_recurrence
from rnn_scratch.models.bptt.graphed import graph_key, graph_recurrence

CELLS = ("RNN", "LSTM", "GRU")
T, B, IN, H = 6, 3, 4, 5


@pytest.mark.parametrize("name", CELLS)
def test_cuda_graph_refuses_cpu_tensors_clearly(name: str) -> None:
    layer = getattr(rnn_scratch, name)(IN, H, bptt="manual", cuda_graph=True)
    with pytest.raises(ValueError, match="needs CUDA tensors"):
        layer(torch.randn(T, B, IN))


def test_cuda_graph_needs_manual_bptt() -> None:
    with pytest.raises(ValueError, match="bptt='manual'"):
        rnn_scratch.LSTM(IN, H, bptt="autograd", cuda_graph=True)


@pytest.mark.parametrize("name", CELLS)
def test_calls_a_graph_cannot_take_run_eagerly_and_equal_the_plain_layer(name: str) -> None:
    """No grad, a mask, or the gradient profile: the graphed layer runs its eager path (so on the CPU too)."""
    torch.manual_seed(0)
    graphed = getattr(rnn_scratch, name)(IN, H, bptt="manual", cuda_graph=True).double()
    plain = getattr(rnn_scratch, name)(IN, H, bptt="manual").double()
    plain.load_state_dict(graphed.state_dict())
    x = torch.randn(T, B, IN, dtype=torch.float64)
    mask = torch.ones(T, B, dtype=torch.bool)
    with torch.no_grad():
        assert torch.equal(graphed(x)[0], plain(x)[0])
    assert torch.equal(graphed(x, mask=mask)[0], plain(x, mask=mask)[0])
    graphed.record_state_grads = plain.record_state_grads = True
    for layer in (graphed, plain):
        layer(x)[0].square().sum().backward()
    assert torch.equal(graphed.state_grad_norms["h"], plain.state_grad_norms["h"])
    for (n, p), q in zip(graphed.named_parameters(), plain.parameters(), strict=True):
        assert torch.equal(p.grad, q.grad), n


def test_graph_key_tells_shapes_dtypes_and_grad_flags_apart() -> None:
    a = torch.zeros(2, 3)
    assert graph_key(a) == graph_key(torch.ones(2, 3))
    assert graph_key(a) != graph_key(torch.zeros(3, 2))
    assert graph_key(a) != graph_key(a.double())
    assert graph_key(a) != graph_key(a.clone().requires_grad_())


def test_graph_recurrence_refuses_cpu_tensors() -> None:
    with pytest.raises(ValueError, match="needs CUDA tensors"):
        graph_recurrence(tanh_recurrence, (torch.zeros(T, B, H), torch.zeros(B, H), torch.zeros(H, H)))


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("name", CELLS)
def test_graphed_training_steps_equal_eager_on_the_gpu(name: str) -> None:
    """Three optimiser steps: the graph replays the eager kernels, so losses and weights agree."""
    results = []
    for graph in (False, True):
        torch.manual_seed(0)
        layer = getattr(rnn_scratch, name)(IN, H, bptt="manual", cuda_graph=graph).double().cuda()
        opt = torch.optim.SGD(layer.parameters(), lr=0.1)
        gen = torch.Generator("cuda").manual_seed(0)
        losses = []
        for _ in range(3):
            x = torch.randn(T, B, IN, dtype=torch.float64, device="cuda", generator=gen)
            loss = layer(x)[0].square().mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(loss.item())
        results.append((losses, [p.detach().clone() for p in layer.parameters()]))
    (eager_losses, eager_w), (graph_losses, graph_w) = results
    assert max(abs(a - b) for a, b in zip(eager_losses, graph_losses, strict=True)) < 1e-10
    for a, b in zip(eager_w, graph_w, strict=True):
        assert (a - b).abs().max() < 1e-10
