"""Gate initialisation of the LSTM and GRU: constant forget bias and chrono (Tallec & Ollivier 2018)."""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import pytest
import torch

from rnn_scratch import GRU, LSTM, GRUCell, LSTMCell
from rnn_scratch.errors import ConfigError
from rnn_scratch.models import ModelConfig, build_model
from rnn_scratch.training.config import TrainConfig, validate

H = 64


def blocks(t: torch.Tensor, n: int) -> list[torch.Tensor]:
    return list(t.detach().split(t.shape[0] // n))


@pytest.mark.parametrize("t_max", [5.0, 50.0, 500.0])
def test_lstm_chrono_range_and_relation(t_max: float) -> None:
    """b_hf ~ log U(1, T_max - 1), b_hi = -b_hf, b_if = b_ii = 0; g and o keep torch's init."""
    torch.manual_seed(0)
    default = LSTMCell(3, H)
    torch.manual_seed(0)
    cell = LSTMCell(3, H, gate_init="chrono", chrono_tmax=t_max)
    i_ih, f_ih, g_ih, o_ih = blocks(cell.bias_ih, 4)
    i_hh, f_hh, g_hh, o_hh = blocks(cell.bias_hh, 4)
    assert f_hh.min() >= 0.0 and f_hh.max() <= math.log(t_max - 1)
    assert f_hh.max() - f_hh.min() > 0.5 * math.log(t_max - 1)  # drawn per unit, not one value
    assert torch.equal(i_hh, -f_hh)
    assert torch.all(f_ih == 0) and torch.all(i_ih == 0)
    for ours, theirs in zip(
        (g_ih, o_ih, g_hh, o_hh), blocks(default.bias_ih, 4)[2:] + blocks(default.bias_hh, 4)[2:], strict=True
    ):
        assert torch.equal(ours, theirs)
    assert torch.equal(cell.weight_hh, default.weight_hh)


def test_gru_chrono_range_and_sign_convention() -> None:
    """The GRU's keep gate is z (h' = (1 - z) n + z h): chrono sets b_hz, b_iz = 0, r and n untouched."""
    torch.manual_seed(0)
    default = GRUCell(3, H)
    torch.manual_seed(0)
    cell = GRUCell(3, H, gate_init="chrono", chrono_tmax=100)
    r_ih, z_ih, n_ih = blocks(cell.bias_ih, 3)
    r_hh, z_hh, n_hh = blocks(cell.bias_hh, 3)
    assert z_hh.min() >= 0 and z_hh.max() <= math.log(99) and torch.all(z_ih == 0)
    d_ih, d_hh = blocks(default.bias_ih, 3), blocks(default.bias_hh, 3)
    for ours, theirs in ((r_ih, d_ih[0]), (n_ih, d_ih[2]), (r_hh, d_hh[0]), (n_hh, d_hh[2])):
        assert torch.equal(ours, theirs)


@pytest.mark.parametrize("cls", [GRUCell, LSTMCell])
def test_a_large_keep_bias_keeps_the_state(cls: type) -> None:
    """The sign convention, checked against torch's own cells: a large positive keep-gate bias copies
    the memory forward (GRU: h' = h; LSTM: the part of c' carried from c, c'(c) - c'(0), is c), a
    large negative one erases it."""
    torch.manual_seed(0)
    x = torch.randn(4, 3, dtype=torch.float64)
    h = torch.randn(4, 8, dtype=torch.float64)
    for bias, keeps in ((20.0, True), (-20.0, False)):
        ours = cls(3, 8, forget_bias=bias).double()
        theirs = (torch.nn.GRUCell if cls is GRUCell else torch.nn.LSTMCell)(3, 8).double()
        theirs.load_state_dict(ours.state_dict())
        if cls is GRUCell:
            new, ref = ours(x, h), theirs(x, h)
            carried = new
        else:
            new, ref = ours(x, (h, h))[1], theirs(x, (h, h))[1]
            carried = new - ours(x, (h, torch.zeros_like(h)))[1]
        assert torch.allclose(new, ref, rtol=0, atol=1e-12)
        assert ((carried - h).abs().max() < 1e-6) == keeps


def mean_time_constant(cell: LSTMCell) -> float:
    """The LSTM's mean memory time constant 1 / (1 - sigma(b_if + b_hf)) over units."""
    assert cell.bias_ih is not None and cell.bias_hh is not None
    b_f = blocks(cell.bias_ih, 4)[1] + blocks(cell.bias_hh, 4)[1]
    return (1.0 / (1.0 - torch.sigmoid(b_f.double()))).mean().item()


def test_lstm_time_constant_grows_with_t_max_as_chrono_predicts() -> None:
    """With b_f = log u, u ~ U(1, T_max - 1): 1 / (1 - sigma(b_f)) = 1 + u, whose mean is 1 + T_max / 2.
    The constant biases give 1 + e^b: 3.7 steps at 1, 21.1 at 3."""
    torch.manual_seed(0)
    measured = []
    for t_max in (10, 100, 1000):
        cell = LSTMCell(2, 4096, gate_init="chrono", chrono_tmax=t_max)
        measured.append(mean_time_constant(cell))
        assert measured[-1] == pytest.approx(1 + t_max / 2, rel=0.03), t_max
    assert measured[0] < measured[1] < measured[2]
    assert mean_time_constant(LSTMCell(2, 16, forget_bias=1.0)) == pytest.approx(1 + math.e)
    assert mean_time_constant(LSTMCell(2, 16, forget_bias=3.0)) == pytest.approx(1 + math.exp(3))


def test_reset_parameters_redraws_chrono_and_layers_forward_it() -> None:
    torch.manual_seed(0)
    layer = LSTM(3, H, gate_init="chrono", chrono_tmax=30)
    first = layer.bias_hh.detach().clone()
    layer.cell.reset_parameters()
    f = slice(H, 2 * H)
    assert not torch.equal(first, layer.bias_hh.detach())
    assert torch.equal(layer.bias_hh[:H], -layer.bias_hh[f]) and layer.bias_hh[f].max() <= math.log(29)
    gru = GRU(3, H, forget_bias=2.0)
    assert torch.all(gru.bias_hh[H : 2 * H] == 2.0) and torch.all(gru.bias_ih[H : 2 * H] == 0.0)


def test_build_model_chrono_tmax_defaults_to_seq_len() -> None:
    torch.manual_seed(0)
    model = build_model(ModelConfig(name="lstm", gate_init="chrono"), 4, 256, 2, seq_len=20)
    b_f = model.core.bias_hh[256:512]
    assert b_f.max() <= math.log(19) and b_f.max() > math.log(19) - 0.2
    gru = build_model(ModelConfig(name="gru"), 4, 8, 2)  # forget_bias null: torch's init for the GRU
    assert gru.core.cell.forget_bias == 0.0
    lstm = build_model(ModelConfig(name="lstm"), 4, 8, 2)  # null: 1.0 for the LSTM
    assert torch.all(lstm.core.bias_hh[8:16] == 1.0)
    with pytest.raises(ValueError, match="chrono_tmax"):
        build_model(ModelConfig(name="lstm", gate_init="chrono"), 4, 8, 2)


@pytest.mark.parametrize(
    ("model", "key"),
    [
        (ModelConfig(name="rnn", nonlinearity="sigmoid"), "model.nonlinearity"),
        (ModelConfig(name="lstm", nonlinearity="relu"), "model.nonlinearity"),
        (ModelConfig(name="lstm", gate_init="uniform"), "model.gate_init"),
        (ModelConfig(name="rnn", gate_init="chrono"), "model.gate_init"),
        (ModelConfig(name="gru", gate_init="chrono", chrono_tmax=2.0), "model.chrono_tmax"),
        (ModelConfig(name="lstm", forget_bias=math.inf), "model.forget_bias"),
    ],
)
def test_validation_names_the_key(model: ModelConfig, key: str) -> None:
    with pytest.raises(ConfigError) as info:
        validate(TrainConfig(model=model))
    assert info.value.key == key


def test_a_bad_gate_init_fails_the_script_in_one_line(
    train_run: Callable[..., tuple[object, Path]],
) -> None:
    proc, _ = train_run("model=rnn", "model.gate_init=chrono")
    assert proc.returncode != 0  # type: ignore[attr-defined]
    stderr = proc.stderr.strip()  # type: ignore[attr-defined]
    assert stderr.count("\n") == 0 and "model.gate_init" in stderr, stderr
