"""Signals a run answers between steps: stop (SIGINT, SIGTERM) or checkpoint and hand on (SIGUSR2).

SIGINT and SIGTERM become a flag the loop checks between steps: it saves a checkpoint and ends the run as
``interrupted``, so ``resume`` continues it exactly.

SIGUSR2 is a scheduler's warning that time is nearly up (Slurm's ``--signal``, which submitit asks for):
the loop saves a checkpoint at the end of the step it is in, then hands the signal on to the handler
that was installed before the run (submitit's, which requeues the job and exits), so the requeued job
continues from that step. With no Python handler before it, SIGUSR2 stops the run like SIGTERM.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from rnn_scratch.training.setup import Run

log = logging.getLogger(__name__)


class Received(list[int]):
    """The signals received so far, in order, and the handlers that were installed before the run's."""

    previous: dict[int, Any]


HANDED_ON = tuple(getattr(signal, name) for name in ("SIGUSR2",) if hasattr(signal, name))


def hand_on(run: Run, step: int, received: Received) -> None:
    """For a handed-on signal (SIGUSR2) with a Python handler installed before the run (submitit's): save
    a checkpoint at ``step`` (the last completed one), drop the signal from ``received`` and call that
    handler, which may exit (submitit requeues the job and exits); if it returns, the run goes on."""
    signum = received[0]
    handler = received.previous.get(signum)
    if signum not in HANDED_ON or not callable(handler):
        return
    run.checkpoint(step)
    log.info("%s: checkpoint at step %d; handing on to %r", signal.Signals(signum).name, step, handler)
    received.pop(0)
    handler(signum, None)


@contextmanager
def stop_signals() -> Iterator[Received]:
    """Turn SIGINT/SIGTERM (and SIGUSR2) into a flag the loop checks between steps, so it can save and
    exit (or, for SIGUSR2, save and hand the signal on: ``hand_on``)."""
    received = Received()
    received.previous = {}
    if threading.current_thread() is not threading.main_thread():
        yield received  # signals reach the main thread only
        return
    received.previous = {
        s: signal.signal(s, lambda signum, _: received.append(signum))
        for s in (signal.SIGINT, signal.SIGTERM, *HANDED_ON)
    }
    try:
        yield received
    finally:
        for s, handler in received.previous.items():
            signal.signal(s, handler)
