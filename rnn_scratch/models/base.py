"""What every hand-written cell shares: parameters, initialisation, the split of a step in two halves.

``RecurrentCell`` holds torch's parameters (``weight_ih``, ``weight_hh``, ``bias_ih``, ``bias_hh``) and the
recurrent initialisations (``init_recurrent``: default, orthogonal, identity). ``GatedCell`` adds the
bias of the gate that keeps the memory (LSTM: f, GRU: z): a constant (``forget_bias``) or chrono
initialisation (Tallec & Ollivier 2018, ``chrono_bias``). The cells themselves are in
``rnn_scratch.models.cells``.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

INITS = ("default", "orthogonal", "identity")
NONLINEARITIES = ("tanh", "relu")
GATE_INITS = ("constant", "chrono")

State = Tensor | tuple[Tensor, Tensor]
"""A cell's state: ``h`` (B, H), or ``(h, c)`` for the LSTM."""


class RecurrentCell(nn.Module):
    """Base: ``weight_ih (G*H, I)``, ``weight_hh (G*H, H)``, ``bias_ih`` and ``bias_hh (G*H,)``.

    ``G`` is the number of gate blocks (1 for the vanilla RNN, 4 for LSTM, 3 for GRU), stacked in
    torch's order. Default initialisation is torch's: every entry from U(-1/sqrt(H), 1/sqrt(H)).
    """

    n_gates: int = 1

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True) -> None:
        super().__init__()
        if input_size <= 0 or hidden_size <= 0:
            raise ValueError(f"input_size and hidden_size must be > 0, got {input_size}, {hidden_size}")
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.bias = bias
        gh = self.n_gates * hidden_size
        self.weight_ih = nn.Parameter(torch.empty(gh, input_size))
        self.weight_hh = nn.Parameter(torch.empty(gh, hidden_size))
        if bias:
            self.bias_ih: nn.Parameter | None = nn.Parameter(torch.empty(gh))
            self.bias_hh: nn.Parameter | None = nn.Parameter(torch.empty(gh))
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """torch's default: U(-1/sqrt(H), 1/sqrt(H)) for every weight and bias."""
        bound = 1.0 / math.sqrt(self.hidden_size)
        for p in self.parameters():
            nn.init.uniform_(p, -bound, bound)

    def init_recurrent(self, scheme: str, gain: float = 1.0) -> None:
        """Re-initialise each (H, H) block of ``weight_hh``.

        * ``default``: leave torch's uniform initialisation.
        * ``orthogonal``: a random orthogonal matrix times ``gain`` (Saxe et al. 2014): every
          singular value is ``gain``, so a linearised recurrence neither shrinks nor grows the
          gradient.
        * ``identity``: ``gain * I`` with zero recurrent bias: the state is copied forward until
          learning says otherwise. With a ReLU cell this is the IRNN of Le et al. (2015), whose input
          bias is zeroed too (``RNNCell``); with tanh it is an identity-initialised tanh RNN.
        """
        if scheme not in INITS:
            raise ValueError(f"unknown init {scheme!r}; choose one of {', '.join(INITS)}")
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

    def initial_state(self, batch_size: int, like: Tensor) -> State:
        """The zero state, as torch uses when none is given."""
        return torch.zeros(batch_size, self.hidden_size, dtype=like.dtype, device=like.device)

    @staticmethod
    def state_parts(state: State) -> dict[str, Tensor]:
        """The state's tensors by name (``h``; the LSTM adds ``c``), for instruments."""
        assert isinstance(state, Tensor)
        return {"h": state}

    @staticmethod
    def hidden(state: State) -> Tensor:
        """The part of the state the layer outputs: ``h`` (B, H)."""
        assert isinstance(state, Tensor)
        return state

    def step(self, u: Tensor, state: State) -> State:
        """The recurrent update. u: (B, G*H) projected input; state as ``initial_state``."""
        raise NotImplementedError

    def forward(self, x: Tensor, state: State | None = None) -> State:
        """One time step. x: (B, I); state: (B, H) (or a tuple for LSTM); None means zeros."""
        if state is None:
            state = self.initial_state(x.shape[0], x)
        return self.step(self.input_projection(x), state)

    def extra_repr(self) -> str:
        return f"{self.input_size}, {self.hidden_size}, bias={self.bias}"


