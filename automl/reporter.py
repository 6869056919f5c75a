"""How a running trial talks to whatever runs it: the :class:`Reporter` protocol and the attributes it records.

The trial runner (:mod:`automl.runner`) reports the running CV estimate after each fold and epoch, asks whether
to stop, and records attributes (fold scores, fit times, resources, the reason of a failure) through a reporter.
Each backend supplies one: the Optuna backend writes to the Optuna trial, the Ray backend sends results to its
driver. Neither the runner nor the fold loop knows which.

What is reported depends on the study's pruner (:func:`automl.samplers.reporting`): see :class:`Reporting`.
"""

from __future__ import annotations

import enum
from typing import Any, Protocol

__all__ = ["FAIL_REASON", "INTERRUPTED", "MemoryReporter", "Reporter", "Reporting", "fail_reason"]

#: Trial attribute holding why a trial failed.
FAIL_REASON = "fail_reason"
#: ``fail_reason`` of a trial stopped by Ctrl-C (or its worker's stop signal).
INTERRUPTED = "interrupted by the user (KeyboardInterrupt)"


class Reporting(enum.Enum):
    """What a trial reports, and at which steps (the steps are laid out in :mod:`automl.cv`).

    * ``RUNNING``: the running mean CV estimate after each fold, and after torch epochs 1, 2, 4, 8, ...
      (:func:`automl.cv.on_schedule`; median and percentile pruners compare trials at equal steps);
    * ``FOLDS``: the running mean after each fold only (Hyperband: its resource is the number of folds);
    * ``PER_FOLD``: each fold's own score at step ``f`` (Wilcoxon: paired per-fold comparisons with the best trial).
    """

    RUNNING = "running"
    FOLDS = "folds"
    PER_FOLD = "per_fold"


class Reporter(Protocol):
    """What a running trial reports to, supplied by the backend that runs it."""

    def report(self, value: float, step: int) -> None:
        """Record the trial's running estimate ``value`` at ``step`` (called after each fold and torch epoch)."""
        ...

    def should_stop(self) -> bool:
        """Whether the trial should stop now (a pruner's verdict), asked right after each :meth:`report`."""
        ...

    def set_attr(self, key: str, value: Any) -> None:
        """Record a JSON-serialisable attribute of the trial (fold scores, resources, a failure's reason)."""
        ...


class MemoryReporter:
    """A reporter that keeps everything in memory and never stops a trial (conformance checks, tests)."""

    def __init__(self) -> None:
        self.reports: dict[int, float] = {}
        self.attrs: dict[str, Any] = {}

    def report(self, value: float, step: int) -> None:
        """Keep ``value`` under ``step``."""
        self.reports[step] = value

    def should_stop(self) -> bool:
        """Never."""
        return False

    def set_attr(self, key: str, value: Any) -> None:
        """Keep the attribute."""
        self.attrs[key] = value


def fail_reason(exc: BaseException) -> str:
    """The ``fail_reason`` recorded for ``exc``: its type and message, cut at 2,000 characters."""
    return f"{type(exc).__name__}: {exc}"[:2000]
