"""A study's exact trial budget, shared by every process and backend that runs its trials.

``n_trials`` means the study *ends* with that many counted (complete or pruned) trials, however many workers,
machines or backends run it. Optuna's ``MaxTrialsCallback`` checks after a trial, so N workers overshoot by up to
N-1. Here a worker instead *reserves a slot before it creates a trial*: holding the study's budget lock
(:func:`automl.storage.budget_lock`: a lock file beside a SQLite database, a PostgreSQL advisory lock otherwise),
it counts the study's counted and running trials; below ``n_trials`` it creates the next trial and releases the
lock as soon as that trial is RUNNING, before any training. A failed trial gives its slot back. When the rest of
the budget is held by running trials, a worker waits for them (:meth:`Budget.wait`): one of them may fail, and a
dead worker's trial is failed and queued again (:mod:`automl.resume`).
"""

from __future__ import annotations

import contextlib
import enum
import time

import optuna
from optuna.trial import TrialState

from automl.quiet import no_experimental_warnings
from automl.resume import COUNTED, recover_dead_workers
from automl.storage import budget_lock

__all__ = ["POLL_INTERVAL", "Budget", "Verdict"]

#: Seconds between looks at a study whose remaining budget is held by other trials still running.
POLL_INTERVAL = 0.5


class Verdict(enum.Enum):
    """What :meth:`Budget.reserve` found."""

    #: A slot is reserved: create the trial now (the lock is held), then :meth:`Budget.release`.
    RUN = "run"
    #: The rest of the budget is held by running trials, which may still fail and free a slot.
    WAIT = "wait"
    #: The study holds its budget of counted trials.
    DONE = "done"


class Budget:
    """Slot reservations for ``study`` up to ``n_trials`` counted trials (see the module docstring)."""

    def __init__(self, study: optuna.Study, n_trials: int) -> None:
        self.study = study
        self.n_trials = n_trials
        #: Whether trials of other processes appeared in the study while this one ran (samplers re-seed on it, so
        #: workers that opened the study with the same seed do not propose the same configurations).
        self.shared = False
        self._seen = len(study.get_trials(deepcopy=False))
        self._lock: contextlib.AbstractContextManager[None] | None = None

    def reserve(self, own_running: int = 0) -> Verdict:
        """Take the lock and decide; on :attr:`Verdict.RUN` the lock stays held until :meth:`release`.

        ``own_running``: trials of this process that are RUNNING (a backend running several at once), so that
        only other processes' trials count as sharing.
        """
        lock = budget_lock(self.study)
        lock.__enter__()
        self._lock = lock
        try:
            states = [t.state for t in self.study.get_trials(deepcopy=False)]
            counted = sum(state in COUNTED for state in states)
            running = states.count(TrialState.RUNNING)
            if counted >= self.n_trials:
                verdict = Verdict.DONE
            elif counted + running >= self.n_trials:
                verdict = Verdict.WAIT
            else:
                verdict = Verdict.RUN
                if running > own_running or len(states) > self._seen:
                    self.shared = True
                self._seen = len(states) + (TrialState.WAITING not in states)  # with ours (new, or a queued one)
        except BaseException:
            self.release()
            raise
        if verdict is not Verdict.RUN:
            self.release()
        return verdict

    def release(self) -> None:
        """Free the lock (nothing when it is not held)."""
        lock, self._lock = self._lock, None
        if lock is not None:
            lock.__exit__(None, None, None)

    def wait(self, seconds: float = POLL_INTERVAL) -> None:
        """Sleep, then fail what dead workers left running (and what stopped sending heartbeats), freeing slots."""
        time.sleep(seconds)
        recover_dead_workers(self.study)
        with no_experimental_warnings():
            optuna.storages.fail_stale_trials(self.study)
