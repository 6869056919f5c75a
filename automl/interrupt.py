"""Ctrl-C that cannot be lost, and that lands where the engine can record it.

Python delivers SIGINT as a ``KeyboardInterrupt`` raised wherever the main thread happens to be. When that is a
finalizer (``__del__``, a weakref callback, SQLAlchemy's ``InstanceState._cleanup``), Python prints "Exception
ignored in ..." and drops it: the search would run to its end and exit 0. When it is Optuna's own bookkeeping
around a trial, the trial fails without the reason that gets it queued again. So, within :func:`interruptible`,
a stop request is a *flag*: the handler sets it, and raises ``KeyboardInterrupt`` at once only inside
:func:`raising` blocks (the trial runner's fold loop, where the interrupt is recorded on the trial) and outside
:func:`holding` blocks (writes to the study). The engine calls :func:`check` between steps (each report of a
trial, between trials), which raises ``KeyboardInterrupt`` while the flag is set: an interrupt that was swallowed
or held back is raised at the next step.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator

__all__ = ["check", "holding", "interruptible", "raising", "requested"]

_flag = threading.Event()
_state = {"active": 0, "raising": False}


def requested() -> bool:
    """Whether a stop was asked for within the current :func:`interruptible` block."""
    return _flag.is_set()


def check() -> None:
    """Raise ``KeyboardInterrupt`` when a stop was asked for (the engine calls it between steps)."""
    if _state["active"] and _flag.is_set():
        raise KeyboardInterrupt


@contextlib.contextmanager
def raising() -> Iterator[None]:
    """Within the block (and an :func:`interruptible` one), a stop request raises ``KeyboardInterrupt`` at once."""
    before, _state["raising"] = _state["raising"], True
    try:
        yield
    finally:
        _state["raising"] = before


@contextlib.contextmanager
def holding() -> Iterator[None]:
    """Within the block, a stop request only sets the flag (for writes that must not be cut in half)."""
    before, _state["raising"] = _state["raising"], False
    try:
        yield
    finally:
        _state["raising"] = before


@contextlib.contextmanager
def interruptible(signals: tuple[signal.Signals, ...] = (signal.SIGINT,)) -> Iterator[None]:
    """Within the block, ``signals`` request a stop (see the module docstring); the first one raises
    ``KeyboardInterrupt`` when it lands in a :func:`raising` block, a repeat never does (it does not interrupt
    the clean-up). The flag starts clear and is cleared on leaving; the previous handlers come back. Outside the
    main thread (signals cannot be handled there) nothing changes."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: object) -> None:
        first = not _flag.is_set()
        _flag.set()
        if first and _state["raising"]:
            raise KeyboardInterrupt

    _flag.clear()
    previous = {sig: signal.signal(sig, handler) for sig in signals}
    _state["active"] += 1
    try:
        yield
    finally:
        _state["active"] -= 1
        for sig, before in previous.items():
            signal.signal(sig, before)
        _flag.clear()
