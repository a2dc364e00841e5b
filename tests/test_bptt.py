"""The hand-derived BPTT of rnn_scratch.models.bptt: gradcheck, parity with autograd, truncation, norms."""

from __future__ import annotations

import pytest
import torch
from torch import Tensor

import rnn_scratch
from rnn_scratch import RNN
from rnn_scratch.models.bptt import TanhRecurrence, is_chunk_start, tanh_recurrence

F64 = torch.float64
T, B, IN, H = 7, 3, 4, 5
TRUNCATIONS = [None, 1, 2, 3, T, T + 4]


def _inputs(seed: int = 0, bias: bool = True) -> tuple[Tensor, ...]:
    g = torch.Generator().manual_seed(seed)
    u = torch.randn(T, B, H, generator=g, dtype=F64, requires_grad=True)
    h0 = torch.randn(B, H, generator=g, dtype=F64, requires_grad=True)
    w = (0.8 * torch.randn(H, H, generator=g, dtype=F64)).requires_grad_()
    b = torch.randn(H, generator=g, dtype=F64, requires_grad=True) if bias else None
    return (u, h0, w, b)


def _plain_loop(u: Tensor, h0: Tensor, w: Tensor, b: Tensor | None, starts: dict[int, Tensor]):
    """The recurrence from plain ops; a step in ``starts`` begins from that constant state."""
    hs, h = [], h0
    for t in range(u.shape[0]):
        h = starts.get(t, h)
        a = u[t] + h @ w.t()
        h = torch.tanh(a if b is None else a + b)
        hs.append(h)
    return torch.stack(hs)


@pytest.mark.parametrize("bias", [True, False])
def test_gradcheck_full_bptt(bias: bool) -> None:
    u, h0, w, b = _inputs(bias=bias)
    inputs = (u, h0, w) if b is None else (u, h0, w, b)
    fn = (lambda u, h0, w: tanh_recurrence(u, h0, w)) if b is None else tanh_recurrence
    assert torch.autograd.gradcheck(fn, inputs)


@pytest.mark.parametrize("k", [1, 2, 3, 5])
def test_gradcheck_truncated(k: int) -> None:
    """Truncated BPTT is the exact gradient of the recurrence whose chunks start from constants.

    Freeze each chunk's starting state at its value at the checked point; finite differences of
    that function are what the truncated backward must equal. The value returned is the frozen
    function's, the backward is TanhRecurrence's with ``truncate=k``.
    """
    u, h0, w, b = _inputs(seed=k)
    with torch.no_grad():
        hs = _plain_loop(u, h0, w, b, {})
    starts = {t: hs[t - 1].clone() for t in range(T) if is_chunk_start(t, k)}
    assert starts, "the sequence must have a chunk boundary"

    def fn(u: Tensor, h0: Tensor, w: Tensor, b: Tensor) -> Tensor:
        ours = tanh_recurrence(u, h0, w, b, truncate=k)
        return ours + (_plain_loop(u, h0, w, b, starts) - ours).detach()

    assert torch.autograd.gradcheck(fn, (u, h0, w, b))


def test_truncation_changes_the_gradient() -> None:
    """Guards the gradcheck above: truncation must differ from full BPTT on this data."""
    u, h0, w, b = _inputs()
    grads = [
        torch.autograd.grad(tanh_recurrence(u, h0, w, b, truncate=k)[-1].sum(), (u, w)) for k in (None, 2)
    ]
    assert not torch.allclose(grads[0][0], grads[1][0])
    assert not torch.allclose(grads[0][1], grads[1][1])


def _loss(out: Tensor, h_final: Tensor) -> Tensor:
    """A loss that uses every step's output nonlinearly and the final state."""
    g = torch.Generator().manual_seed(123)
    r = torch.randn(out.shape, generator=g, dtype=out.dtype)
    return (out * r).sum() + (out**2).sum() + 3.0 * h_final.sum()


def _layer(bptt: str, k: int | None, bias: bool = True) -> RNN:
    torch.manual_seed(7)
    layer = RNN(IN, H, bias=bias, bptt=bptt, truncate=k).double()
    layer.cell.init_recurrent("orthogonal", gain=1.2)  # gradients neither vanish nor stay small
    return layer


