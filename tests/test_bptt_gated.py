"""Hand-derived BPTT for the LSTM and the GRU (and masks for every cell): gradcheck, equality with
the autograd loop, truncation, padded batches, gradient norms, and a float64 training run."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch
from torch import Tensor

import rnn_scratch
from rnn_scratch.models.bptt import gru_recurrence, is_chunk_start, lstm_recurrence, tanh_recurrence

F64 = torch.float64
T, B, IN, H = 7, 3, 4, 5
CELLS = ("RNN", "LSTM", "GRU")


def _mask() -> Tensor:
    """(T, B) right padding of lengths 7, 4 and 1: every kind of row."""
    return torch.arange(T)[:, None] < torch.tensor([T, 4, 1])[None, :]


def _lstm_loop(u, h, c, w, b, mask, starts):  # type: ignore[no-untyped-def]
    """The LSTM from plain ops (torch's gate order); a step in ``starts`` begins from that constant."""
    hs = []
    for t in range(u.shape[0]):
        h, c = starts.get(t, (h, c))
        i, f, g, o = (u[t] + h @ w.t() + b).chunk(4, -1)
        c_new = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        h_new = torch.sigmoid(o) * torch.tanh(c_new)
        keep = mask[t, :, None] if mask is not None else torch.ones(1, 1, dtype=torch.bool)
        h, c = torch.where(keep, h_new, h), torch.where(keep, c_new, c)
        hs.append(h)
    return torch.stack(hs), c


def _gru_loop(u, h, w, b, mask, starts):  # type: ignore[no-untyped-def]
    hs = []
    for t in range(u.shape[0]):
        h = starts.get(t, h)
        u_r, u_z, u_n = u[t].chunk(3, -1)
        w_r, w_z, w_n = (h @ w.t() + b).chunk(3, -1)
        r, z = torch.sigmoid(u_r + w_r), torch.sigmoid(u_z + w_z)
        h_new = (1 - z) * torch.tanh(u_n + r * w_n) + z * h
        h = h_new if mask is None else torch.where(mask[t, :, None], h_new, h)
        hs.append(h)
    return torch.stack(hs)


def _inputs(gates: int, seed: int) -> list[Tensor]:
    g = torch.Generator().manual_seed(seed)
    shapes = [(T, B, gates * H), (B, H), (B, H), (gates * H, H), (gates * H,)]
    xs = [torch.randn(s, generator=g, dtype=F64) for s in shapes]
    xs[3] *= 0.8
    return [x.requires_grad_() for x in xs]


def _frozen(k: int | None, states: list) -> dict:  # type: ignore[type-arg]
    """The state entering each chunk start, as constants (what truncation detaches)."""
    return {t: states[t - 1] for t in range(T) if is_chunk_start(t, k)}


@pytest.mark.parametrize("k", [None, 1, 3])
@pytest.mark.parametrize("masked", [False, True])
def test_gradcheck_lstm(k: int | None, masked: bool) -> None:
    """Truncated BPTT is the exact gradient of the recurrence whose chunks start from constants:
    the value is the frozen plain loop's, the gradient ``lstm_recurrence``'s."""
    u, h0, c0, w, b = _inputs(4, seed=1 if k is None else k)
    mask = _mask() if masked else None
    with torch.no_grad():
        hs, _ = _lstm_loop(u, h0, c0, w, b, mask, {})
        cs = [_lstm_loop(u[: t + 1], h0, c0, w, b, mask, {})[1] for t in range(T)]
    starts = _frozen(k, [(hs[t].clone(), cs[t].clone()) for t in range(T)])

    def fn(u: Tensor, h0: Tensor, c0: Tensor, w: Tensor, b: Tensor) -> tuple[Tensor, Tensor]:
        ours = lstm_recurrence(u, h0, c0, w, b, truncate=k, mask=mask)
        plain = _lstm_loop(u, h0, c0, w, b, mask, starts)
        return tuple(o + (p - o).detach() for o, p in zip(ours, plain, strict=True))  # type: ignore[return-value]

    assert torch.autograd.gradcheck(fn, (u, h0, c0, w, b), fast_mode=True)


@pytest.mark.parametrize("k", [None, 1, 3])
@pytest.mark.parametrize("masked", [False, True])
def test_gradcheck_gru(k: int | None, masked: bool) -> None:
    u, h0, _, w, b = _inputs(3, seed=1 if k is None else k)
    mask = _mask() if masked else None
    with torch.no_grad():
        hs = _gru_loop(u, h0, w, b, mask, {})
    starts = _frozen(k, [hs[t].clone() for t in range(T)])

    def fn(u: Tensor, h0: Tensor, w: Tensor, b: Tensor) -> Tensor:
        ours = gru_recurrence(u, h0, w, b, truncate=k, mask=mask)
        return ours + (_gru_loop(u, h0, w, b, mask, starts) - ours).detach()

    assert torch.autograd.gradcheck(fn, (u, h0, w, b), fast_mode=True)


def test_gradcheck_tanh_with_mask() -> None:
    u, h0, _, w, b = _inputs(1, seed=2)
    mask = _mask()
    fn: Callable[..., Tensor] = lambda u, h0, w, b: tanh_recurrence(u, h0, w, b, mask=mask)  # noqa: E731
    assert torch.autograd.gradcheck(fn, (u, h0, w, b), fast_mode=True)


def _run(name: str, bptt: str, k: int | None, mask: Tensor | None, bias: bool = True) -> dict[str, Tensor]:
    """Forward + backward of a loss that uses every output and the final state (h and c)."""
    torch.manual_seed(7)
    layer = getattr(rnn_scratch, name)(IN, H, bias=bias, bptt=bptt, truncate=k).double()
    layer.cell.init_recurrent("orthogonal", gain=1.2)
    g = torch.Generator().manual_seed(1)
    x = torch.randn(T, B, IN, generator=g, dtype=F64, requires_grad=True)
    state = layer.cell.initial_state(B, x)
    state = (
        tuple(s.normal_(generator=g).requires_grad_() for s in state) if isinstance(state, tuple) else state
    )
    layer.record_state_grads = True
    out, final = layer(x, state, mask=mask)
    parts = final if isinstance(final, tuple) else (final,)
    r = torch.randn(out.shape, generator=g, dtype=F64)
    loss = (out * r).sum() + (out**2).sum() + sum(3.0 * p.sum() + p.square().sum() for p in parts)
    loss.backward()
    result = {n: p.grad for n, p in layer.named_parameters()}
    result.update(x=x.grad, out=out.detach(), **{f"final{i}": p.detach() for i, p in enumerate(parts)})
    if isinstance(state, tuple):
        result.update(h0=state[0].grad, c0=state[1].grad)
    result.update({f"norm_{key}": v for key, v in layer.state_grad_norms.items()})
    return result  # type: ignore[return-value]


@pytest.mark.parametrize("name", CELLS)
@pytest.mark.parametrize("k", [None, 1, 3, T + 2])
@pytest.mark.parametrize("masked", [False, True])
def test_manual_equals_autograd(name: str, k: int | None, masked: bool) -> None:
    mask = _mask() if masked else None
    manual, auto = _run(name, "manual", k, mask), _run(name, "autograd", k, mask)
    assert set(manual) == set(auto)
    for key in manual:
        if key == "norm_c" and masked:
            continue  # the autograd loop's hook on a carried c_t misses the h_t path; see below
        assert torch.isfinite(manual[key]).all(), key
        assert (manual[key] - auto[key]).abs().max() < 1e-10, key
    assert (manual["norm_h"] > 0).all()


def test_masked_lstm_c_norm_is_the_total_gradient_reaching_each_new_c() -> None:
    """With a mask, ``||dL/dc_t||`` of the manual LSTM is, where every row is real, the total gradient
    reaching the c_t computed by step t (through h_t and later steps), as without a mask. (The
    autograd loop hooks the carried ``where(m, c_new, c_old)`` instead, which misses the h_t path.)"""
    mask = torch.arange(T)[:, None] < torch.tensor([T, 5, 4])[None, :]
    u, h0, c0, w, b = (x.detach() for x in _inputs(4, seed=3))
    norm_c = torch.zeros(T, dtype=F64)
    u.requires_grad_()
    hs, c_last = lstm_recurrence(u, h0, c0, w, b, mask=mask, norm_c=norm_c)
    (hs.square().sum() + c_last.sum()).backward()
    h, c, new_cs, hs_ref = h0, c0, [], []
    for t in range(T):
        i, f, g, o = (u.detach()[t] + h @ w.t() + b).chunk(4, -1)
        c_new = (torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)).requires_grad_()
        new_cs.append(c_new)
        h_new = torch.sigmoid(o) * torch.tanh(c_new)
        h, c = torch.where(mask[t, :, None], h_new, h), torch.where(mask[t, :, None], c_new, c)
        hs_ref.append(h)
    grads = torch.autograd.grad(torch.stack(hs_ref).square().sum() + c.sum(), new_cs)
    expected = torch.stack([gr.norm() for gr in grads])
    assert (norm_c[:4] - expected[:4]).abs().max() < 1e-10


