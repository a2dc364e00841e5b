"""The hand-written cells and layers equal torch.nn's, value for value and gradient for gradient."""

from __future__ import annotations

import io
import tokenize
from functools import partial
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from torch import Tensor, nn

import rnn_scratch
from rnn_scratch import GRU, LSTM, RNN, GRUCell, LSTMCell, RNNCell

TOL = 1e-10
SIZES = [(3, 5, 7, 2), (8, 16, 20, 4), (1, 1, 3, 1)]  # (I, H, T, B)

# kind -> (our cell, torch cell, our layer, torch layer)
KINDS = {
    "rnn": (RNNCell, lambda i, h, bias: nn.RNNCell(i, h, bias, nonlinearity="tanh"), RNN, nn.RNN),
    "rnn_relu": (  # the ReLU RNN: with identity init, Le et al.'s IRNN
        partial(RNNCell, nonlinearity="relu"),
        partial(nn.RNNCell, nonlinearity="relu"),
        partial(RNN, nonlinearity="relu"),
        partial(nn.RNN, nonlinearity="relu"),
    ),
    "lstm": (LSTMCell, nn.LSTMCell, LSTM, nn.LSTM),
    "gru": (GRUCell, nn.GRUCell, GRU, nn.GRU),
}


def parts(state: Tensor | tuple[Tensor, ...]) -> tuple[Tensor, ...]:
    return state if isinstance(state, tuple) else (state,)


def copy_weights(ours: nn.Module, theirs: nn.Module) -> None:
    """Copy torch's parameters into ours; torch's layer names carry an ``_l0`` suffix."""
    theirs_params = {n.removesuffix("_l0"): p for n, p in theirs.named_parameters()}
    with torch.no_grad():
        for name, p in ours.named_parameters():
            p.copy_(theirs_params[name])


def make_pair(kind: str, layer: bool, size: int, hidden: int, bias: bool):
    ours_cls, theirs_cls = KINDS[kind][2:] if layer else KINDS[kind][:2]
    theirs = theirs_cls(size, hidden, bias=bias).double()
    ours = ours_cls(size, hidden, bias=bias).double()
    copy_weights(ours, theirs)
    return ours, theirs


def make_state(kind: str, batch: int, hidden: int, given: bool) -> list[Tensor] | None:
    if not given:
        return None
    n = 2 if kind == "lstm" else 1
    return [torch.randn(batch, hidden, dtype=torch.float64, requires_grad=True) for _ in range(n)]


def assert_close(a: Tensor, b: Tensor) -> None:
    assert a.shape == b.shape
    assert (a - b).abs().max().item() < TOL


def check_grads(ours: nn.Module, theirs: nn.Module, leaves: list[tuple[Tensor, Tensor]]) -> None:
    theirs_params = {n.removesuffix("_l0"): p for n, p in theirs.named_parameters()}
    names = [n for n, _ in ours.named_parameters()]
    assert names == list(theirs_params)
    for name, p in ours.named_parameters():
        assert p.grad is not None and theirs_params[name].grad is not None, name
        assert_close(p.grad, theirs_params[name].grad)
    for a, b in leaves:
        assert a.grad is not None and b.grad is not None
        assert_close(a.grad, b.grad)


def weighted_sum(tensors: tuple[Tensor, ...], weights: tuple[Tensor, ...]) -> Tensor:
    """A loss whose gradient differs for every output entry, so no mistake can cancel out."""
    return sum((t * w).sum() for t, w in zip(tensors, weights, strict=True))  # type: ignore[return-value]


@pytest.mark.parametrize("given", [False, True], ids=["zero_state", "given_state"])
@pytest.mark.parametrize("bias", [True, False], ids=["bias", "no_bias"])
@pytest.mark.parametrize("size", SIZES, ids=lambda s: "I{}H{}T{}B{}".format(*s))
@pytest.mark.parametrize("kind", list(KINDS))
def test_cell_parity(kind: str, size: tuple[int, int, int, int], bias: bool, given: bool) -> None:
    torch.manual_seed(0)
    n_in, hidden, _, batch = size
    ours, theirs = make_pair(kind, False, n_in, hidden, bias)
    x = torch.randn(batch, n_in, dtype=torch.float64, requires_grad=True)
    x2 = x.detach().clone().requires_grad_()
    s = make_state(kind, batch, hidden, given)
    s2 = None if s is None else [t.detach().clone().requires_grad_() for t in s]

    def as_state(ts: list[Tensor] | None):
        return None if ts is None else (tuple(ts) if kind == "lstm" else ts[0])

    out = parts(ours(x, as_state(s)))
    ref = parts(theirs(x2, as_state(s2)))
    assert len(out) == len(ref) == (2 if kind == "lstm" else 1)
    for a, b in zip(out, ref, strict=True):
        assert_close(a, b)

    weights = tuple(torch.randn_like(t) for t in out)
    weighted_sum(out, weights).backward()
    weighted_sum(ref, weights).backward()
    check_grads(ours, theirs, [(x, x2)] + list(zip(s or [], s2 or [], strict=True)))