def _run(layer: RNN, x: Tensor, h0: Tensor) -> dict[str, Tensor]:
    x = x.clone().requires_grad_()
    h0 = h0.clone().requires_grad_()
    layer.record_state_grads = True
    out, h = layer(x, h0)
    _loss(out, h).backward()
    grads = {n: p.grad for n, p in layer.named_parameters()}
    grads.update(x=x.grad, h0=h0.grad, out=out.detach(), norms=layer.state_grad_norms["h"])
    return grads  # type: ignore[return-value]


def _data() -> tuple[Tensor, Tensor]:
    g = torch.Generator().manual_seed(1)
    return torch.randn(T, B, IN, generator=g, dtype=F64), torch.randn(B, H, generator=g, dtype=F64)


def _reference(layer: RNN, x: Tensor, h0: Tensor, k: int | None) -> dict[str, Tensor]:
    """A plain loop over torch.nn.RNNCell with copied weights that detaches every k steps."""
    cell = torch.nn.RNNCell(IN, H, bias=layer.bias).double()
    cell.load_state_dict(layer.state_dict())
    x = x.clone().requires_grad_()
    h = h0.clone().requires_grad_()
    hs = []
    for t in range(T):
        if k is not None and t % k == 0 and t > 0:
            h = h.detach()
        h = cell(x[t], h)
        hs.append(h)
    out = torch.stack(hs)
    loss = _loss(out, h)
    params = [cell.get_parameter(n) for n, _ in layer.named_parameters()]
    grads = torch.autograd.grad(loss, [*params, x, *hs], retain_graph=True)
    result = {n: gr for (n, _), gr in zip(layer.named_parameters(), grads, strict=False)}
    # dL/dh_t of an intermediate tensor is the total gradient reaching it: direct plus recurrent.
    g_h = grads[len(params) + 1 :]
    result["x"] = grads[len(params)]
    result["norms"] = torch.stack([gr.norm() for gr in g_h])
    result["out"] = out.detach()
    return result


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("k", TRUNCATIONS)
def test_manual_equals_autograd_and_reference(k: int | None, bias: bool) -> None:
    x, h0 = _data()
    manual = _run(_layer("manual", k, bias), x, h0)
    auto = _run(_layer("autograd", k, bias), x, h0)
    ref = _reference(_layer("autograd", k, bias), x, h0, k)
    assert set(manual) == set(auto)
    for name in manual:
        assert torch.isfinite(manual[name]).all(), name
        assert (manual[name] - auto[name]).abs().max() < 1e-10, name
    for name in ref:
        assert (manual[name] - ref[name]).abs().max() < 1e-10, name
    assert manual["norms"].shape == (T,)
    assert (manual["norms"] > 0).all()


def test_truncation_reaches_k_steps_back() -> None:
    """With k=T the result is full BPTT; with smaller k the input gradient of early steps differs."""
    x, h0 = _data()
    full = _run(_layer("manual", None, True), x, h0)
    assert torch.equal(_run(_layer("manual", T, True), x, h0)["x"], full["x"])
    cut = _run(_layer("manual", 3, True), x, h0)
    assert not torch.allclose(cut["x"], full["x"])
    # Steps of the last chunk (t = 6) see everything downstream of them, as in full BPTT.
    assert torch.allclose(cut["x"][6:], full["x"][6:], rtol=0, atol=1e-12)


def test_norms_without_recording_and_no_extra_backward() -> None:
    x, h0 = _data()
    layer = _layer("manual", None)
    out, h = layer(x, h0)
    _loss(out, h).backward()
    assert layer.state_grad_norms == {}


def test_forward_indices_manual_equals_autograd() -> None:
    idx = torch.randint(0, IN, (T, B), generator=torch.Generator().manual_seed(3))
    grads = []
    for mode in ("manual", "autograd"):
        layer = _layer(mode, 2)
        out, h = layer.forward_indices(idx)
        _loss(out, h).backward()
        grads.append({n: p.grad for n, p in layer.named_parameters()})
    for name in grads[0]:
        assert (grads[0][name] - grads[1][name]).abs().max() < 1e-10, name


