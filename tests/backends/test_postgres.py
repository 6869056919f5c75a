"""Many processes, as on many machines, on one study in a real PostgreSQL server (see ``postgres`` in
tests/conftest.py): the schema is created once, the budget holds through the database's own locks, kill -9 and
resume work, and the ray backend joins the same study."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState

from automl.resume import counted_trials


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "automl", "search", "--task", "tabular", "-q", *args]


def _finished_exactly(url: str, study: str, n_trials: int) -> list[optuna.trial.FrozenTrial]:
    loaded = optuna.load_study(study_name=study, storage=url)
    states = [t.state for t in loaded.trials]
    assert counted_trials(loaded) == n_trials, states
    assert TrialState.RUNNING not in states and TrialState.WAITING not in states
    return loaded.trials


def test_six_processes_that_share_no_lock_file_end_a_new_study_with_exactly_its_budget(postgres: str,
                                                                                      tmp_path: Path) -> None:
    """Six ``automl search`` processes started at once on a brand-new database, each with its own temporary folder
    and working directory (as on six machines): none crashes creating the schema, the study ends with 12."""
    procs = []
    for i in range(6):
        home = tmp_path / f"machine{i}"
        (home / "tmp").mkdir(parents=True)
        procs.append(subprocess.Popen(
            _cli("--models", "linear", "--folds", "2", "--n-trials", "12", "--study", "six", "--storage", postgres),
            cwd=home, env={**os.environ, "TMPDIR": str(home / "tmp")}, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, text=True))
    results = [(p.communicate(timeout=300)[0], p.returncode) for p in procs]
    assert all(rc == 0 for _, rc in results), results
    assert not any("Traceback" in out or "UniqueViolation" in out for out, _ in results), results
    trials = _finished_exactly(postgres, "six", 12)
    assert len(trials) == 12  # not one trial created past the budget
    assert not any(path.name.endswith(".lock") for path in tmp_path.rglob("*"))  # no lock file anywhere


def test_four_processes_and_a_ray_search_share_one_study(postgres: str, tmp_path: Path, ray_cluster: str,
                                                         contract_plugins: Path) -> None:
    """The Ray search starts first (its driver creates its trials); once it has one, four optuna-backend processes
    join. Between them the study ends with exactly 16 trials, run by both kinds of worker."""
    env = {**os.environ, "AUTOML_TEST_SLOW_SECONDS": "0.3"}
    common = ("--models", "slow", "--folds", "2", "--n-trials", "16", "--study", "mixed", "--storage", postgres)
    ray = subprocess.Popen(_cli(*common, "--backend", "ray", "--address", ray_cluster), cwd=tmp_path, env=env,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and ray.poll() is None:
        try:
            if optuna.load_study(study_name="mixed", storage=postgres).trials:
                break
        except KeyError:
            pass
        time.sleep(0.1)
    procs = [ray] + [subprocess.Popen(_cli(*common), cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                                      stderr=subprocess.STDOUT, text=True) for _ in range(4)]
    results = [(p.communicate(timeout=300)[0], p.returncode) for p in procs]
    assert all(rc == 0 for _, rc in results), results
    trials = _finished_exactly(postgres, "mixed", 16)
    assert len(trials) == 16
    backends = {t.user_attrs["resources"]["backend"] for t in trials}
    assert backends == {"optuna", "ray"}, backends  # both kinds of worker ran trials of the study


def test_kill_9_then_resume_on_postgres(postgres: str, tmp_path: Path, contract_plugins: Path,
                                       signal_when: Callable) -> None:
    args = _cli("--models", "slow", "--folds", "3", "--n-trials", "5", "--study", "k", "--storage", postgres,
                "--n-jobs", "2")
    # folds slow enough that the worker process (seconds to import on a busy machine) joins before the command
    # alone has run the 5 trials
    env = {**os.environ, "AUTOML_TEST_SLOW_SECONDS": "1.0"}

    def two_mid_trial(trials: list[optuna.trial.FrozenTrial]) -> bool:
        return sum(t.state == TrialState.RUNNING and bool(t.intermediate_values) for t in trials) == 2

    # the command and its worker process
    _, _, caught = signal_when(args, postgres, "k", two_mid_trial, signal.SIGKILL, cwd=tmp_path, env=env, group=True)
    killed = [t.number for t in caught if t.state == TrialState.RUNNING and t.intermediate_values]
    rerun = subprocess.run(args, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    trials = _finished_exactly(postgres, "k", 5)
    for number in killed:
        assert "died while running this trial" in trials[number].user_attrs["fail_reason"]
        assert [t.params for t in trials if t.system_attrs.get("failed_trial") == number] == [trials[number].params]


@pytest.mark.parametrize("holder", ["thread", "dead process"])
def test_the_budget_lock_is_the_servers_and_dies_with_its_holder(postgres: str, holder: str) -> None:
    """A reservation blocks another until released; a process killed while holding it frees it."""
    import threading

    from automl.budget import Budget, Verdict
    from automl.storage import open_storage

    study = optuna.create_study(storage=open_storage(postgres), study_name="lock")
    if holder == "dead process":
        code = ("import os, signal, optuna; from automl.budget import Budget; from automl.storage import open_storage\n"
                f"b = Budget(optuna.load_study(study_name='lock', storage=open_storage({postgres!r})), 3)\n"
                "b.reserve(); os.kill(os.getpid(), signal.SIGKILL)")
        assert subprocess.run([sys.executable, "-c", code]).returncode == -signal.SIGKILL
        assert Budget(study, 3).reserve() is Verdict.RUN  # the server freed the dead session's lock
        return
    first, second = Budget(study, 3), Budget(study, 3)
    assert first.reserve() is Verdict.RUN
    verdicts: list[Verdict] = []
    thread = threading.Thread(target=lambda: verdicts.append(second.reserve()))
    thread.start()
    thread.join(0.5)
    assert thread.is_alive() and not verdicts
    first.release()
    thread.join(10)
    second.release()
    assert verdicts == [Verdict.RUN]
