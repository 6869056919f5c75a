from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path

import optuna
import pytest
import sqlalchemy
from optuna.trial import TrialState

from automl.resume import RECOVERER_ATTR, WORKER_ATTR, counted_trials, record_worker, recover_dead_workers
from automl.storage import GRACE_PERIOD, open_storage


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def _running_trial(study: optuna.Study, worker: dict) -> optuna.trial.FrozenTrial:
    trial = study.ask()
    trial.suggest_float("x", 0.0, 1.0)
    trial.set_user_attr(WORKER_ATTR, worker)
    return study.trials[trial.number]


def test_trial_of_a_dead_local_worker_is_failed_and_requeued(storage: str) -> None:
    rdb = open_storage(storage)
    study = optuna.create_study(storage=rdb, study_name="s")
    orphan = _running_trial(study, {"host": socket.gethostname(), "pid": _dead_pid(), "started": "1"})
    assert recover_dead_workers(study) == [orphan.number]
    trials = study.trials
    assert trials[orphan.number].state == TrialState.FAIL
    assert "died while running this trial" in trials[orphan.number].user_attrs["fail_reason"]
    retry = [t for t in trials if t.state == TrialState.WAITING]
    assert len(retry) == 1 and retry[0].params == orphan.params
    assert recover_dead_workers(study) == []  # nothing left to recover


def test_live_and_remote_workers_are_left_alone(storage: str) -> None:
    rdb = open_storage(storage)
    study = optuna.create_study(storage=rdb, study_name="s")
    trial = study.ask()
    record_worker(trial)  # this very process: alive
    _running_trial(study, {"host": "another-host", "pid": _dead_pid(), "started": "1"})
    assert recover_dead_workers(study) == []
    assert [t.state for t in study.trials] == [TrialState.RUNNING, TrialState.RUNNING]


def test_a_reused_pid_does_not_pass_for_the_dead_worker(storage: str) -> None:
    """Same pid as a live process, but another start time: the recorded worker is dead."""
    rdb = open_storage(storage)
    study = optuna.create_study(storage=rdb, study_name="s")
    if not Path(f"/proc/{os.getpid()}/stat").exists():
        pytest.skip("needs /proc to read process start times")
    orphan = _running_trial(study, {"host": socket.gethostname(), "pid": os.getpid(), "started": "-1"})
    assert recover_dead_workers(study) == [orphan.number]


def _cli(args: list[str], cwd: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "automl", *args], cwd=cwd, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)


def test_kill_9_mid_run_then_rerun_ends_with_exactly_the_budget(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'k.db'}"
    args = ["search", "--task", "tabular", "--models", "mlp", "--n-trials", "6", "--folds", "3", "--study", "k",
            "--storage", url, "--threads", "1", "-q"]
    worker = _cli(args, tmp_path)
    deadline = time.monotonic() + 180
    try:
        # wait (bounded) until one trial finished and the next one is running, then SIGKILL mid-trial
        while time.monotonic() < deadline and worker.poll() is None:
            try:
                trials = optuna.load_study(study_name="k", storage=url).trials
            except KeyError:
                trials = []
            states = [t.state for t in trials]
            if TrialState.COMPLETE in states and states[-1] == TrialState.RUNNING:
                break
            time.sleep(0.2)
        assert worker.poll() is None, worker.communicate()[0]
        os.kill(worker.pid, signal.SIGKILL)
        worker.wait()
    finally:
        if worker.poll() is None:
            worker.kill()
    study = optuna.load_study(study_name="k", storage=url)
    assert TrialState.RUNNING in [t.state for t in study.trials]
    killed = [t for t in study.trials if t.state == TrialState.RUNNING][0]

    rerun = _cli(args, tmp_path)
    output, _ = rerun.communicate(timeout=600)
    assert rerun.returncode == 0, output
    study = optuna.load_study(study_name="k", storage=url)
    states = [t.state for t in study.trials]
    assert counted_trials(study) == 6
    assert TrialState.RUNNING not in states and TrialState.WAITING not in states
    assert study.trials[killed.number].state == TrialState.FAIL
    retried = [t for t in study.trials if t.system_attrs.get("failed_trial") == killed.number]
    # the retry re-uses every parameter the killed trial had drawn (all of them, unless it died while composing)
    assert len(retried) == 1 and retried[0].state != TrialState.FAIL
    assert killed.params.items() <= retried[0].params.items()