def test_manual_forward_under_no_grad() -> None:
    x, h0 = _data()
    manual, auto = _layer("manual", 2), _layer("autograd", 2)
    manual.record_state_grads = True
    with torch.no_grad():
        out, h = manual(x, h0)
        expected, _ = auto(x, h0)
    assert out.grad_fn is None and not out.requires_grad
    assert torch.allclose(out, expected, rtol=0, atol=1e-12)
    assert torch.equal(h, out[-1])


def test_float32_matches_torch_rnn() -> None:
    torch.manual_seed(0)
    layer = RNN(IN, H, bptt="manual", truncate=None)
    ref = torch.nn.RNN(IN, H)
    ref.load_state_dict({f"{n}_l0": p for n, p in layer.state_dict().items()})
    x = torch.randn(T, B, IN)
    out, h = layer(x)
    ref_out, ref_h = ref(x)
    assert torch.allclose(out, ref_out, atol=1e-6)
    assert torch.allclose(h, ref_h[0], atol=1e-6)
    out.sum().backward()
    ref_out.sum().backward()
    for name, p in layer.named_parameters():
        assert torch.allclose(p.grad, ref.get_parameter(f"{name}_l0").grad, atol=1e-5), name


def test_function_returns_no_grad_for_unneeded_inputs() -> None:
    u, h0, w, b = _inputs()
    h0 = h0.detach()
    hs = TanhRecurrence.apply(u, h0, w, b, None, None)
    (gu,) = torch.autograd.grad(hs.sum(), (u,))
    assert gu.shape == u.shape and h0.grad is None


@pytest.mark.parametrize("kwargs", [{"bptt": "magic"}, {"truncate": 0}, {"truncate": 2.5}])
def test_bad_arguments(kwargs: dict) -> None:
    with pytest.raises(ValueError, match="bptt|truncate"):
        RNN(IN, H, **kwargs)


def test_manual_and_truncation_for_every_cell() -> None:
    for name in ("RNN", "LSTM", "GRU"):
        layer = getattr(rnn_scratch, name)(IN, H, bptt="manual", truncate=3)
        assert "bptt='manual'" in repr(layer) and "truncate=3" in repr(layer)


@pytest.mark.parametrize("k", [None, 2])
def test_autograd_truncation_for_gated_cells(k: int | None) -> None:
    """Truncation detaches the whole state (h and c) in the autograd loop of every cell."""
    for name, ref_cls in (("LSTM", torch.nn.LSTMCell), ("GRU", torch.nn.GRUCell)):
        if not hasattr(rnn_scratch, name):
            continue
        torch.manual_seed(0)
        layer = getattr(rnn_scratch, name)(IN, H, truncate=k).double()
        cell = ref_cls(IN, H).double()
        cell.load_state_dict(layer.state_dict())
        x, _ = _data()
        out, _ = layer(x)
        (out**2).sum().backward()
        state = None
        outs = []
        for t in range(T):
            if state is not None and k is not None and t % k == 0:
                state = tuple(s.detach() for s in state) if isinstance(state, tuple) else state.detach()
            state = cell(x[t], state)
            outs.append(state[0] if isinstance(state, tuple) else state)
        (torch.stack(outs) ** 2).sum().backward()
        for n, p in layer.named_parameters():
            assert torch.allclose(p.grad, cell.get_parameter(n).grad, rtol=0, atol=1e-10), (name, n)


def test_norms_where_no_gradient_arrives() -> None:
    """Loss on the final state only, truncated: earlier chunks get no gradient, and both modes say
    0 there (the autograd loop's hooks never fire; its norms start at zero). The last chunk agrees."""
    x, h0 = _data()
    norms = []
    for mode in ("manual", "autograd"):
        layer = _layer(mode, 3)
        layer.record_state_grads = True
        _, h = layer(x, h0)
        h.sum().backward()
        norms.append(layer.state_grad_norms["h"])
    manual, auto = norms
    assert torch.equal(manual[:6], torch.zeros(6, dtype=F64)) and torch.equal(auto[:6], manual[:6])
    assert (manual[6:] - auto[6:]).abs().max() < 1e-12 and (manual[6:] > 0).all()
