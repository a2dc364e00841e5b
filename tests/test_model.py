"""The classifier: the gather path, the final-step read-out, and the per-timestep gradient profile."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from rnn_scratch.models.classifier import build_model
from rnn_scratch.training.config import ModelConfig
from rnn_scratch.training.monitor import recurrent_dynamics


def test_gather_equals_one_hot_matmul() -> None:
    torch.manual_seed(0)
    model = build_model(ModelConfig(name="rnn"), input_size=11, hidden_size=6, n_outputs=3).double()
    idx = torch.randint(0, 11, (4, 9))
    out, hidden = model(idx)
    out_dense, hidden_dense = model(F.one_hot(idx, 11).double())
    assert out.shape == (4, 3) and hidden.shape == (9, 4, 6)
    assert (out - out_dense).abs().max() < 1e-12
    assert (hidden - hidden_dense).abs().max() < 1e-12


def test_read_out_uses_only_the_final_step() -> None:
    torch.manual_seed(0)
    model = build_model(ModelConfig(name="rnn"), 5, 4, 2).double()
    idx = torch.randint(0, 5, (3, 6))
    out, hidden = model(idx)
    expected = hidden[-1] @ model.weight_out.t() + model.bias_out
    assert (out - expected).abs().max() < 1e-12


@pytest.mark.parametrize("name", ["rnn", "lstm", "gru", "torch_lstm", "torch_gru"])
def test_lengths_read_out_at_each_sequences_last_step(name: str) -> None:
    torch.manual_seed(0)
    model = build_model(ModelConfig(name=name), 5, 4, 2).double()
    idx = torch.randint(0, 5, (3, 6))
    lengths = torch.tensor([6, 2, 4])
    out, _ = model(idx, lengths)
    for i, n in enumerate(lengths.tolist()):
        alone, _ = model(idx[i : i + 1, :n])
        assert (out[i] - alone[0]).abs().max() < 1e-12


@pytest.mark.parametrize("name", ["rnn", "lstm", "gru"])
def test_recorded_profile_equals_independent_dl_dh_t(name: str) -> None:
    """||dL/dh_t|| from the layer's hooks equals autograd.grad w.r.t. each h_t of a plain loop."""
    torch.manual_seed(1)
    model = build_model(ModelConfig(name=name), 7, 5, 3).double()
    idx, y = torch.randint(0, 7, (4, 12)), torch.randint(0, 3, (4,))
    model.core.record_state_grads = True
    out, _ = model(idx)
    F.cross_entropy(out, y).backward()
    recorded = model.core.state_grad_norms

    cell = model.core.cell
    state = cell.initial_state(4, model.weight_out)
    states = []
    for t in range(12):
        state = cell(F.one_hot(idx[:, t], 7).double(), state)
        states.append(state)
    hs = [cell.hidden(s) for s in states]
    loss = F.cross_entropy(hs[-1] @ model.weight_out.t() + model.bias_out, y)
    parts = {k: [cell.state_parts(s)[k] for s in states] for k in recorded}
    for key, tensors in parts.items():
        grads = torch.autograd.grad(loss, tensors, retain_graph=True)
        expected = torch.stack([g.norm() for g in grads])
        assert recorded[key].shape == (12,)
        assert (recorded[key] - expected).abs().max() < 1e-12, key
    assert set(recorded) == ({"h", "c"} if name == "lstm" else {"h"})


def test_torch_baseline_marks_the_profile_unavailable() -> None:
    model = build_model(ModelConfig(name="torch_rnn"), 7, 5, 3)
    model.core.record_state_grads = True
    out, _ = model(torch.randint(0, 7, (2, 4)))
    out.sum().backward()
    assert model.core.state_grad_norms == {}


@pytest.mark.parametrize(
    ("name", "hand"), [("torch_rnn", "rnn"), ("torch_lstm", "lstm"), ("torch_gru", "gru")]
)
def test_torch_baseline_equals_hand_written_model_with_copied_weights(name: str, hand: str) -> None:
    torch.manual_seed(0)
    ours = build_model(ModelConfig(name=hand), 6, 5, 3).double()
    ref = build_model(ModelConfig(name=name), 6, 5, 3).double()
    with torch.no_grad():
        for pname, p in ours.core.named_parameters():
            getattr(ref.core.rnn, f"{pname}_l0").copy_(p)
        ref.weight_out.copy_(ours.weight_out)
        ref.bias_out.copy_(ours.bias_out)
    idx = torch.randint(0, 6, (4, 8))
    assert (ours(idx)[0] - ref(idx)[0]).abs().max() < 1e-10


def test_identity_init_and_orthogonal_has_unit_singular_values() -> None:
    irnn = build_model(ModelConfig(name="rnn", init="identity"), 4, 6, 2)  # tanh: not the IRNN
    assert torch.equal(irnn.core.weight_hh.detach(), torch.eye(6))
    assert torch.equal(irnn.core.bias_hh.detach(), torch.zeros(6))
    ortho = build_model(ModelConfig(name="rnn", init="orthogonal", init_gain=1.0), 4, 6, 2)
    dyn = recurrent_dynamics(ortho.core.weight_hh)
    assert dyn["sigma_max"] == pytest.approx(1.0, abs=1e-5)
    assert dyn["spectral_radius"] == pytest.approx(1.0, abs=1e-5)


def test_padding_leaves_the_gradient_reaching_the_last_step_intact() -> None:
    """Padded steps carry the state over, so dL/dh_T is each row's gradient at its last real step."""
    torch.manual_seed(0)
    model = build_model(ModelConfig(name="rnn"), 5, 4, 2).double()
    model.core.record_state_grads = True
    idx, lengths = torch.randint(0, 5, (3, 8)), torch.tensor([3, 5, 2])
    out, _ = model(idx, lengths)
    out.sum().backward()
    norms = model.core.state_grad_norms["h"]
    assert (norms > 0).all()
    assert torch.allclose(norms[4:], norms[-1].expand(4))  # past every row's end: carried unchanged


@pytest.mark.parametrize("bptt", ["autograd", "manual"])
def test_vanished_float32_gradients_are_measured_not_rounded_to_zero(bptt: str) -> None:
    """A gradient of 1e-30 per element squares to 1e-60, below float32: norms are taken in float64."""
    torch.manual_seed(0)
    model = build_model(ModelConfig(name="rnn", bptt=bptt), 5, 4, 2)
    model.core.record_state_grads = True
    out, _ = model(torch.randint(0, 5, (3, 6)))
    (out.sum() * 1e-30).backward()
    norms = model.core.state_grad_norms["h"]
    assert norms.dtype == torch.float64 and (norms > 0).all()