@pytest.mark.parametrize("given", [False, True], ids=["zero_state", "given_state"])
@pytest.mark.parametrize("bias", [True, False], ids=["bias", "no_bias"])
@pytest.mark.parametrize("size", SIZES, ids=lambda s: "I{}H{}T{}B{}".format(*s))
@pytest.mark.parametrize("kind", list(KINDS))
def test_layer_parity(kind: str, size: tuple[int, int, int, int], bias: bool, given: bool) -> None:
    torch.manual_seed(0)
    n_in, hidden, steps, batch = size
    ours, theirs = make_pair(kind, True, n_in, hidden, bias)
    x = torch.randn(steps, batch, n_in, dtype=torch.float64, requires_grad=True)
    x2 = x.detach().clone().requires_grad_()
    s = make_state(kind, batch, hidden, given)
    s2 = None if s is None else [t.detach().clone().requires_grad_() for t in s]

    ours_state = None if s is None else (tuple(s) if kind == "lstm" else s[0])
    out, final = ours(x, ours_state)
    # torch's layers take and return states with a leading (num_layers,) dimension.
    theirs_state = None if s2 is None else [t.unsqueeze(0) for t in s2]
    if theirs_state is not None:
        theirs_state = tuple(theirs_state) if kind == "lstm" else theirs_state[0]
    ref_out, ref_final = theirs(x2, theirs_state)
    ref_final = tuple(t.squeeze(0) for t in parts(ref_final))

    assert_close(out, ref_out)
    assert len(parts(final)) == len(ref_final) == (2 if kind == "lstm" else 1)
    for a, b in zip(parts(final), ref_final, strict=True):
        assert_close(a, b)

    ours_all = (out, *parts(final))
    weights = tuple(torch.randn_like(t) for t in ours_all)
    weighted_sum(ours_all, weights).backward()
    weighted_sum((ref_out, *ref_final), weights).backward()
    check_grads(ours, theirs, [(x, x2)] + list(zip(s or [], s2 or [], strict=True)))


@pytest.mark.parametrize("bias", [True, False], ids=["bias", "no_bias"])
@pytest.mark.parametrize("layer", [False, True], ids=["cell", "layer"])
@pytest.mark.parametrize("kind", list(KINDS))
def test_parameter_names_and_shapes(kind: str, layer: bool, bias: bool) -> None:
    ours, theirs = make_pair(kind, layer, 3, 5, bias)
    expected = [(n.removesuffix("_l0"), p.shape) for n, p in theirs.named_parameters()]
    assert [(n, p.shape) for n, p in ours.named_parameters()] == expected
    assert list(ours.state_dict()) == [n for n, _ in expected]


@pytest.mark.parametrize("kind", list(KINDS))
def test_default_init_matches_torch_for_a_seed(kind: str) -> None:
    torch.manual_seed(3)
    theirs = KINDS[kind][1](4, 6, True)
    torch.manual_seed(3)
    ours = KINDS[kind][0](4, 6, True)
    for (_, a), (_, b) in zip(ours.named_parameters(), theirs.named_parameters(), strict=True):
        assert torch.equal(a, b)


@pytest.mark.parametrize("kind", list(KINDS))
def test_layer_cell_shares_parameters(kind: str) -> None:
    torch.manual_seed(0)
    layer = KINDS[kind][2](3, 5)
    for _ in range(2):  # before and after a dtype conversion
        for name, p in layer.named_parameters():
            assert getattr(layer.cell, name) is p
        layer = layer.double()
    assert all(p.dtype == torch.float64 for p in layer.cell.parameters())

    with torch.no_grad():
        layer.weight_hh.mul_(2.0)  # a change through the layer is seen by the cell
    x = torch.randn(4, 2, 3, dtype=torch.float64)
    out, _ = layer(x)
    first = layer.cell.hidden(layer.cell(x[0]))
    assert_close(out[0], first)


@pytest.mark.parametrize("bias", [True, False], ids=["bias", "no_bias"])
@pytest.mark.parametrize("kind", list(KINDS))
def test_forward_indices_equals_one_hot(kind: str, bias: bool) -> None:
    torch.manual_seed(0)
    n_in, hidden, steps, batch = 7, 5, 6, 3
    layer = KINDS[kind][2](n_in, hidden, bias=bias).double()
    idx = torch.randint(0, n_in, (steps, batch))
    s = make_state(kind, batch, hidden, True)
    assert s is not None
    state = tuple(t.detach() for t in s) if kind == "lstm" else s[0].detach()

    out, final = layer.forward_indices(idx, state)
    grads = torch.autograd.grad(out.sum(), list(layer.parameters()))
    ref_out, ref_final = layer(F.one_hot(idx, n_in).double(), state)
    ref_grads = torch.autograd.grad(ref_out.sum(), list(layer.parameters()))

    assert_close(out, ref_out)
    for a, b in zip(parts(final), parts(ref_final), strict=True):
        assert_close(a, b)
    for a, b in zip(grads, ref_grads, strict=True):
        assert_close(a, b)


