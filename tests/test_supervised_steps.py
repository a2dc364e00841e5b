"""Tasks supervising several steps, and the task registry, shown with a task defined only here.

``Echo`` is registered from this test module, as any task outside the package would be: the registry
builds it by name, the training config stores its schema and runs its checks. It supervises the last
``k`` steps (per-step targets and a mask), so these tests check the contract end to end: the read-out
at every step, the loss and accuracy over the supervised positions only, the hand-derived BPTT's
gradient of that loss against autograd's and finite differences, and a short training run.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from hydra.core.config_store import ConfigStore

from rnn_scratch.errors import ConfigError
from rnn_scratch.models.classifier import CharClassifier, build_model
from rnn_scratch.tasks import REGISTRY, TASKS, Batch, Recall, Task, TaskConfig, make_task, register_task
from rnn_scratch.tasks.registry import positive
from rnn_scratch.training.checkpoint import load_checkpoint
from rnn_scratch.training.config import ModelConfig, OptimConfig, TrainConfig, register, validate
from rnn_scratch.training.loop import train
from rnn_scratch.training.setup import EVAL_SEED_OFFSET

F64 = torch.float64
CORES = [("rnn", "tanh"), ("rnn", "relu"), ("lstm", "tanh"), ("gru", "tanh")]


@dataclass
class EchoConfig(TaskConfig):
    name: str = "echo"
    n_symbols: int = 4
    lag: int = 1  # the target at step t is the input at step t - lag
    k: int = 3  # the last k steps are supervised

    def check(self, seq_len: int) -> None:
        positive("task.n_symbols", self.n_symbols)
        if not (self.lag >= 0 and self.k >= 1 and self.lag + self.k <= seq_len):
            raise ConfigError("task.k", f"needs lag >= 0, k >= 1, lag + k <= seq_len = {seq_len}")


@register_task(EchoConfig)
@dataclass
class Echo(Task):
    """Echo the symbol seen ``lag`` steps earlier, at each of the last ``k`` steps.
    x: (B, T) long; y: (B, T), y[:, t] = x[:, t - lag] where t >= T - k; mask: (B, T), the last k steps."""

    n_symbols: int = 4
    lag: int = 1
    k: int = 3
    per_step = True

    def __post_init__(self) -> None:
        self.alphabet = "abcdefghij"[: self.n_symbols]
        self.input_size = self.n_outputs = self.n_symbols
        self.chance = 1.0 / self.n_symbols
        self.solved_rule = "eval_acc >= 0.9"

    def solved(self, metrics: dict[str, float]) -> bool | None:
        return metrics["acc"] >= 0.9

    def sample(self, n: int, generator: torch.Generator) -> Batch:
        steps = self.seq_len
        x = torch.randint(self.n_symbols, (n, steps), generator=generator, device=generator.device)
        y = torch.zeros_like(x)  # a valid class where unsupervised: the mask keeps it out of the loss
        y[:, self.lag :] = x[:, : steps - self.lag]
        mask = torch.zeros(n, steps, dtype=torch.bool, device=x.device)
        mask[:, steps - self.k :] = True
        return Batch(x, y, mask=mask)


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def model_for(task: Task, name: str, nonlinearity: str, bptt: str, hidden: int = 5) -> CharClassifier:
    torch.manual_seed(0)
    cfg = ModelConfig(name=name, nonlinearity=nonlinearity, bptt=bptt)
    return build_model(cfg, task.input_size, hidden, task.n_outputs).double()


# --- the registry ----------------------------------------------------------------------------------


def test_a_task_registered_outside_the_package_is_built_stored_and_checked() -> None:
    assert TASKS["echo"] is Echo and REGISTRY["echo"].config is EchoConfig
    task = make_task("echo", 8, lag=2, k=4)
    assert isinstance(task, Echo) and (task.lag, task.k, task.seq_len) == (2, 4, 8)
    store = ConfigStore.instance()
    register(store)  # the schema of every registered task, this one included
    assert {f"{name}.yaml" for name in TASKS} <= set(store.repo["schema"]["task"])
    validate(TrainConfig(seq_len=8, task=EchoConfig(lag=2, k=4)))
    with pytest.raises(ConfigError) as info:
        validate(TrainConfig(seq_len=5, task=EchoConfig(lag=2, k=4)))
    assert info.value.key == "task.k" and "seq_len = 5" in str(info.value)
    with pytest.raises(ConfigError) as info:
        validate(TrainConfig(seq_len=8, task=EchoConfig(n_symbols=0)))
    assert info.value.key == "task.n_symbols"


def test_a_taken_name_cannot_be_registered_to_another_task() -> None:
    @dataclass
    class Other(Task):
        pass

    @dataclass
    class OtherConfig(TaskConfig):
        name: str = "recall"

    with pytest.raises(ValueError, match="'recall' is already registered to Recall"):
        register_task(OtherConfig)(Other)
    assert TASKS["recall"] is Recall
    register_task(EchoConfig)(Echo)  # the same pair again (a module imported twice): a no-op
    assert TASKS["echo"] is Echo


def test_validation_of_an_unregistered_name_names_the_key() -> None:
    with pytest.raises(ConfigError) as info:
        validate(TrainConfig(task=TaskConfig(name="nope")))
    assert info.value.key == "task.name" and "echo" in str(info.value)


# --- the contract: targets, mask, read-out, loss, metrics -------------------------------------------


def test_echo_batches_carry_per_step_targets_and_the_mask_of_the_last_k_steps() -> None:
    task = Echo(seq_len=7, lag=2, k=3)
    batch = task.sample(64, gen())
    assert batch.y.shape == batch.mask.shape == batch.x.shape == (64, 7)  # type: ignore[union-attr]
    assert batch.mask is not None and batch.mask.dtype == torch.bool
    assert batch.mask.sum(1).eq(3).all() and batch.mask[:, 4:].all()
    assert torch.equal(batch.y[:, 4:], batch.x[:, 2:5])  # the input 2 steps earlier
    moved = batch.to("cpu")
    assert moved.mask is not None and torch.equal(moved.mask, batch.mask)


@pytest.mark.parametrize(("name", "nonlinearity"), CORES)
def test_every_step_read_out_ends_with_the_final_step_read_out(name: str, nonlinearity: str) -> None:
    """The read-out of step T is the classifier's usual output, padding included (state carried)."""
    task = Echo(seq_len=6)
    model = model_for(task, name, nonlinearity, "manual")
    batch = task.sample(4, gen(1))
    lengths = torch.tensor([6, 4, 1, 6])
    every, hidden = model(batch.x, lengths, every_step=True)
    final, _ = model(batch.x, lengths)
    assert every.shape == (4, 6, task.n_outputs)
    assert torch.allclose(every[:, -1], final, atol=1e-14, rtol=0)
    by_hand = hidden.transpose(0, 1) @ model.weight_out.t() + model.bias_out
    assert torch.allclose(every, by_hand, atol=1e-14, rtol=0)


