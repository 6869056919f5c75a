"""Ctrl-C that cannot be lost.

Python delivers SIGINT as a ``KeyboardInterrupt`` raised wherever the main thread happens to be. When that is a
finalizer (``__del__``, a weakref callback, SQLAlchemy's ``InstanceState._cleanup``), Python prints "Exception
ignored in ..." and drops it: the search would run to its end and exit 0. So a stop request is a *flag*: the
handler sets it (and, unless told otherwise, raises ``KeyboardInterrupt`` at once, which stops a trial
mid-epoch); the engine calls :func:`check` between steps (each report of a trial, between trials), which raises
``KeyboardInterrupt`` again while the flag is set. A swallowed interrupt is thus raised at the next step.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator

__all__ = ["check", "interruptible", "request", "requested"]

_flag = threading.Event()


def request() -> None:
    """Ask the running search to stop (what the signal handlers do)."""
    _flag.set()


def requested() -> bool:
    """Whether a stop was asked for since the current :func:`interruptible` block began."""
    return _flag.is_set()


def check() -> None:
    """Raise ``KeyboardInterrupt`` when a stop was asked for (the engine calls it between steps)."""
    if _flag.is_set():
        raise KeyboardInterrupt


@contextlib.contextmanager
def interruptible(signals: tuple[signal.Signals, ...] = (signal.SIGINT,), *, raise_now: bool = True) -> Iterator[None]:
    """Within the block, ``signals`` set the stop flag, and raise ``KeyboardInterrupt`` too if ``raise_now``
    (the first time only: a second Ctrl-C does not interrupt the clean-up). The flag starts clear; the previous
    handlers come back on leaving. Outside the main thread (signals cannot be handled there) only the flag works.
    """
    _flag.clear()
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: object) -> None:
        first = not _flag.is_set()
        _flag.set()
        if raise_now and first:
            raise KeyboardInterrupt

    previous = {sig: signal.signal(sig, handler) for sig in signals}
    try:
        yield
    finally:
        for sig, before in previous.items():
            signal.signal(sig, before)
