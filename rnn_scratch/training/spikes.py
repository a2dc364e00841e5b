"""The gradient norm against its own running median: relative clipping and spike counts (Pascanu et al.).

An absolute threshold (``clip=1.0``) means different things in different runs: with torch's default
initialisation the global norm of a tanh RNN stays near 0.1 and is never clipped; with an orthogonal
one it is clipped at most steps, where it acts as a cap on the step size. Pascanu, Mikolov & Bengio
(2013) set the threshold from the norms a run actually sees. ``NormHistory`` keeps the last ``WINDOW``
global norms (before clipping) of a run; with ``m`` their median::

    threshold = clip_relative * m           (clip_relative=k: clip at k x the running median)
    spike     = norm > SPIKE_FACTOR * m     (a step whose gradient is 10x the usual: counted)

Both wait for ``WARMUP`` steps of history; until then there is no median, so nothing is clipped
relatively and nothing counts as a spike. The median excludes the current step.
"""

from __future__ import annotations

import math
from collections import deque
from statistics import median

WINDOW = 100  # steps of history in the running median
WARMUP = 10  # steps before the median is used
SPIKE_FACTOR = 10.0  # a spike: the norm exceeds this many times the running median


class NormHistory:
    """The last ``WINDOW`` finite global gradient norms of a run, and the spikes seen so far."""

    def __init__(self, norms: list[float] | None = None, spikes: int = 0) -> None:
        self.norms: deque[float] = deque(norms or [], maxlen=WINDOW)
        self.spikes = spikes

    def median(self) -> float | None:
        """The running median, or None during the warm-up."""
        return median(self.norms) if len(self.norms) >= WARMUP else None

    def threshold(self, clip: float | None, clip_relative: float | None) -> float | None:
        """The clipping threshold of this step: ``clip``, ``clip_relative`` x the median, the smaller of
        the two when both are set, None for no clipping."""
        m = self.median()
        relative = None if clip_relative is None or m is None else clip_relative * m
        given = [t for t in (clip, relative) if t is not None]
        return min(given) if given else None

    def add(self, norm: float) -> bool:
        """Record this step's norm (before clipping); True if it is a spike."""
        m = self.median()
        spike = m is not None and norm > SPIKE_FACTOR * m
        self.spikes += int(spike)
        if math.isfinite(norm):
            self.norms.append(norm)
        return spike

    def state_dict(self) -> dict[str, list[float] | int]:
        return {"norms": list(self.norms), "spikes": self.spikes}
