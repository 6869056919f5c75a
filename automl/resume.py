"""Resuming a study: the trials that count towards its budget, and the trials a dead worker left RUNNING.

Optuna's heartbeats (see :mod:`automl.storage`) fail a silent trial after the grace period, on any machine.
On the machine a worker ran on, its death is known at once: each trial records its worker's host, process id and
process start time, and a RUNNING trial whose process is gone is failed and its configuration queued again.
A worker killed between creating a trial and recording itself on it leaves a RUNNING trial that names no
worker; once silent for the grace period (even without any heartbeat) it is failed and queued again too.
"""

from __future__ import annotations

import os
import socket
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import optuna
from optuna.exceptions import UpdateFinishedTrialError
from optuna.trial import TrialState

from automl import optuna_compat
from automl.reporter import FAIL_REASON, INTERRUPTED

__all__ = ["COUNTED", "MAX_RETRY", "RECOVERER_ATTR", "WORKER_ATTR", "counted_trials",
           "record_worker", "recover_dead_workers", "requeue", "requeue_interrupted"]

#: Trial states that count towards a study's ``n_trials`` budget.
COUNTED = (TrialState.COMPLETE, TrialState.PRUNED)
WORKER_ATTR = "automl.worker"
#: The process that failed a dead worker's trial (to queue it again should that process die first).
RECOVERER_ATTR = "automl.recovered_by"
#: How many times the configuration of a trial whose worker died (or was interrupted) is tried again.
MAX_RETRY = 3


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


def _retried(trials: list[optuna.trial.FrozenTrial]) -> set[int]:
    """Numbers of the trials whose configuration was already queued again (from the retries' histories)."""
    return {number for t in trials for number in t.system_attrs.get("retry_history", [])}


def requeue_interrupted(study: optuna.Study) -> list[int]:
    """Queue again the configuration of this process's trials that Ctrl-C stopped. Returns their numbers."""
    me = _this_worker()
    trials = study.get_trials(deepcopy=False)
    retried = _retried(trials)
    requeued = []
    for trial in trials:
        if (trial.state == TrialState.FAIL and trial.user_attrs.get(FAIL_REASON) == INTERRUPTED
                and trial.user_attrs.get(WORKER_ATTR) == me and trial.number not in retried):
            requeue(study, trial)
            requeued.append(trial.number)
    return requeued


def _stale_trial_ids(study: optuna.Study) -> tuple[set[int], int]:
    """Ids of the study's RUNNING trials silent for over the heartbeat grace period, and that period.

    Optuna's stale check (taken as is) skips a trial that never sent a heartbeat: its worker died between creating
    it and the first heartbeat, and the trial would stay RUNNING for good (holding a budget slot, it would stall
    every later run); such a trial counts as silent since its start. Nothing when the storage has no heartbeats.
    """
    rdb = optuna_compat.rdb_storage(optuna_compat.study_storage(study))
    grace = optuna_compat.grace_period(rdb) if rdb is not None else None
    if rdb is None or grace is None:
        return set(), 0
    stale = optuna_compat.stale_trial_ids(rdb, study)
    old = [optuna_compat.trial_id(t) for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))
           if t.datetime_start is not None and datetime.now() - t.datetime_start > timedelta(seconds=grace)]
    stale.update(set(old) - optuna_compat.heartbeat_trial_ids(rdb, old))
    return stale, grace


def recover_dead_workers(study: optuna.Study) -> list[int]:
    """Fail the RUNNING trials whose worker process on this host is gone, and queue their configurations again.

    Also failed and queued again: a RUNNING trial of another host, or one that names no worker (its worker died
    while starting it), silent for over the heartbeat grace period, even if it never sent a heartbeat; and
    queued again: a trial failed here whose recovering process on this host died before queueing it.
    Returns the numbers of the trials failed.
    """
    host = socket.gethostname()
    me = _this_worker()
    storage = optuna_compat.study_storage(study)
    stale, grace = _stale_trial_ids(study)
    failed = []
    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        worker = trial.user_attrs.get(WORKER_ATTR)
        if worker and worker.get("host") == host:
            if _alive(worker):
                continue
            reason = f"worker process {worker['pid']} on {host} died while running this trial"
        elif optuna_compat.trial_id(trial) in stale:  # what Optuna's stale check fails, with a reason and a recoverer
            who = f"worker process {worker['pid']} on {worker.get('host')}" if worker else "no worker recorded"
            reason = f"no heartbeat for over {grace} s ({who}): its worker died"
        else:
            continue
        tid = optuna_compat.trial_id(trial)
        try:
            storage.set_trial_user_attr(tid, RECOVERER_ATTR, me)
            storage.set_trial_user_attr(tid, "fail_reason", reason)
            storage.set_trial_state_values(tid, state=TrialState.FAIL)
        except UpdateFinishedTrialError:  # another process recovered it first
            continue
        requeue(study, storage.get_trial(tid))
        failed.append(trial.number)
    _requeue_orphaned_retries(study, host)
    return failed


def _requeue_orphaned_retries(study: optuna.Study, host: str) -> None:
    """Queue again the trials a process on this host failed as a dead worker's but died before queueing."""
    trials = study.get_trials(deepcopy=False)
    retried = _retried(trials)
    for trial in trials:
        recoverer = trial.user_attrs.get(RECOVERER_ATTR)
        if (trial.state == TrialState.FAIL and trial.number not in retried and recoverer
                and recoverer.get("host") == host and not _alive(recoverer)):
            requeue(study, trial)
