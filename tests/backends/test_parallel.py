"""Several worker processes on one SQLite study: ``search(n_jobs=N)``, separate ``automl search`` processes, and
the exact budget between them."""

from __future__ import annotations

import collections
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState

import automl
from automl.backends.optuna_backend import OptunaBackend
from automl.backends.parallel import plan_resources, thread_cap
from automl.deadline import TimeBudget
from automl.exceptions import ConfigError
from automl.resume import WORKER_ATTR, counted_trials
from automl.storage import open_storage


def _check_exact(study: optuna.Study, n_trials: int) -> list[optuna.trial.FrozenTrial]:
    trials = study.trials
    states = [t.state for t in trials]
    assert counted_trials(study) == n_trials, collections.Counter(s.name for s in states)
    assert TrialState.RUNNING not in states and TrialState.WAITING not in states
    assert sorted(t.number for t in trials) == list(range(len(trials)))
    return trials


def test_n_jobs_2_runs_trials_in_two_processes_and_ends_with_exactly_the_budget(storage: str) -> None:
    result = automl.search("tabular", models=["hist_gradient_boosting"], n_trials=8, folds=5, n_jobs=2,
                           storage=storage, study="par")
    trials = _check_exact(result.study, 8)
    assert len(trials) == 8  # nothing failed, nothing created past the budget
    pids = {t.user_attrs[WORKER_ATTR]["pid"] for t in trials}
    assert len(pids) == 2, pids  # this process and the worker it started
    resources = [t.user_attrs["resources"] for t in trials]
    assert {(r["worker"], r["pid"]) for r in resources} == {
        (r["worker"], t.user_attrs[WORKER_ATTR]["pid"]) for r, t in zip(resources, trials)}
    assert {r["worker"] for r in resources} == {0, 1}
    assert all(r["device"] == "cpu" and r["threads"] == 1 and r["backend"] == "optuna" for r in resources)


def test_workers_spread_over_the_gpus_and_share_the_cores(monkeypatch: pytest.MonkeyPatch) -> None:
    """Device accounting without a GPU: torch is told it sees two."""
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    assert [r.device for r in plan_resources("auto", None, 3)] == ["cuda:0", "cuda:1", "cuda:0"]
    assert [r.device for r in plan_resources("cuda", None, 2)] == ["cuda:0", "cuda:1"]
    assert [r.device for r in plan_resources("cuda:1", 4, 2)] == ["cuda:1", "cuda:1"]
    assert [r.threads for r in plan_resources("cpu", 4, 2)] == [4, 4]
    assert [r.details["worker"] for r in plan_resources("cpu", None, 3)] == [0, 1, 2]
    assert thread_cap(2, None) == max(1, (os.cpu_count() or 1) // 2) and thread_cap(2, 3) is None


def test_without_a_gpu_auto_means_the_cpu_and_cuda_is_refused() -> None:
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    assert [r.device for r in plan_resources("auto", None, 2)] == ["cpu", "cpu"]
    with pytest.raises(ConfigError, match="torch sees no CUDA GPU"):
        plan_resources("cuda", None, 2)


def test_a_single_process_run_stays_reproducible(tmp_path: Path) -> None:
    """Only a worker that meets another process's trials re-seeds its sampler; its own trials do not count."""
    params = [[t.params for t in automl.search("tabular", models=["hist_gradient_boosting"], n_trials=4, folds=2,
                                               sampler="random", storage=f"sqlite:///{tmp_path / f'{i}.db'}",
                                               study="r").study.trials] for i in range(2)]
    assert params[0] == params[1]


def test_bad_n_jobs_is_a_config_error(storage: str) -> None:
    with pytest.raises(ConfigError, match="n_jobs"):
        automl.search("tabular", n_trials=1, storage=storage, n_jobs=0)
    with pytest.raises(ConfigError, match="leave registry out"):  # workers discover the installed plugins
        automl.search("tabular", n_trials=1, storage=storage, n_jobs=2, registry=automl.discover())


_WORKER = """
import sys, time, optuna
from automl.backends.optuna_backend import OptunaBackend
from automl.backends.parallel import plan_resources, thread_cap
from automl.deadline import TimeBudget
from automl.storage import open_storage
url, go, fail_every = sys.argv[1], sys.argv[2], int(sys.argv[3])
import pathlib
pathlib.Path(go + ".ready" + sys.argv[4]).touch()
while not pathlib.Path(go).exists():
    time.sleep(0.001)
study = optuna.create_study(storage=open_storage(url), study_name="b", load_if_exists=True,
                            sampler=optuna.samplers.RandomSampler(seed=0))
def objective(trial):
    x = trial.suggest_float("x", 0, 1)
    time.sleep(0.2)
    if fail_every and trial.number % fail_every == 1:
        raise RuntimeError("this one fails")
    return x
OptunaBackend().optimize(study, objective, n_trials=7)
"""


@pytest.mark.parametrize("fail_every", [0, 3])
def test_workers_started_at_once_on_a_new_database_never_overshoot_the_budget(tmp_path: Path,
                                                                             fail_every: int) -> None:
    """Four processes create the database, then race for 7 slots; failed trials give their slot back."""
    url = f"sqlite:///{tmp_path / 'b.db'}"
    go = tmp_path / "go"
    procs = [subprocess.Popen([sys.executable, "-c", _WORKER, url, str(go), str(fail_every), str(i)], cwd=tmp_path,
                              stderr=subprocess.PIPE, text=True) for i in range(4)]
    deadline = time.monotonic() + 120
    while len(list(tmp_path.glob("go.ready*"))) < len(procs) and time.monotonic() < deadline:
        time.sleep(0.01)
    go.touch()
    results = [(p.wait(timeout=300), p.stderr.read()) for p in procs]
    # (a failing trial's traceback is in Optuna's log line about it)
    assert all(rc == 0 and "database is locked" not in err for rc, err in results), results
    trials = _check_exact(optuna.load_study(study_name="b", storage=url), 7)
    failed = [t for t in trials if t.state == TrialState.FAIL]
    assert len(trials) == 7 + len(failed)  # no trial was created past the budget
    assert bool(failed) == bool(fail_every)


@pytest.mark.filterwarnings("ignore:Heartbeat of storage")
def test_a_worker_waiting_for_the_last_slot_takes_over_a_dead_workers_trial(storage: str) -> None:
    rdb = open_storage(storage)
    study = optuna.create_study(storage=rdb, study_name="w")
    study.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=1)
    orphan = study.ask()
    orphan.suggest_float("x", 0, 1)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    orphan.set_user_attr(WORKER_ATTR, {"host": socket.gethostname(), "pid": dead.pid, "started": "1"})
    # counted 1 + running 1 = the budget of 2: the backend waits, finds the worker dead, re-queues its trial
    OptunaBackend().optimize(study, lambda t: t.suggest_float("x", 0, 1), n_trials=2,
                             time_budget=TimeBudget(time.time() + 60))
    trials = _check_exact(study, 2)
    assert trials[orphan.number].state == TrialState.FAIL
    assert trials[-1].system_attrs["failed_trial"] == orphan.number


