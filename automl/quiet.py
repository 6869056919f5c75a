"""Keeping Optuna's console output to what a user of automl needs."""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator

import optuna

__all__ = ["no_experimental_warnings", "quiet_optuna_logs"]


@contextlib.contextmanager
def no_experimental_warnings() -> Iterator[None]:
    """Silence Optuna's ExperimentalWarning for the stable-in-practice features automl relies on
    (heartbeats, stale-trial retries, grouped TPE)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        yield


@contextlib.contextmanager
def quiet_optuna_logs(enabled: bool = True) -> Iterator[None]:
    """Lower Optuna's log level to WARNING (no per-trial INFO lines) while ``enabled``."""
    before = optuna.logging.get_verbosity()
    if enabled:
        optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        yield
    finally:
        optuna.logging.set_verbosity(before)
