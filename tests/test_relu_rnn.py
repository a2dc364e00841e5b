"""The ReLU RNN (``nonlinearity="relu"``) and the IRNN: hand-derived BPTT, parity with torch, the init."""

from __future__ import annotations

import pytest
import torch
from torch import Tensor

from rnn_scratch import RNN
from rnn_scratch.models import ModelConfig, build_model
from rnn_scratch.models.bptt import is_chunk_start, tanh_recurrence

F64 = torch.float64
T, B, IN, H = 7, 3, 4, 5
TOL = 1e-10


def _inputs(seed: int = 0, bias: bool = True) -> tuple[Tensor, ...]:
    g = torch.Generator().manual_seed(seed)
    u = torch.randn(T, B, H, generator=g, dtype=F64, requires_grad=True)
    h0 = torch.randn(B, H, generator=g, dtype=F64, requires_grad=True)
    w = (0.6 * torch.randn(H, H, generator=g, dtype=F64)).requires_grad_()
    b = torch.randn(H, generator=g, dtype=F64, requires_grad=True) if bias else None
    return (u, h0, w, b)


def _relu_loop(u: Tensor, h0: Tensor, w: Tensor, b: Tensor | None, starts: dict[int, Tensor]) -> Tensor:
    """The ReLU recurrence from plain ops; a step in ``starts`` begins from that constant state."""
    hs, h = [], h0
    for t in range(u.shape[0]):
        h = starts.get(t, h)
        a = u[t] + h @ w.t()
        h = torch.relu(a if b is None else a + b)
        hs.append(h)
    return torch.stack(hs)


@pytest.mark.parametrize("bias", [True, False])
def test_gradcheck_relu_full_bptt(bias: bool) -> None:
    u, h0, w, b = _inputs(bias=bias)
    hs = tanh_recurrence(u, h0, w, b, nonlinearity="relu")
    dead = (hs == 0).float().mean().item()
    assert 0.2 < dead < 0.8, "the data must exercise both sides of the ReLU's kink"
    if b is None:
        assert torch.autograd.gradcheck(
            lambda u, h0, w: tanh_recurrence(u, h0, w, nonlinearity="relu"), (u, h0, w)
        )
    else:
        assert torch.autograd.gradcheck(lambda *a: tanh_recurrence(*a, nonlinearity="relu"), (u, h0, w, b))


@pytest.mark.parametrize("k", [1, 2, 3])
def test_gradcheck_relu_truncated(k: int) -> None:
    """Truncated BPTT is the gradient of the recurrence whose chunks start from frozen states."""
    u, h0, w, b = _inputs(seed=k)
    with torch.no_grad():
        hs = _relu_loop(u, h0, w, b, {})
    starts = {t: hs[t - 1].clone() for t in range(T) if is_chunk_start(t, k)}

    def fn(u: Tensor, h0: Tensor, w: Tensor, b: Tensor) -> Tensor:
        ours = tanh_recurrence(u, h0, w, b, truncate=k, nonlinearity="relu")
        return ours + (_relu_loop(u, h0, w, b, starts) - ours).detach()

    assert torch.autograd.gradcheck(fn, (u, h0, w, b))


def test_gradcheck_relu_with_mask() -> None:
    u, h0, w, b = _inputs(seed=5)
    mask = torch.ones(T, B, dtype=torch.bool)
    mask[4:, 0] = False
    mask[2:, 2] = False
    assert torch.autograd.gradcheck(
        lambda *a: tanh_recurrence(*a, mask=mask, nonlinearity="relu"), (u, h0, w, b)
    )


