"""In-process backend: ``study.optimize`` with heartbeats, a total-trials budget and a failure cap."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import optuna
from optuna.trial import TrialState

from automl.backends.base import Callback
from automl.resume import COUNTED, counted_trials

__all__ = ["OptunaBackend"]


class _StopAfterFailures:
    """Stop the study once ``limit`` trials failed in this run (a configuration that always fails)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.failures = 0

    def __call__(self, study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        if trial.state == TrialState.FAIL:
            self.failures += 1
            if self.failures >= self.limit:
                study.stop()


class OptunaBackend:
    """Runs trials in this process through :meth:`optuna.Study.optimize`."""

    name = "optuna"

    def optimize(
        self,
        study: optuna.Study,
        objective: Callable[[optuna.Trial], float],
        *,
        n_trials: int,
        timeout: float | None,
        callbacks: Sequence[Callback] = (),
    ) -> None:
        """See :class:`automl.backends.Backend`."""
        if counted_trials(study) >= n_trials:
            return
        study.optimize(
            objective,
            timeout=timeout,
            catch=(Exception,),
            callbacks=[optuna.study.MaxTrialsCallback(n_trials, states=COUNTED), _StopAfterFailures(n_trials),
                       *callbacks],
        )
