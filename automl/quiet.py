"""Keeping Optuna's console output to what a user of automl needs."""

from __future__ import annotations

import contextlib
import logging
import warnings
from collections.abc import Iterator

import optuna

from automl.envvars import debug
from automl.optuna_compat import OPTIMIZE_LOGGER

__all__ = ["OneLineTrialFailures", "no_experimental_warnings", "quiet_optuna_logs"]


@contextlib.contextmanager
def no_experimental_warnings() -> Iterator[None]:
    """Silence Optuna's ExperimentalWarning for the stable-in-practice features automl relies on
    (heartbeats, stale-trial retries, grouped TPE)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        yield


class OneLineTrialFailures(logging.Filter):
    """Turn Optuna's report of a failed trial (its parameters, the error and a traceback, then a second line
    "failed with value None") into one line: ``Trial N failed: <error>``. The reason is stored on the trial
    (``automl show`` lists it with the parameters); ``AUTOML_DEBUG=1`` keeps Optuna's full report."""

    _ERROR = " because of the following error: "

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if debug() or not message.startswith("Trial ") or " failed with " not in message:
            return True
        if message.endswith(" failed with value None."):
            return False
        if self._ERROR in message:
            number, error = message.split()[1], message.split(self._ERROR, 1)[1]
            record.msg, record.args = f"Trial {number} failed: {error}", ()
        record.exc_info, record.exc_text = None, None
        return True


@contextlib.contextmanager
def quiet_optuna_logs(enabled: bool = True, level: int = optuna.logging.WARNING) -> Iterator[None]:
    """Set Optuna's log level to ``level`` while ``enabled`` (the default WARNING: no per-trial INFO lines; INFO
    brings them back whatever the level was before); always report a failed trial in one line
    (:class:`OneLineTrialFailures`)."""
    before = optuna.logging.get_verbosity()
    optimize_logger = logging.getLogger(OPTIMIZE_LOGGER)
    one_line = OneLineTrialFailures()
    optimize_logger.addFilter(one_line)
    if enabled:
        optuna.logging.set_verbosity(level)
    try:
        yield
    finally:
        optuna.logging.set_verbosity(before)
        optimize_logger.removeFilter(one_line)
