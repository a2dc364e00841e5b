"""``compile_steps``: the LSTM's and GRU's steps as compiled kernels change nothing but time.

Compiling takes seconds per kernel (four kernels per dtype), so the parity tests are marked slow;
the fallback and the argument checks compile nothing.
"""

from __future__ import annotations

import pytest
import torch
from torch import Tensor, nn

from rnn_scratch.models.bptt import fused, gru_recurrence, lstm_recurrence
from rnn_scratch.models.layers import Recurrent
from rnn_scratch.models.registry import cell_class

TOL = 1e-10
T, B, H = 7, 3, 5


def run(
    kind: str, compile_steps: bool, truncate: int | None, mask: Tensor | None, strided: bool = False
) -> list[Tensor]:
    """Values, every input's gradient and the state-gradient norms of one float64 recurrence."""
    torch.manual_seed(0)
    g = 4 if kind == "lstm" else 3
    leaves = [torch.randn(T, B, g * H), torch.randn(B, H), torch.randn(B, H), torch.randn(g * H, H) * 0.5]
    leaves.append(torch.randn(g * H))
    u, h0, c0, w, b = (t.double().requires_grad_() for t in leaves)
    # batch-first, as the layer's input projection makes it: strided rows the kernels must not misread
    u_strided = u.detach().transpose(0, 1).contiguous().transpose(0, 1).requires_grad_()
    u = u_strided if strided else u
    norms = [torch.zeros(T, dtype=torch.float64) for _ in range(2)]
    if kind == "lstm":
        hs, c = lstm_recurrence(u, h0, c0, w, b, truncate, mask, *norms, compile_steps=compile_steps)
        outs, inputs = [hs, c], [u, h0, c0, w, b]
    else:
        hs = gru_recurrence(u, h0, w, b, truncate, mask, norms[0], compile_steps=compile_steps)
        outs, inputs = [hs], [u, h0, w, b]
    weights = [torch.randn_like(t) for t in outs]  # every entry's gradient differs
    loss = sum((o * wt).sum() for o, wt in zip(outs, weights, strict=True))
    grads = torch.autograd.grad(loss, inputs)
    return [t.detach() for t in outs] + list(grads) + norms


@pytest.mark.slow
@pytest.mark.parametrize("strided", [False, True], ids=["contiguous", "batch_first_u"])
@pytest.mark.parametrize("truncate", [None, 3], ids=["full", "truncate3"])
@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_compiled_steps_equal_eager(kind: str, truncate: int | None, strided: bool) -> None:
    eager = run(kind, False, truncate, None)
    compiled = run(kind, True, truncate, None, strided)
    assert all(fused.compiled_keys()), "the kernels did not compile: nothing was compared"
    for a, b in zip(eager, compiled, strict=True):
        assert (a - b).abs().max().item() < TOL
    assert eager[-2].abs().sum() > 0  # the norms were written


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_compiled_layer_equals_torch_nn(kind: str) -> None:
    """The layer with ``compile_steps=True`` against torch.nn.LSTM/GRU, values and gradients, 1e-10."""
    torch.manual_seed(1)
    ours = Recurrent(4, H, bptt="manual", compile_steps=True, cell_class=cell_class(kind)).double()
    theirs = (nn.LSTM if kind == "lstm" else nn.GRU)(4, H).double()
    theirs.load_state_dict({f"{n}_l0": p for n, p in ours.state_dict().items()})
    x = torch.randn(T, B, 4, dtype=torch.float64)
    out, _ = ours(x)
    ref, _ = theirs(x)
    weight = torch.randn_like(out)
    (out * weight).sum().backward()
    (ref * weight).sum().backward()
    assert (out - ref).abs().max().item() < TOL
    for name, p in ours.named_parameters():
        assert p.grad is not None
        assert (p.grad - theirs.get_parameter(f"{name}_l0").grad).abs().max().item() < TOL, name


@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_a_failed_compile_says_one_line_and_runs_eager(
    kind: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("no C++ compiler\nsecond line")

    monkeypatch.setattr("torch._inductor.compile_fx.compile_fx", broken)
    monkeypatch.setattr(fused, "_CACHE", {})
    monkeypatch.setattr(fused, "_FAILED", [])
    eager = run(kind, False, None, None)
    first = run(kind, True, None, None)
    again = run(kind, True, 2, None)
    lines = capsys.readouterr().out.splitlines()
    assert lines == ["compile_steps: compilation failed, running eager (RuntimeError: no C++ compiler)"]
    for a, b in zip(eager, first, strict=True):
        assert torch.equal(a, b)  # the eager path itself, bit for bit
    assert len(again) == len(first)


def test_masks_run_eager() -> None:
    """Right-padded batches take the eager path: nothing is compiled for them."""
    mask = torch.ones(T, B, dtype=torch.bool)
    mask[5:, 0] = False
    before = dict(fused._CACHE)
    for kind in ("lstm", "gru"):
        eager, asked = run(kind, False, None, mask), run(kind, True, None, mask)
        assert all(torch.equal(a, b) for a, b in zip(eager, asked, strict=True))
    assert before == fused._CACHE


def test_compile_steps_needs_manual_bptt_and_a_gated_cell() -> None:
    with pytest.raises(ValueError, match="compile_steps"):
        Recurrent(3, 4, bptt="autograd", compile_steps=True, cell_class=cell_class("lstm"))
    with pytest.raises(ValueError, match="compile_steps"):
        Recurrent(3, 4, bptt="manual", compile_steps=True, cell_class=cell_class("rnn"))