def test_three_cli_processes_on_a_brand_new_database(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'three.db'}"
    args = [sys.executable, "-m", "automl", "search", "--task", "tabular", "--models", "hist_gradient_boosting",
            "--n-trials", "9", "--folds", "2", "--study", "three", "--storage", url, "-q"]
    procs = [subprocess.Popen(args, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(3)]
    results = [(*p.communicate(timeout=300), p.returncode) for p in procs]
    for out, err, rc in results:
        assert rc == 0, (out, err)
        assert "database is locked" not in err and "Traceback" not in err, err
    study = optuna.load_study(study_name="three", storage=url)
    trials = _check_exact(study, 9)
    assert len(trials) == 9


@pytest.mark.slow
def test_ctrl_c_stops_every_worker_without_leaving_running_trials(tmp_path: Path, signal_when: Callable) -> None:
    """Ctrl-C (SIGINT to the terminal's process group) while two workers run trials, then resume."""
    url = f"sqlite:///{tmp_path / 'c.db'}"
    args = [sys.executable, "-m", "automl", "search", "--task", "tabular", "--models", "mlp", "--n-trials", "6",
            "--folds", "3", "--study", "c", "--storage", url, "--n-jobs", "2", "-q"]

    def two_running(trials: list[optuna.trial.FrozenTrial]) -> bool:
        pids = {t.user_attrs.get(WORKER_ATTR, {}).get("pid") for t in trials if t.state == TrialState.RUNNING}
        return len(pids - {None}) == 2

    output, status, _ = signal_when(args, url, "c", two_running, signal.SIGINT, cwd=tmp_path, group=True)
    assert status == 130, output
    assert "Traceback" not in output, output
    study = optuna.load_study(study_name="c", storage=url)
    states = [t.state for t in study.trials]
    assert TrialState.RUNNING not in states
    # every interrupted trial is queued again (a trial in its last write when the signal came completes instead:
    # the write holds Ctrl-C back until it is done)
    interrupted = sorted(t.number for t in study.trials if t.state == TrialState.FAIL)
    queued = sorted(t.system_attrs.get("failed_trial") for t in study.trials if t.state == TrialState.WAITING)
    assert interrupted and queued == interrupted, [(t.state, t.user_attrs, t.system_attrs) for t in study.trials]

    rerun = subprocess.run(args, cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    _check_exact(optuna.load_study(study_name="c", storage=url), 6)
