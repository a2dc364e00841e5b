"""The gated cells' shared part: the bias of the gate that keeps the memory, and its initialisation.

The LSTM's forget gate f and the GRU's update gate z keep the memory. Their initial bias decides how long
the untrained cell remembers: a constant (``forget_bias``; Gers et al. 2000, Jozefowicz et al. 2015) or
chrono initialisation (Tallec & Ollivier 2018, ``chrono_bias``), which spreads the memories' time
constants over the lengths of the dependencies to learn.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import torch
from torch import Tensor

from rnn_scratch.errors import ConfigError
from rnn_scratch.models.base import GATE_INITS, RecurrentCell
from rnn_scratch.models.config import ModelConfig


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

    own_keys = ("gate_init", "forget_bias", "chrono_tmax")
    keep_gate: ClassVar[int] = 1  # block of the keep gate in the stacked rows
    write_gate: ClassVar[int | None] = None  # block that chrono sets to -b
    default_forget_bias: ClassVar[float] = 0.0  # model.forget_bias null; 0.0: torch's initialisation

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

    @classmethod
    def options(cls, cfg: ModelConfig, seq_len: int | None = None) -> dict[str, Any]:
        """The keep gate's initial bias: ``forget_bias`` (null: the cell's default) or chrono with
        ``T_max = chrono_tmax`` (null: ``seq_len``, the run's longest dependency)."""
        forget_bias = cfg.forget_bias if cfg.forget_bias is not None else cls.default_forget_bias
        t_max = cfg.chrono_tmax if cfg.chrono_tmax is not None else seq_len
        if cfg.gate_init == "chrono" and t_max is None:
            raise ValueError("model.chrono_tmax: chrono initialisation needs chrono_tmax or a seq_len")
        return {"forget_bias": forget_bias, "gate_init": cfg.gate_init, "chrono_tmax": t_max}

    @classmethod
    def check_config(cls, cfg: ModelConfig, seq_len: int, model: str) -> None:
        """As the base, but the gate's initialisation is this cell's to take."""
        super().check_config(ModelConfig(**{**vars(cfg), "gate_init": "constant"}), seq_len, model)
        if cfg.gate_init == "chrono" and cfg.chrono_tmax is None and seq_len <= 2:
            raise ConfigError("model.chrono_tmax", f"null means seq_len, which must be > 2: {seq_len}")

    @classmethod
    def ignores(cls, key: str, cfg: ModelConfig) -> str | None:
        """As the base; the constant bias does nothing under chrono, nor chrono's T_max without it."""
        if key == "forget_bias" and cfg.gate_init == "chrono":
            return "with model.gate_init=chrono (it sets the bias from T_max)"
        if key == "chrono_tmax" and cfg.gate_init != "chrono":
            return f"with model.gate_init={cfg.gate_init} (T_max is chrono's)"
        return super().ignores(key, cfg)

    @classmethod
    def suggest(cls, trial: Any, model: Mapping[str, Any]) -> None:
        """The init, then the keep gate's bias: constant (1 or 3) or chrono."""
        super().suggest(trial, model)
        if trial.suggest_categorical("model.gate_init", ["constant", "chrono"]) == "constant":
            trial.suggest_categorical("model.forget_bias", [1.0, 3.0])

    @classmethod
    def settings(cls, params: Mapping[str, Any], model: Mapping[str, Any]) -> dict[str, Any]:
        settings = super().settings(params, model)
        settings["gate_init"] = params.get("model.gate_init", "constant")
        if settings["gate_init"] == "constant":
            settings["forget_bias"] = params.get("model.forget_bias")
        return settings

    @classmethod
    def describe(cls, model: Mapping[str, Any]) -> tuple[str, list[str], bool]:
        """The name and the keep gate's bias: "chrono gate bias", "gate bias 3"."""
        if model.get("gate_init") == "chrono":
            return cls.words, ["chrono gate bias"], False
        bias = model.get("forget_bias")
        if bias is None and cls.default_forget_bias == 0.0:
            return cls.words, ["torch's gate bias"], False
        return cls.words, [f"gate bias {cls.default_forget_bias if bias is None else bias:g}"], False

    def extra_repr(self) -> str:
        if self.gate_init == "chrono":
            return super().extra_repr() + f", gate_init='chrono', chrono_tmax={self.chrono_tmax}"
        extra = f", forget_bias={self.forget_bias}" if self.forget_bias else ""
        return super().extra_repr() + extra