def test_forget_bias_init() -> None:
    hidden = 6
    forget = slice(hidden, 2 * hidden)
    torch.manual_seed(1)
    default = LSTMCell(4, hidden)
    torch.manual_seed(1)
    cell = LSTMCell(4, hidden, forget_bias=1.0)
    assert default.bias_ih is not None and default.bias_hh is not None
    assert cell.bias_ih is not None and cell.bias_hh is not None

    assert torch.all(cell.bias_hh[forget] == 1.0)
    assert torch.all(cell.bias_ih[forget] == 0.0)
    # Every other entry keeps torch's initialisation.
    for name in ("bias_ih", "bias_hh"):
        a, b = getattr(cell, name).detach().clone(), getattr(default, name).detach().clone()
        a[forget] = b[forget] = 0.0
        assert torch.equal(a, b)
    assert torch.equal(cell.weight_ih, default.weight_ih)
    assert torch.equal(cell.weight_hh, default.weight_hh)
    # forget_bias=0.0 (the default) is torch's initialisation: the forget slices are random.
    assert default.bias_hh[forget].abs().min() > 0 and default.bias_ih[forget].abs().min() > 0

    cell.reset_parameters()  # re-initialising keeps the forget bias
    assert torch.all(cell.bias_hh[forget] + cell.bias_ih[forget] == 1.0)

    layer = LSTM(4, hidden, forget_bias=2.5)  # the layer forwards it to its cell
    assert torch.all(layer.bias_hh[forget] == 2.5) and torch.all(layer.bias_ih[forget] == 0.0)
    assert layer.cell.forget_bias == 2.5
    no_bias = LSTM(4, hidden, bias=False, forget_bias=1.0)
    assert [n for n, _ in no_bias.named_parameters()] == ["weight_ih", "weight_hh"]


def test_lstm_state_grad_norms_record_h_and_c() -> None:
    torch.manual_seed(0)
    steps = 9
    layer = LSTM(3, 5).double()
    layer.record_state_grads = True
    x = torch.randn(steps, 2, 3, dtype=torch.float64)
    out, _ = layer(x)
    w = torch.randn_like(out)
    (out * w).sum().backward()

    norms = layer.state_grad_norms
    assert set(norms) == {"h", "c"}
    for key in ("h", "c"):
        assert norms[key].shape == (steps,)
        assert torch.isfinite(norms[key]).all(), key
        assert (norms[key] > 0).all(), key
    # Nothing flows back into h_T from later steps: its gradient is the loss weight of step T.
    assert abs(norms["h"][-1].item() - w[-1].norm().item()) < TOL


FORBIDDEN = ("nn.RNN", "nn.LSTM", "nn.GRU", "nn.Linear", "nn.Embedding", "_VF")
FORBIDDEN += ("torch.lstm", "torch.gru", "torch.rnn_", "functional.linear", "F.linear")


def forbidden_in(source: str) -> list[str]:
    """Forbidden names used in code; docstrings and comments may cite torch, so they are skipped."""
    skip = {tokenize.STRING, tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE}
    tokens = tokenize.generate_tokens(io.StringIO(source).readline)
    code = " ".join(t.string for t in tokens if t.type not in skip).replace(" . ", ".")
    return [name for name in FORBIDDEN if name in code]


def test_forbidden_scan_catches_code_not_docstrings() -> None:
    assert forbidden_in('"""As torch.nn.LSTM."""\n# nn.Linear\nx = 1\n') == []
    assert forbidden_in("import torch\nm = torch.nn.LSTM(3, 4)\n") == ["nn.LSTM"]
    assert forbidden_in("from torch import _VF\n") == ["_VF"]
    assert forbidden_in("y = torch.lstm_cell(x, hx, w, v)\n") == ["torch.lstm"]


def test_library_builds_recurrences_by_hand() -> None:
    """Every module of the model package but baselines.py (the torch.nn reference, by design)."""
    root = Path(rnn_scratch.__file__).parent / "models"
    files = [p for p in sorted(root.rglob("*.py")) if p.name != "baselines.py"]
    assert {"rnn.py", "layers.py", "tanh.py", "lstm.py", "gru.py", "indrnn.py"} <= {p.name for p in files}
    for path in files:
        assert forbidden_in(path.read_text()) == [], path.name
