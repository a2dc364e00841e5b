"""What every hand-written cell shares, and what each cell declares so the rest of the code needs no branch.

``RecurrentCell`` holds torch's parameters (``weight_ih``, ``weight_hh``, ``bias_ih``, ``bias_hh``) and the
recurrent initialisations (``init_recurrent``: default, orthogonal, identity). ``GatedCell`` adds the
bias of the gate that keeps the memory (LSTM: f, GRU: z): a constant (``forget_bias``) or chrono
initialisation (Tallec & Ollivier 2018, ``chrono_bias``). The cells themselves are the modules of
``rnn_scratch.models.cells``, one each.

A cell class is a plug-in: registered (``rnn_scratch.models.registry.register_cell``), it declares

* ``name``, ``n_gates`` and ``state_names`` (its state layout: ``("h",)``, or ``("h", "c")`` for the LSTM);
* ``nonlinearities`` it takes, ``step`` (one step) and ``recurrence`` (the loop with its hand-derived BPTT);
* ``jacobian_times`` (``dF/ds`` times directions, for the analysis) and ``recurrent_block`` (the (H, H)
  block of W_hh whose spectrum the instruments read);
* ``torch_reference`` (its ``torch.nn`` module, or None), ``options`` and ``check_config`` (its settings from
  ``ModelConfig``), ``suggest`` (its part of the tuning search space) and ``words`` (its name on the pages).

and every list of cells (config choices, the classifier, the benchmark, the study) comes from the registry.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, ClassVar

import torch
from torch import Tensor, nn

from rnn_scratch.errors import ConfigError
from rnn_scratch.models.config import ModelConfig

INITS = ("default", "orthogonal", "identity")
NONLINEARITIES = ("tanh", "relu")
GATE_INITS = ("constant", "chrono")  # a gated cell's keep-gate bias (rnn_scratch.models.gated)
# The ModelConfig keys that only some cells read (``RecurrentCell.own_keys`` says which); the others
# (init, bias, bptt, ...) every cell reads.
CELL_KEYS = ("nonlinearity", "gate_init", "forget_bias", "chrono_tmax", "project_recurrent")

State = Tensor | tuple[Tensor, ...]
"""A cell's state: ``h`` (B, H), or a tuple of its parts (``(h, c)`` for the LSTM), each (B, H)."""

Norms = Mapping[str, Tensor]
"""Per state part, a (T,) buffer that the hand-derived backward fills with ``||dL/ds_t||``."""