def test_loss_and_accuracy_are_means_over_the_supervised_positions_only() -> None:
    task = Echo(seq_len=5, n_symbols=3, k=2)
    batch = task.sample(6, gen(2))
    assert batch.mask is not None
    g = gen(3)
    out = torch.randn(6, 5, 3, generator=g, dtype=F64)
    right = F.one_hot(batch.y, 3).double() * 20.0  # confidently right where supervised
    out = torch.where(batch.mask[..., None], right, out)
    metrics = task.metrics(out, batch.y, batch.mask)
    assert metrics["acc"] == 1.0
    sup = out[:, 3:].reshape(-1, 3), batch.y[:, 3:].reshape(-1)  # the last k = 2 steps, by hand
    assert metrics["loss"] == pytest.approx(F.cross_entropy(*sup).item(), rel=1e-12)
    # what the unsupervised steps hold changes nothing; one wrong supervised position costs 1 / 12
    other = torch.where(batch.mask[..., None], out, -out)
    assert task.metrics(other, batch.y, batch.mask) == metrics
    wrong = out.clone()
    wrong[0, 4] = wrong[0, 4].roll(1)
    assert task.metrics(wrong, batch.y, batch.mask)["acc"] == pytest.approx(11 / 12)


# --- gradients: hand-derived BPTT of the multi-step loss ----------------------------------------------