def _orphan_without_worker(rdb: optuna.storages.RDBStorage, study: optuna.Study, age: float) -> int:
    """A RUNNING trial started ``age`` seconds ago that never recorded its worker (killed while starting it)."""
    template = optuna.trial.create_trial(state=TrialState.WAITING, params={"x": 0.5},
                                         distributions={"x": optuna.distributions.FloatDistribution(0.0, 1.0)})
    template.state = TrialState.RUNNING
    template.datetime_start = datetime.now() - timedelta(seconds=age)
    return rdb.get_trial(rdb.create_new_trial(study._study_id, template)).number


def test_a_trial_that_never_named_its_worker_nor_sent_a_heartbeat_is_failed_after_the_grace_period(
        storage: str) -> None:
    """Its worker died between creating it and its first heartbeat: Optuna's stale check never looks at it."""
    rdb = open_storage(storage)
    study = optuna.create_study(storage=rdb, study_name="s")
    young = _orphan_without_worker(rdb, study, age=GRACE_PERIOD / 2)
    beating = _orphan_without_worker(rdb, study, age=GRACE_PERIOD * 2)
    rdb.record_heartbeat(study.trials[beating]._trial_id)  # a fresh heartbeat: alive (Optuna's check decides)
    silent = _orphan_without_worker(rdb, study, age=GRACE_PERIOD * 2)
    stopped = _orphan_without_worker(rdb, study, age=GRACE_PERIOD * 2)  # its heartbeats stopped long ago
    rdb.record_heartbeat(study.trials[stopped]._trial_id)
    with rdb.engine.begin() as connection:
        connection.execute(sqlalchemy.text("UPDATE trial_heartbeats SET heartbeat = :then WHERE trial_id = :id"),
                           {"then": datetime.utcnow() - timedelta(seconds=GRACE_PERIOD * 2),
                            "id": study.trials[stopped]._trial_id})
    assert recover_dead_workers(study) == [silent, stopped]
    trials = study.trials
    assert [trials[n].state for n in (young, beating, silent, stopped)] == [
        TrialState.RUNNING, TrialState.RUNNING, TrialState.FAIL, TrialState.FAIL]
    assert "no worker recorded" in trials[silent].user_attrs["fail_reason"]
    retries = [t for t in trials if t.state == TrialState.WAITING]
    assert [t.system_attrs["failed_trial"] for t in retries] == [silent, stopped]
    assert all(t.params == {"x": 0.5} for t in retries)


def test_a_recovered_trial_whose_recoverer_died_before_requeueing_it_is_requeued(storage: str) -> None:
    rdb = open_storage(storage)
    study = optuna.create_study(storage=rdb, study_name="s")
    dead = {"host": socket.gethostname(), "pid": _dead_pid(), "started": "1"}
    orphan = _running_trial(study, dead)
    # what recover_dead_workers does, up to the moment its process was killed: the trial failed, not re-queued
    rdb.set_trial_user_attr(orphan._trial_id, RECOVERER_ATTR, dead)
    rdb.set_trial_state_values(orphan._trial_id, state=TrialState.FAIL)
    live = _running_trial(study, dead)
    rdb.set_trial_user_attr(live._trial_id, RECOVERER_ATTR, {**dead, "pid": os.getpid(), "started": None})
    rdb.set_trial_state_values(live._trial_id, state=TrialState.FAIL)  # its recoverer (alive) re-queues it
    assert recover_dead_workers(study) == []
    retries = [t for t in study.trials if t.state == TrialState.WAITING]
    assert [t.system_attrs["failed_trial"] for t in retries] == [orphan.number]
    recover_dead_workers(study)
    assert len([t for t in study.trials if t.state == TrialState.WAITING]) == 1  # once only