class RecurrentCell(nn.Module):
    """Base: ``weight_ih (G*H, I)``, ``weight_hh (G*H, H)``, ``bias_ih`` and ``bias_hh (G*H,)``.

    ``G`` is the number of gate blocks (1 for the vanilla RNN, 4 for LSTM, 3 for GRU), stacked in
    torch's order. Default initialisation is torch's: every entry from U(-1/sqrt(H), 1/sqrt(H)).
    """

    name: ClassVar[str] = ""  # model=<name>; set by every registered cell
    words: ClassVar[str] = ""  # what the pages call it: "tanh RNN", "LSTM"
    order: ClassVar[int] = 100  # where lists and pages put it (rnn 0, lstm 1, gru 2; new cells after)
    n_gates: ClassVar[int] = 1
    state_names: ClassVar[tuple[str, ...]] = ("h",)  # the state's parts; the first is the output h
    nonlinearities: ClassVar[tuple[str, ...]] = ()  # values model.nonlinearity may take (() : none)
    spectral_block: ClassVar[int] = 0  # the block of W_hh the instruments read (LSTM g, GRU n: 2)
    # the torch.nn module of the same function, by name ("RNN"): the parity reference and the torch_<name>
    # baseline (models/baselines.py, the one module that touches torch.nn's recurrences); None: none
    torch_reference: ClassVar[str | None] = None
    inits: ClassVar[tuple[str, ...]] = INITS  # values model.init may take
    own_keys: ClassVar[tuple[str, ...]] = ()  # the CELL_KEYS this cell reads (RNN: nonlinearity)

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True) -> None:
        super().__init__()
        if input_size <= 0 or hidden_size <= 0:
            raise ValueError(f"input_size and hidden_size must be > 0, got {input_size}, {hidden_size}")
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.bias = bias
        gh = self.n_gates * hidden_size
        self.weight_ih = nn.Parameter(torch.empty(gh, input_size))
        self.weight_hh = nn.Parameter(torch.empty(self.recurrent_shape(hidden_size)))
        if bias:
            self.bias_ih: nn.Parameter | None = nn.Parameter(torch.empty(gh))
            self.bias_hh: nn.Parameter | None = nn.Parameter(torch.empty(gh))
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        self.reset_parameters()

    def recurrent_shape(self, hidden_size: int) -> tuple[int, ...]:
        """The shape of ``weight_hh``: (G*H, H), a full matrix per gate."""
        return (self.n_gates * hidden_size, hidden_size)

    def reset_parameters(self) -> None:
        """torch's default: U(-1/sqrt(H), 1/sqrt(H)) for every weight and bias."""
        bound = 1.0 / math.sqrt(self.hidden_size)
        for p in self.parameters():
            nn.init.uniform_(p, -bound, bound)

    def init_recurrent(self, scheme: str, gain: float = 1.0, top: bool = True) -> None:
        """Re-initialise each (H, H) block of ``weight_hh`` (``top``: whether this cell is the top
        layer of a stack, which a cell's own scheme may treat apart, as the IndRNN's ``li``).

        * ``default``: leave torch's uniform initialisation.
        * ``orthogonal``: a random orthogonal matrix times ``gain`` (Saxe et al. 2014): every
          singular value is ``gain``, so a linearised recurrence neither shrinks nor grows the
          gradient.
        * ``identity``: ``gain * I`` with zero recurrent bias: the state is copied forward until
          learning says otherwise. With a ReLU cell this is the IRNN of Le et al. (2015), whose input
          bias is zeroed too (``RNNCell``); with tanh it is an identity-initialised tanh RNN.
        """
        if scheme not in self.inits:
            raise ValueError(f"unknown init {scheme!r}; choose one of {', '.join(self.inits)}")
        if scheme == "default":
            return
        with torch.no_grad():
            for block in self.weight_hh.split(self.hidden_size):
                if scheme == "orthogonal":
                    nn.init.orthogonal_(block, gain=gain)
                else:
                    block.copy_(gain * torch.eye(self.hidden_size, dtype=block.dtype))
            if scheme == "identity" and self.bias_hh is not None:
                self.bias_hh.zero_()

    def project_(self) -> None:
        """Bring the parameters back into the set the cell constrains them to, in place (after an
        optimiser step, ``model.project_recurrent``); a cell without a constraint has nothing to do."""

    def input_projection(self, x: Tensor) -> Tensor:
        """``u = x W_ih^T + b_ih``. x: (..., I) -> (..., G*H)."""
        if self.bias_ih is None:
            return x @ self.weight_ih.t()
        # one fused op (and one allocation) for all rows: x is (T, B, I) in a layer
        rows = torch.addmm(self.bias_ih, x.reshape(-1, x.shape[-1]), self.weight_ih.t())
        return rows.view(*x.shape[:-1], rows.shape[-1])

    def recurrent_projection(self, h: Tensor) -> Tensor:
        """``W_hh h + b_hh``. h: (B, H) -> (B, G*H)."""
        w = h @ self.weight_hh.t()
        return w if self.bias_hh is None else w + self.bias_hh

    # -- the state's layout ---------------------------------------------------------------------------

    def initial_state(self, batch_size: int, like: Tensor) -> State:
        """The zero state, as torch uses when none is given: ``h`` (B, H), or a tuple of zero parts."""
        parts = tuple(
            torch.zeros(batch_size, self.hidden_size, dtype=like.dtype, device=like.device)
            for _ in self.state_names
        )
        return parts[0] if len(parts) == 1 else parts

    @classmethod
    def state_parts(cls, state: State) -> dict[str, Tensor]:
        """The state's tensors by name (``h``; the LSTM adds ``c``), for instruments."""
        parts = (state,) if isinstance(state, Tensor) else state
        return dict(zip(cls.state_names, parts, strict=True))

    @staticmethod
    def hidden(state: State) -> Tensor:
        """The part of the state the layer outputs: ``h`` (B, H)."""
        return state if isinstance(state, Tensor) else state[0]

    @property
    def state_size(self) -> int:
        """n, the size of the flat state ``s = [h; c; ...]``: H times the number of parts."""
        return len(self.state_names) * self.hidden_size

    def unflatten(self, s: Tensor) -> State:
        """Flat ``s`` (..., n) -> the cell's state."""
        if len(self.state_names) == 1:
            return s
        return tuple(s.split(self.hidden_size, dim=-1))

    # -- what each cell defines -----------------------------------------------------------------------

    def step(self, u: Tensor, state: State) -> State:
        """The recurrent update. u: (B, G*H) projected input; state as ``initial_state``."""
        raise NotImplementedError

    def recurrence(
        self,
        u: Tensor,
        state: State,
        weight_hh: Tensor,
        bias_hh: Tensor | None,
        truncate: int | None = None,
        mask: Tensor | None = None,
        norms: Norms | None = None,
    ) -> tuple[Tensor, State]:
        """The whole loop with the hand-derived BPTT. u: (T, B, G*H) -> (hs (T, B, H), final state).

        The recurrent weights come as arguments (a CUDA graph records them as inputs). ``truncate``,
        ``mask`` (T, B) and ``norms`` as in ``rnn_scratch.models.layers.Recurrent.forward_projected``."""
        raise NotImplementedError(f"{type(self).__name__} has no hand-derived backward: use bptt=autograd")

    def jacobian_times(self, u: Tensor, s_prev: Tensor, q: Tensor) -> Tensor:
        """``J q`` with ``J = dF/ds (s_prev, u)`` the step's Jacobian on flat states, at each of B points.

        u: (B, G*H), s_prev: (B, n), q: (B, n, k) k tangent directions -> (B, n, k)."""
        raise NotImplementedError(f"{type(self).__name__} declares no Jacobian")

    def recurrent_block(self) -> Tensor:
        """The (H, H) block of ``weight_hh`` whose spectrum the instruments read (``spectral_block``)."""
        return self.weight_hh.detach().split(self.hidden_size)[self.spectral_block]

    # -- the cell's settings, tuning and words (the config, the study) ---------------------------------

    @classmethod
    def options(cls, cfg: ModelConfig, seq_len: int | None = None) -> dict[str, Any]:
        """The constructor's keyword arguments beyond (I, H, bias) from the model config."""
        return {"nonlinearity": cfg.nonlinearity} if len(cls.nonlinearities) > 1 else {}

    @classmethod
    def check_config(cls, cfg: ModelConfig, seq_len: int, model: str) -> None:
        """``ConfigError`` naming the key of a setting this cell cannot take (``model``: the config's
        model name, which may be the torch reference's ``torch_<name>``)."""
        if cfg.nonlinearity != "tanh" and cfg.nonlinearity not in cls.nonlinearities:
            raise ConfigError("model.nonlinearity", f"model={model} takes no {cfg.nonlinearity}")
        if cfg.init not in cls.inits:
            raise ConfigError("model.init", f"model={model} takes {'|'.join(cls.inits)}, not {cfg.init}")
        if cfg.gate_init != "constant":
            raise ConfigError("model.gate_init", f"{cfg.gate_init} applies to gated cells, not model={model}")

    @classmethod
    def ignores(cls, key: str, cfg: ModelConfig) -> str | None:
        """Whether ``model.<key>`` at ``cfg``'s value changes nothing for this cell: None if it takes it,
        else why not ("" when the cell never reads the key), so a setting given for it is refused."""
        if key in CELL_KEYS and key not in cls.own_keys:
            return ""
        if key == "nonlinearity" and cfg.nonlinearity not in cls.nonlinearities:
            return f"(it is always {'|'.join(cls.nonlinearities)})"
        if key == "init_gain" and cfg.init == "default":
            return "with model.init=default (the gain scales the orthogonal and identity inits)"
        return None

    @classmethod
    def suggest(cls, trial: Any, model: Mapping[str, Any]) -> None:
        """This cell's part of the tuning search space (Optuna's define-by-run ``trial``; ``model``: the
        sweep's model config): the init, default or orthogonal. An identity init defines its model (the
        IRNN, ``model=irnn``) and is kept: that model is tuned as a cell of its own."""
        if model.get("init") != "identity":
            trial.suggest_categorical("model.init", [i for i in cls.inits if i != "identity"])

    @classmethod
    def settings(cls, params: Mapping[str, Any], model: Mapping[str, Any]) -> dict[str, Any]:
        """The model keys of a tuning trial (``params``: key -> value chosen; ``model``: the sweep's
        model config, for the keys it kept), every searched key spelled out."""
        return {"init": params.get("model.init", model.get("init", "default"))}

    @classmethod
    def describe(cls, model: Mapping[str, Any]) -> tuple[str, list[str], bool]:
        """This cell in words from a run's model config: (its name, its own settings in words, whether
        the name already says the init)."""
        return cls.words or cls.name, [], False

    def forward(self, x: Tensor, state: State | None = None) -> State:
        """One time step. x: (B, I); state: (B, H) (or a tuple for LSTM); None means zeros."""
        if state is None:
            state = self.initial_state(x.shape[0], x)
        return self.step(self.input_projection(x), state)

    def extra_repr(self) -> str:
        return f"{self.input_size}, {self.hidden_size}, bias={self.bias}"
