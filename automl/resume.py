"""Resuming a study: the trials that count towards its budget, and the trials a dead worker left RUNNING.

Optuna's heartbeats (see :mod:`automl.storage`) fail a silent trial after the grace period, on any machine.
On the machine a worker ran on, its death is known at once: each trial records its worker's host, process id and
process start time, and a RUNNING trial whose process is gone is failed and its configuration queued again.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path
from typing import Any

import optuna
from optuna.exceptions import UpdateFinishedTrialError
from optuna.trial import TrialState

__all__ = ["COUNTED", "INTERRUPTED", "MAX_RETRY", "WORKER_ATTR", "counted_trials", "recover_dead_workers",
           "record_worker", "requeue", "requeue_interrupted"]

#: Trial states that count towards a study's ``n_trials`` budget.
COUNTED = (TrialState.COMPLETE, TrialState.PRUNED)
WORKER_ATTR = "automl.worker"
#: How many times the configuration of a trial whose worker died (or was interrupted) is tried again.
MAX_RETRY = 3
#: ``fail_reason`` of a trial stopped by Ctrl-C (KeyboardInterrupt).
INTERRUPTED = "interrupted by the user (KeyboardInterrupt)"


def counted_trials(study: optuna.Study) -> int:
    """Finished trials counted towards the budget (complete or pruned)."""
    return len(study.get_trials(deepcopy=False, states=COUNTED))


def _start_time(pid: int) -> str | None:
    """The process's start time in clock ticks since boot (Linux), so a reused pid is not taken for it."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[19]


def _this_worker() -> dict[str, Any]:
    return {"host": socket.gethostname(), "pid": os.getpid(), "started": _start_time(os.getpid())}


def _alive(worker: dict[str, Any]) -> bool:
    if worker.get("started") is not None:
        return _start_time(int(worker["pid"])) == worker["started"]
    try:
        os.kill(int(worker["pid"]), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def record_worker(trial: optuna.Trial) -> None:
    """Note on ``trial`` which process runs it."""
    trial.set_user_attr(WORKER_ATTR, _this_worker())


def requeue(study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
    """Queue ``trial``'s configuration again as a WAITING trial, at most :data:`MAX_RETRY` times per original.

    Like Optuna's ``RetryHeartbeatStaleTrialCallback`` (same ``failed_trial``/``retry_history`` system
    attributes), but the new trial starts without the failed attempt's user attributes (fail reason, fold
    scores, worker). Also the storage's heartbeat-stale callback (see :mod:`automl.storage`).
    """
    history = [*trial.system_attrs.get("retry_history", []), trial.number]
    if len(history) > MAX_RETRY:
        return
    study.add_trial(optuna.trial.create_trial(
        state=TrialState.WAITING, params=trial.params, distributions=trial.distributions,
        system_attrs={"failed_trial": trial.system_attrs.get("failed_trial", trial.number),
                      "retry_history": history},
    ))


def requeue_interrupted(study: optuna.Study) -> list[int]:
    """Queue again the configuration of this process's trials that Ctrl-C stopped. Returns their numbers."""
    me = _this_worker()
    trials = study.get_trials(deepcopy=False)
    retried = {number for t in trials for number in t.system_attrs.get("retry_history", [])}
    requeued = []
    for trial in trials:
        if (trial.state == TrialState.FAIL and trial.user_attrs.get("fail_reason") == INTERRUPTED
                and trial.user_attrs.get(WORKER_ATTR) == me and trial.number not in retried):
            requeue(study, trial)
            requeued.append(trial.number)
    return requeued


def recover_dead_workers(study: optuna.Study, storage: optuna.storages.BaseStorage) -> list[int]:
    """Fail the RUNNING trials whose worker process on this host is gone, and queue their configurations again.

    ``storage`` is the study's storage. Returns the numbers of the trials failed.
    """
    host = socket.gethostname()
    failed = []
    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        worker = trial.user_attrs.get(WORKER_ATTR)
        if not worker or worker.get("host") != host or _alive(worker):
            continue
        reason = f"worker process {worker['pid']} on {host} died while running this trial"
        try:
            storage.set_trial_user_attr(trial._trial_id, "fail_reason", reason)
            storage.set_trial_state_values(trial._trial_id, state=TrialState.FAIL)
        except UpdateFinishedTrialError:  # another process recovered it first
            continue
        requeue(study, storage.get_trial(trial._trial_id))
        failed.append(trial.number)
    return failed