@pytest.mark.parametrize(("name", "nonlinearity"), CORES)
def test_multi_step_gradient_of_manual_bptt_equals_autograd(name: str, nonlinearity: str) -> None:
    """float64: every parameter's gradient of the loss on the last k steps, manual vs autograd; and that
    loss's gradient differs from the final-step loss's (the earlier supervised steps send their own)."""
    task = Echo(seq_len=9, n_symbols=4, lag=2, k=4)
    batch = task.sample(8, gen(4))
    grads = {}
    for bptt in ("autograd", "manual"):
        model = model_for(task, name, nonlinearity, bptt, hidden=6)
        out, _ = model(batch.x, every_step=True)
        task.loss(out, batch.y, batch.mask).backward()
        grads[bptt] = {k: p.grad.clone() for k, p in model.named_parameters()}  # type: ignore[union-attr]
    for key, expected in grads["autograd"].items():
        assert torch.allclose(grads["manual"][key], expected, atol=1e-12, rtol=1e-10), key
    model = model_for(task, name, nonlinearity, "manual", hidden=6)
    F.cross_entropy(model(batch.x)[0], batch.y[:, -1]).backward()
    assert not torch.allclose(model.core.weight_hh.grad, grads["manual"]["core.weight_hh"])  # type: ignore[arg-type]


@pytest.mark.parametrize(("name", "nonlinearity"), CORES)
def test_multi_step_loss_passes_gradcheck_through_manual_bptt(name: str, nonlinearity: str) -> None:
    """Finite differences of the multi-step loss in every parameter against the hand-derived backward.

    The function checked reads the model's own parameters (the cell shares them with its layer), so
    they are the inputs gradcheck perturbs in place and differentiates with respect to."""
    task = Echo(seq_len=6, n_symbols=3, lag=1, k=3)
    batch = task.sample(3, gen(5))
    model = model_for(task, name, nonlinearity, "manual", hidden=3)
    params = tuple(model.parameters())

    def loss(*_: torch.Tensor) -> torch.Tensor:
        return task.loss(model(batch.x, every_step=True)[0], batch.y, batch.mask)

    assert torch.autograd.gradcheck(loss, params, eps=1e-6, atol=1e-7)


# --- training ---------------------------------------------------------------------------------------


def test_training_on_a_multi_step_task_learns_and_reports_supervised_metrics(
    tmp_path: Path,
) -> None:
    echo = EchoConfig(n_symbols=3, lag=1, k=3)
    cfg = TrainConfig(
        seq_len=6, hidden_size=16, steps=300, batch_size=32, eval_every=100, eval_size=256, log_every=50,
        checkpoint_every=300, task=echo, model=ModelConfig(name="gru"), optim=OptimConfig(lr=1e-2),
    )  # fmt: skip
    metrics = train(cfg, tmp_path / "run", progress=False)
    assert metrics["status"] == "completed" and metrics["solved_rule"] == "eval_acc >= 0.9"
    assert metrics["chance_acc"] == pytest.approx(1 / 3)
    # recomputed by hand from the saved model on the run's eval set: the same loss and accuracy
    task = Echo(seq_len=6, n_symbols=3, lag=1, k=3)
    data = task.eval_set(256, gen(cfg.seed + EVAL_SEED_OFFSET))
    model = build_model(cfg.model, task.input_size, 16, task.n_outputs)
    model.load_state_dict(load_checkpoint(tmp_path / "run" / "checkpoint.pt")["model"])
    with torch.no_grad():
        logits = model(data.x, every_step=True)[0][:, -3:]  # the last k = 3 steps
    targets = data.x[:, 2:5]  # what was seen lag = 1 step earlier
    loss = F.cross_entropy(logits.reshape(-1, 3), targets.reshape(-1)).item()
    acc = (logits.argmax(-1) == targets).double().mean().item()
    assert metrics["eval_loss"] == pytest.approx(loss, rel=1e-5)
    assert metrics["eval_acc"] == pytest.approx(acc, abs=1e-6)
    assert metrics["eval_acc"] >= 0.9 and metrics["solved"] is True  # one step back: learnt in 300 steps
    assert metrics["train_loss"] < 0.5 * math.log(3)  # well below chance's ln 3
