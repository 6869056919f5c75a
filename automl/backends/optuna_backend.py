"""In-process backend: trials through :meth:`optuna.Study.optimize` (heartbeats), an exact total-trials budget
shared by any number of worker processes, and a failure cap.

The budget: a worker *reserves a slot* before it creates a trial. Holding the storage's budget lock
(:func:`automl.storage.budget_lock`, a file lock every process on this machine shares), it counts the study's
complete, pruned and running trials; below ``n_trials`` it creates the next trial (``study.optimize`` with one
trial) and releases the lock as soon as that trial is RUNNING, before the objective's work. So workers never hold
more than ``n_trials`` counted-or-running trials between them, and the study never ends with more than
``n_trials`` counted ones (Optuna's ``MaxTrialsCallback`` checks after a trial: N workers overshoot by up to
N-1). When the budget is reserved but not yet met, a worker waits for the running trials: one that fails frees
its slot again (and a dead worker's trial is failed and re-queued, see :mod:`automl.resume`).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Sequence

import optuna
from optuna.trial import TrialState

from automl.backends.base import Callback
from automl.quiet import no_experimental_warnings
from automl.resume import COUNTED, recover_dead_workers
from automl.storage import budget_lock

__all__ = ["POLL_INTERVAL", "OptunaBackend"]

#: Seconds between looks at a study whose remaining budget is held by other workers' running trials.
POLL_INTERVAL = 0.5


class _StopAfterFailures:
    """Stop once ``limit`` trials failed in this run (a configuration that always fails)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.failures = 0

    @property
    def stopped(self) -> bool:
        return self.failures >= self.limit

    def __call__(self, study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        if trial.state == TrialState.FAIL:
            self.failures += 1


class _Reservation:
    """The budget lock, taken before a trial is created and released once it runs (or on any way out)."""

    def __init__(self, study: optuna.Study) -> None:
        self._storage = study._storage
        self._lock: contextlib.AbstractContextManager[None] | None = None

    def acquire(self) -> None:
        lock = budget_lock(self._storage)  # a fresh context manager each time: they are single-use
        lock.__enter__()
        self._lock = lock

    def release(self) -> None:
        lock, self._lock = self._lock, None
        if lock is not None:
            lock.__exit__(None, None, None)

    def releasing(self, objective: Callable[[optuna.Trial], float]) -> Callable[[optuna.Trial], float]:
        def run(trial: optuna.Trial) -> float:
            self.release()  # the trial is RUNNING now: it holds its slot, other workers may reserve theirs
            return objective(trial)

        return run


def _wait_for_others(study: optuna.Study, seconds: float) -> None:
    """Sleep, then fail what dead workers left running so that their slots come free."""
    time.sleep(seconds)
    recover_dead_workers(study, study._storage)
    with no_experimental_warnings():
        optuna.storages.fail_stale_trials(study)


class OptunaBackend:
    """Runs trials in this process through :meth:`optuna.Study.optimize`; other processes may run the same study."""

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
        deadline = None if timeout is None else time.monotonic() + timeout
        failures = _StopAfterFailures(n_trials)
        reservation = _Reservation(study)
        seen = len(study.get_trials(deepcopy=False))
        reseeded = False
        while not failures.stopped:
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                return
            reservation.acquire()
            try:
                states = [t.state for t in study.get_trials(deepcopy=False)]
                counted = sum(state in COUNTED for state in states)
                if counted >= n_trials:
                    return
                running = states.count(TrialState.RUNNING)
                if counted + running >= n_trials:  # the rest of the budget is reserved by running trials
                    reservation.release()
                    _wait_for_others(study, POLL_INTERVAL if left is None else min(POLL_INTERVAL, left))
                    continue
                if not reseeded and (running or len(states) > seen):
                    # another process works on this study: it may have drawn from the same seed, so do not
                    # propose the same configurations as it does
                    study.sampler.reseed_rng()
                    reseeded = True
                seen = len(states) + (TrialState.WAITING not in states)  # with ours (a new one, or a queued one)
                study.optimize(reservation.releasing(objective), n_trials=1, catch=(Exception,),
                               callbacks=[failures, *callbacks])
            finally:
                reservation.release()