@pytest.mark.parametrize("name", ["rnn", "lstm", "gru"])
def test_training_with_manual_and_autograd_bptt_gives_the_same_loss_curve(name: str) -> None:
    """Same seed, same batches, float64: the two backward passes train the same model."""
    from rnn_scratch.models.classifier import build_model
    from rnn_scratch.tasks import make_task
    from rnn_scratch.training.config import ModelConfig

    task = make_task("recall", 12)
    curves: dict[str, list[float]] = {}
    for mode in ("autograd", "manual"):
        torch.manual_seed(0)
        model = build_model(ModelConfig(name=name, bptt=mode), task.input_size, 16, task.n_outputs).double()
        optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
        generator = torch.Generator().manual_seed(0)
        curves[mode] = []
        for _ in range(40):
            batch = task.sample(16, generator)
            loss = task.loss(model(batch.x)[0], batch.y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            curves[mode].append(loss.item())
    assert max(abs(a - b) for a, b in zip(curves["autograd"], curves["manual"], strict=True)) < 1e-10
    assert curves["manual"][-1] < curves["manual"][0]


@pytest.mark.parametrize("name", ["LSTM", "GRU"])
def test_float32_manual_matches_torch(name: str) -> None:
    torch.manual_seed(0)
    layer = getattr(rnn_scratch, name)(IN, H, bptt="manual")
    ref = getattr(torch.nn, name)(IN, H)
    ref.load_state_dict({f"{n}_l0": p for n, p in layer.state_dict().items()})
    x = torch.randn(T, B, IN)
    out, _ = layer(x)
    ref_out, _ = ref(x)
    assert torch.allclose(out, ref_out, atol=1e-6)
    out.square().sum().backward()
    ref_out.square().sum().backward()
    for n, p in layer.named_parameters():
        assert torch.allclose(p.grad, ref.get_parameter(f"{n}_l0").grad, atol=1e-5), n


@pytest.mark.parametrize("name", CELLS)
def test_bad_mask_is_refused(name: str) -> None:
    layer = getattr(rnn_scratch, name)(IN, H, bptt="manual")
    with pytest.raises(ValueError, match="mask"):
        layer(torch.randn(T, B, IN), mask=torch.ones(T, B))  # float, not bool