@pytest.mark.parametrize("k", [None, 2])
@pytest.mark.parametrize("bptt", ["manual", "autograd"])
def test_relu_layer_equals_torch_rnn(bptt: str, k: int | None) -> None:
    """Our ReLU layer (either backward) against torch.nn.RNN(nonlinearity='relu') in float64: values,
    the final state and every gradient to 1e-10; truncation against torch's cell, detached every k."""
    torch.manual_seed(0)
    ours = RNN(IN, H, nonlinearity="relu", bptt=bptt, truncate=k).double()
    cell = torch.nn.RNNCell(IN, H, nonlinearity="relu").double()
    cell.load_state_dict(ours.state_dict())
    ref = torch.nn.RNN(IN, H, nonlinearity="relu").double()
    ref.load_state_dict({f"{n}_l0": p for n, p in ours.state_dict().items()})
    g = torch.Generator().manual_seed(1)
    x = torch.randn(T, B, IN, generator=g, dtype=F64)
    h0 = torch.randn(B, H, generator=g, dtype=F64)
    weights = torch.randn(T, B, H, generator=g, dtype=F64)

    out, h = ours(x, h0)
    (out * weights).sum().backward()
    if k is None:
        ref_out, _ = ref(x, h0[None])
    else:
        state, outs = h0, []
        for t in range(T):
            state = state.detach() if is_chunk_start(t, k) else state
            state = cell(x[t], state)
            outs.append(state)
        ref_out = torch.stack(outs)
    (ref_out * weights).sum().backward()
    reference = ref if k is None else cell
    assert (out - ref_out).abs().max() < TOL and torch.equal(h, out[-1])
    assert (out == 0).any() and (out > 0).any()
    for name, p in ours.named_parameters():
        theirs = reference.get_parameter(f"{name}_l0" if k is None else name).grad
        assert p.grad is not None and (p.grad - theirs).abs().max() < TOL, name


def test_relu_differs_from_tanh() -> None:
    """Guards the parity above: the two nonlinearities give different states on the same weights."""
    torch.manual_seed(0)
    relu = RNN(IN, H, nonlinearity="relu", bptt="manual").double()
    tanh = RNN(IN, H, bptt="manual").double()
    tanh.load_state_dict(relu.state_dict())
    x = torch.randn(T, B, IN, dtype=F64)
    assert (relu(x)[0] - tanh(x)[0]).abs().max() > 1e-2


def test_float32_fast_path_matches_torch() -> None:
    torch.manual_seed(0)
    layer = RNN(IN, H, nonlinearity="relu", bptt="manual")
    ref = torch.nn.RNN(IN, H, nonlinearity="relu")
    ref.load_state_dict({f"{n}_l0": p for n, p in layer.state_dict().items()})
    x = torch.randn(T, B, IN)
    out, _ = layer(x)
    ref_out, _ = ref(x)
    assert torch.allclose(out, ref_out, atol=1e-6)
    out.sum().backward()
    ref_out.sum().backward()
    for name, p in layer.named_parameters():
        assert torch.allclose(p.grad, ref.get_parameter(f"{name}_l0").grad, atol=1e-5), name


def test_irnn_init_is_le_et_al() -> None:
    """identity + relu: W_hh = I and both biases zero (Le et al. 2015); identity + tanh keeps the
    input bias (an identity-initialised tanh RNN, not the IRNN)."""
    torch.manual_seed(0)
    irnn = build_model(ModelConfig(name="rnn", nonlinearity="relu", init="identity"), 4, 6, 2)
    assert torch.equal(irnn.core.weight_hh.detach(), torch.eye(6))
    assert torch.equal(irnn.core.bias_hh.detach(), torch.zeros(6))
    assert torch.equal(irnn.core.bias_ih.detach(), torch.zeros(6))
    assert irnn.core.cell.nonlinearity == "relu"
    tanh_identity = build_model(ModelConfig(name="rnn", init="identity"), 4, 6, 2)
    assert torch.equal(tanh_identity.core.bias_hh.detach(), torch.zeros(6))
    assert tanh_identity.core.bias_ih.detach().abs().min() > 0


def test_torch_rnn_baseline_honours_nonlinearity() -> None:
    torch.manual_seed(0)
    ours = build_model(ModelConfig(name="rnn", nonlinearity="relu"), 6, 5, 3).double()
    ref = build_model(ModelConfig(name="torch_rnn", nonlinearity="relu"), 6, 5, 3).double()
    assert ref.core.rnn.nonlinearity == "relu"
    with torch.no_grad():
        for name, p in ours.core.named_parameters():
            ref.core.rnn.get_parameter(f"{name}_l0").copy_(p)
        ref.weight_out.copy_(ours.weight_out)
        ref.bias_out.copy_(ours.bias_out)
    idx = torch.randint(0, 6, (4, 9))
    assert (ours(idx)[0] - ref(idx)[0]).abs().max() < TOL


def test_bad_nonlinearity() -> None:
    with pytest.raises(ValueError, match="nonlinearity"):
        RNN(IN, H, nonlinearity="sigmoid")