def chrono_bias(n: int, t_max: float, dtype: torch.dtype = torch.float32) -> Tensor:
    """Chrono initialisation (Tallec & Ollivier 2018): n values ``b ~ log U(1, T_max - 1)``.

    A gate whose pre-activation is ``b`` keeps a fraction ``sigma(b) = u / (1 + u)`` of the memory per
    step (``u = e^b``), so the memory's time constant ``1 / (1 - sigma(b)) = 1 + u`` is spread
    uniformly over [2, T_max]: the cell starts with memories as long as the dependencies it must learn.
    Draws from torch's global RNG (seeded per run).
    """
    if t_max <= 2:
        raise ValueError(f"chrono_tmax must be > 2 (U(1, T_max - 1) must not be empty), got {t_max}")
    return torch.empty(n, dtype=dtype).uniform_(1.0, t_max - 1.0).log_()


class GatedCell(RecurrentCell):
    """A cell with a gate that keeps the memory (LSTM: f; GRU: z), and its bias initialisation.

    After torch's initialisation the keep gate's slice of ``bias_ih`` is set to 0 and its slice of
    ``bias_hh`` to ``b``, so the effective bias ``b_ih + b_hh`` is ``b`` (per unit):

    * ``gate_init="constant"``: ``b = forget_bias`` for every unit; 0.0 leaves torch's initialisation.
    * ``gate_init="chrono"``: ``b ~ log U(1, T_max - 1)`` per unit (``chrono_bias``,
      ``T_max = chrono_tmax``), and the gate that writes (LSTM: i) gets ``-b``, Tallec & Ollivier's
      ``b_i = -b_f``. The GRU has no separate write gate: its ``1 - z`` is the write.
    """

    keep_gate: int = 1  # block of the keep gate in the stacked rows
    write_gate: int | None = None  # block that chrono sets to -b

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        bias: bool = True,
        *,
        forget_bias: float = 0.0,
        gate_init: str = "constant",
        chrono_tmax: float | None = None,
    ) -> None:
        if gate_init not in GATE_INITS:
            raise ValueError(f"gate_init must be one of {', '.join(GATE_INITS)}, got {gate_init!r}")
        if gate_init == "chrono" and (chrono_tmax is None or chrono_tmax <= 2):
            raise ValueError(f"gate_init='chrono' needs chrono_tmax > 2, got {chrono_tmax}")
        super().__init__(input_size, hidden_size, bias)
        self.forget_bias, self.gate_init, self.chrono_tmax = float(forget_bias), gate_init, chrono_tmax
        self._init_gate_bias()

    def reset_parameters(self) -> None:
        """torch's default, then the keep gate's bias (unset while the base constructor runs)."""
        super().reset_parameters()
        if hasattr(self, "gate_init"):
            self._init_gate_bias()

    def _init_gate_bias(self) -> None:
        if self.bias_ih is None or self.bias_hh is None:
            return
        if self.gate_init == "constant" and self.forget_bias == 0.0:
            return
        h = self.hidden_size

        def rows(block: int) -> slice:
            return slice(block * h, (block + 1) * h)

        with torch.no_grad():
            if self.gate_init == "chrono":
                assert self.chrono_tmax is not None
                b = chrono_bias(h, self.chrono_tmax, self.bias_hh.dtype).to(self.bias_hh.device)
            else:
                b = torch.full_like(self.bias_hh[rows(self.keep_gate)], self.forget_bias)
            self.bias_ih[rows(self.keep_gate)] = 0.0
            self.bias_hh[rows(self.keep_gate)] = b
            if self.gate_init == "chrono" and self.write_gate is not None:
                self.bias_ih[rows(self.write_gate)] = 0.0
                self.bias_hh[rows(self.write_gate)] = -b

    def extra_repr(self) -> str:
        if self.gate_init == "chrono":
            return super().extra_repr() + f", gate_init='chrono', chrono_tmax={self.chrono_tmax}"
        extra = f", forget_bias={self.forget_bias}" if self.forget_bias else ""
        return super().extra_repr() + extra
