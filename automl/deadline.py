"""A search's time limit (``timeout``): one wall-clock deadline, held to about a second, start-up included.

``automl search --timeout S`` counts from the command's start (:func:`process_age`), ``automl.search(timeout=S)``
from the call (or from its ``started``). The deadline is an absolute wall-clock time (:class:`TimeBudget`), so
worker processes that start later share it. Within it:

* a trial whose model took longer in this study than the time left (median of its complete trials) is not
  started: it fails with that reason, its configuration is queued again, and this run ends;
* a running trial is stopped at the deadline (the trial runner's ``SIGALRM``, between Python steps: within a
  batch of torch training or a fold's Python-level loop; a single long native call finishes first), failed with
  the reason, and its configuration queued again;
* with a holdout, the refit of the best configuration after the search gets its share: trials end earlier by
  the refit's estimated time (:func:`refit_seconds`).

Both kinds of trial fail with :class:`OutOfTime` (``fail_reason`` starts with ``OutOfTime:``) and give their slot
of the trial budget back; the next run (``automl search`` again, or with a larger ``--timeout``) tries their
configuration first.
"""

from __future__ import annotations

import os
import statistics
import time
from dataclasses import dataclass

import optuna
from optuna.trial import TrialState

from automl.exceptions import TrialTimeoutError

__all__ = ["OutOfTime", "TimeBudget", "model_seconds", "process_age", "refit_seconds"]


class OutOfTime(TrialTimeoutError):
    """The search's time limit ended (or kept from starting) this trial; its configuration is queued again."""


def process_age() -> float:
    """Seconds since this process started (Linux: from ``/proc``; elsewhere 0.0, i.e. counted from now)."""
    try:
        with open("/proc/self/stat", encoding="ascii") as stat, open("/proc/uptime", encoding="ascii") as uptime:
            start_ticks = int(stat.read().rsplit(")", 1)[1].split()[19])
            since_boot = float(uptime.read().split()[0])
        return max(0.0, since_boot - start_ticks / os.sysconf("SC_CLK_TCK"))
    except (OSError, ValueError, IndexError):
        return 0.0


def _seconds(trial: optuna.trial.FrozenTrial) -> float | None:
    if trial.datetime_start is None or trial.datetime_complete is None:
        return None
    return (trial.datetime_complete - trial.datetime_start).total_seconds()


def model_seconds(study: optuna.Study) -> dict[str, float]:
    """The median duration of each model's complete trials in ``study`` (models without one are left out)."""
    durations: dict[str, list[float]] = {}
    for trial in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)):
        seconds = _seconds(trial)
        if seconds is not None and "model" in trial.params:
            durations.setdefault(str(trial.params["model"]), []).append(seconds)
    return {model: statistics.median(values) for model, values in durations.items()}


def refit_seconds(study: optuna.Study) -> float:
    """The estimated time of refitting the study's best configuration on all search rows: its folds' mean fit time
    scaled up by the larger training set (``k / (k - 1)``), plus a half for featurizing and scoring. 0.0 while the
    study has no best trial (or a multi-objective study, which refits nothing after the search)."""
    if len(study.directions) != 1:
        return 0.0
    try:
        best = study.best_trial
    except ValueError:
        return 0.0
    fits = [float(s) for s in best.user_attrs.get("fit_seconds", [])]
    if not fits:
        return 0.0
    k = len(fits)
    return statistics.fmean(fits) * (k / (k - 1) if k > 1 else 1.0) * 1.5


@dataclass(frozen=True)
class TimeBudget:
    """A run's deadline (``time.time()`` seconds) and whether a refit after the search must fit before it."""

    deadline: float
    refit: bool = False

    def left(self, study: optuna.Study) -> float:
        """Seconds the trials of ``study`` have left (the refit's estimated time taken off when there is one)."""
        left = self.deadline - time.time()
        return left - refit_seconds(study) if self.refit else left

    def check_start(self, study: optuna.Study, model: str) -> float:
        """The seconds a trial of ``model`` may run; raises :class:`OutOfTime` when none are left, or when a trial of
        ``model`` took longer in this study than what is left (it could not finish)."""
        left = self.left(study)
        if left <= 0:
            raise OutOfTime("not started: the search's time limit was reached; its configuration is queued again")
        need = model_seconds(study).get(model)
        if need is not None and need > left:
            raise OutOfTime(f"not started: a {model} trial took {need:.1f} s in this study and {left:.1f} s were left "
                            "of the search's time limit; its configuration is queued again")
        return left
