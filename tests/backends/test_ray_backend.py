"""The ray backend beyond the contract: trials spread over the nodes of a real cluster, fractional GPUs shared,
per-trial resources recorded, Ctrl-C, the README's command on a local cluster (with ``kill -9``, the dashboard
and the process table), and its option checks."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any
from wsgiref.util import setup_testing_defaults

import optuna
import pytest
from optuna.trial import TrialState

import automl
from automl.cv import fold_end_step, last_step
from automl.datasets import Dataset
from automl.exceptions import ConfigError
from automl.job import DataRef, SearchJob
from automl.registry import discover
from automl.resume import counted_trials
from automl.samplers import reporting
from automl.space import Selection, candidates
from automl.storage import open_storage
from automl.study import StudySpec

SLOW = {"AUTOML_TEST_SLOW_SECONDS": "0.5"}


def _ran(trial: optuna.trial.FrozenTrial) -> tuple[datetime, datetime]:
    """When the trial actually ran on its worker (not when the driver created it)."""
    assert trial.datetime_complete is not None
    return datetime.fromisoformat(trial.user_attrs["resources"]["started"]), trial.datetime_complete


def test_trials_run_on_both_nodes_of_the_cluster(ray_cluster: str, contract_plugins: Path, storage: str,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """Two one-CPU nodes, one CPU per trial: two trials at once, one per node."""
    monkeypatch.setenv(*next(iter(SLOW.items())))
    study = automl.search("tabular", models=["slow"], n_trials=4, folds=2, storage=storage, study="nodes",
                          backend="ray", address=ray_cluster).study
    assert counted_trials(study) == 4
    resources = [t.user_attrs["resources"] for t in study.trials]
    assert len({r["node"] for r in resources}) == 2, resources
    assert all(r["cpus"] == 1.0 and r["gpus"] == 0.0 and r["gpu_ids"] == [] and r["device"] == "cpu"
               for r in resources)


def test_half_a_gpu_per_trial_packs_two_trials_on_one_gpu(ray_cluster: str, contract_plugins: Path, storage: str,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """The second node declares one GPU: with ``gpus_per_trial=0.5`` Ray runs two trials on it at once, never
    three; each records the GPU it got. (No CUDA here, so the trials' torch device stays the CPU.)"""
    monkeypatch.setenv(*next(iter(SLOW.items())))
    study = automl.search("tabular", models=["slow"], n_trials=4, folds=2, storage=storage, study="gpu",
                          backend="ray", address=ray_cluster, cpus_per_trial=0.5, gpus_per_trial=0.5).study
    trials = study.trials
    assert counted_trials(study) == 4
    assert all(t.user_attrs["resources"]["gpu_ids"] == ["0"] for t in trials)
    assert len({t.user_attrs["resources"]["node"] for t in trials}) == 1  # the node with the GPU
    spans = [_ran(t) for t in trials]
    most = max(sum(start <= moment < end for start, end in spans) for moment, _ in spans)
    assert most == 2, spans


def test_the_ray_and_optuna_backends_run_the_same_study_on_the_same_seed(ray_cluster: str, tmp_path: Path) -> None:
    """Same sampler draws, trial seeds, fold scores and pruning decisions, trial by trial (one at a time)."""
    studies = [automl.search("tabular", models=["linear", "hist_gradient_boosting"], n_trials=10, folds=3, seed=5,
                             n_jobs=1, storage=f"sqlite:///{tmp_path / f'{name}.db'}", study="same", backend=name,
                             **({"address": ray_cluster} if name == "ray" else {})).study
               for name in ("optuna", "ray")]
    first, second = ([(t.number, t.state, t.params, t.value, t.intermediate_values, t.user_attrs["fold_scores"])
                      for t in study.trials] for study in studies)
    assert first == second
    assert studies[0].best_params == studies[1].best_params


def test_a_trial_past_its_time_limit_fails_with_the_reason(ray_cluster: str, contract_plugins: Path, storage: str,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """Ray trials run outside a main thread (no alarm): the driver stops one whose report comes past the limit."""
    monkeypatch.setenv("AUTOML_TEST_SLOW_SECONDS", "0.4")
    study = automl.search("tabular", models=["slow"], n_trials=2, folds=3, storage=storage, study="late",
                          backend="ray", address=ray_cluster, trial_timeout=0.6).study
    assert [t.state for t in study.trials] == [TrialState.FAIL] * 2
    for trial in study.trials:
        assert trial.user_attrs["fail_reason"] == (
            "TrialTimeoutError: the trial ran past its 0.6 s limit (trial_timeout)")
        assert 1 <= len(trial.user_attrs["fold_scores"]) < 3  # stopped at its first report past the limit


def test_a_trial_running_at_the_deadline_is_stopped_and_queued_again(contract_plugins: Path, storage: str,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """Trials of 6 folds of 8 s and a 40 s limit: whenever the first trial starts within the limit, one of its
    reports before the last comes past the deadline, and the trial is stopped there with the folds it finished, that
    one included. (A cluster of its own, started by the search: its workers see the fold time set here.)"""
    monkeypatch.setenv("AUTOML_TEST_SLOW_SECONDS", "8")
    study = automl.search("tabular", models=["slow"], n_trials=3, folds=6, storage=storage, study="deadline",
                          backend="ray", n_jobs=1, timeout=40.0).study
    stopped = [t for t in study.trials if t.state == TrialState.FAIL]
    assert len(stopped) == 1
    assert stopped[0].user_attrs["fail_reason"].startswith("OutOfTime: stopped at the search's time limit")
    assert 1 <= len(stopped[0].user_attrs["fold_scores"]) < 6
    assert len(stopped[0].intermediate_values) == len(stopped[0].user_attrs["fold_scores"])
    assert [t.params for t in study.trials if t.state == TrialState.WAITING] == [stopped[0].params]


def test_ctrl_c_fails_and_requeues_the_running_trials_then_resumes(ray_cluster: str, contract_plugins: Path,
                                                                  tmp_path: Path, signal_when: Callable) -> None:
    url = f"sqlite:///{tmp_path / 'c.db'}"
    args = [sys.executable, "-m", "automl", "search", "--task", "tabular", "--models", "slow", "--n-trials", "4",
            "--folds", "2", "--study", "c", "--storage", url, "-q", "--backend", "ray", "--address", ray_cluster]
    env = {**os.environ, **SLOW}

    def mid_trial(trials: list[optuna.trial.FrozenTrial]) -> bool:
        return any(t.state == TrialState.RUNNING and t.intermediate_values for t in trials)

    output, status, _ = signal_when(args, url, "c", mid_trial, signal.SIGINT, cwd=tmp_path, env=env, group=True)
    assert status == 130, output
    assert "Traceback" not in output and "interrupted" in output, output
    trials = optuna.load_study(study_name="c", storage=url).trials
    interrupted = [t for t in trials if t.user_attrs.get("fail_reason", "").startswith("interrupted by the user")]
    assert interrupted and TrialState.RUNNING not in [t.state for t in trials]
    queued = [t for t in trials if t.state == TrialState.WAITING]
    assert sorted(t.system_attrs["failed_trial"] for t in queued) == sorted(t.number for t in interrupted)
    rerun = subprocess.run(args, cwd=tmp_path, capture_output=True, text=True, env=env, timeout=300)
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    study = optuna.load_study(study_name="c", storage=url)
    assert counted_trials(study) == 4 and TrialState.WAITING not in [t.state for t in study.trials]


def _dashboard_studies(url: str) -> list[dict[str, Any]]:
    """optuna-dashboard's own app, in this process, answering ``GET /api/studies`` for the storage at ``url``."""
    from optuna_dashboard import wsgi

    environ: dict[str, Any] = {"PATH_INFO": "/api/studies"}
    setup_testing_defaults(environ)
    status: list[str] = []
    body = b"".join(wsgi(open_storage(url, heartbeat=False, create=False))(
        environ, lambda code, headers, exc_info=None: status.append(code)))
    assert status == ["200 OK"], body
    return json.loads(body)["study_summaries"]


def test_the_readme_command_on_a_local_cluster_survives_kill_9_and_leaves_no_process(
        contract_plugins: Path, tmp_path: Path, ray_leftovers: Callable[[], list[int]], signal_when: Callable) -> None:
    """``automl search --task tabular --backend ray --n-trials 12`` (a local Ray started and stopped by the search;
    a few fast models): killed with SIGKILL mid-run, run again, run a third time; then the study in ``automl show``
    and in optuna-dashboard, and no Ray process left."""
    url = f"sqlite:///{tmp_path / 'r.db'}"
    args = [sys.executable, "-m", "automl", "search", "--task", "tabular", "--backend", "ray", "--n-trials", "12",
            "--models", "slow,linear", "--folds", "3", "--storage", url, "-q"]
    env = {**os.environ, "AUTOML_TEST_SLOW_SECONDS": "0.3"}

    def mid_run(trials: list[optuna.trial.FrozenTrial]) -> bool:
        return any(t.state == TrialState.COMPLETE for t in trials) and any(
            t.state == TrialState.RUNNING for t in trials)

    _, status, _ = signal_when(args, url, "tabular-breast_cancer", mid_run, signal.SIGKILL, cwd=tmp_path, env=env)
    assert status == -signal.SIGKILL  # the driver alone: its cluster's processes are left to the reaper
    assert not ray_leftovers(), "the killed search's local Ray cluster was not reaped"

    second = subprocess.run(args, cwd=tmp_path, capture_output=True, text=True, env=env, timeout=300)
    assert second.returncode == 0, second.stdout + second.stderr
    assert "Token authentication" not in second.stdout + second.stderr  # Ray's banner stays off the terminal
    study = optuna.load_study(study_name="tabular-breast_cancer", storage=url)
    states = [t.state for t in study.trials]
    assert counted_trials(study) == 12 and TrialState.RUNNING not in states and TrialState.WAITING not in states
    assert any("died while running this trial" in t.user_attrs.get("fail_reason", "") for t in study.trials)
    third = subprocess.run(args, cwd=tmp_path, capture_output=True, text=True, env=env, timeout=300)
    assert third.returncode == 0 and len(optuna.load_study(study_name="tabular-breast_cancer",
                                                          storage=url).trials) == len(states)

    show = subprocess.run([sys.executable, "-m", "automl", "show", "tabular-breast_cancer", "--storage", url],
                          capture_output=True, text=True, env={**env, "COLUMNS": "200"})
    assert show.returncode == 0 and "tabular-breast_cancer" in show.stdout, show.stderr
    (listed,) = _dashboard_studies(url)
    assert listed["study_name"] == "tabular-breast_cancer"
    assert not ray_leftovers()


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"backend": "optuna", "address": "127.0.0.1:6379"}, "address applies to the ray backend"),
    ({"backend": "optuna", "gpus_per_trial": 1}, "gpus_per_trial applies to the ray backend"),
    ({"backend": "ray", "cpus_per_trial": -1}, "cpus_per_trial must be a non-negative number"),
    ({"backend": "ray", "cpus_per_trial": 0, "gpus_per_trial": 0}, "must reserve some CPU or GPU"),
    ({"backend": "ray", "gpus_per_trial": 0.5, "device": "cpu"}, "device 'cpu' says not to use them"),
    ({"backend": "ray", "address": " "}, "address is empty"),
    ({"backend": "ray", "registry": automl.Registry([])}, "leave registry out"),
    ({"backend": "nope"}, "unknown backend 'nope'; choose one of optuna, ray"),
])
def test_backend_options_are_checked_before_anything_is_written(tmp_path: Path, kwargs: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        automl.search("tabular", n_trials=1, storage=f"sqlite:///{tmp_path / 'x.db'}", **kwargs)
    assert list(tmp_path.iterdir()) == []


def test_without_ray_installed_the_backend_says_how_to_get_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # what an environment without Ray gives at import
    with pytest.raises(ConfigError, match=r"needs Ray Tune: pip install 'automl\[ray\]'"):
        automl.search("tabular", n_trials=1, storage=f"sqlite:///{tmp_path / 'x.db'}", backend="ray")


def test_two_local_clusters_one_after_the_other_in_one_process(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                              ray_leftovers: Callable[[], list[int]]) -> None:
    """A notebook running two Ray searches: each starts (and reaps) its own local cluster with token auth."""
    for name in ("RAY_AUTH_MODE", "RAY_AUTH_TOKEN"):  # as in a user's process, not as in this test session
        monkeypatch.delenv(name, raising=False)
    for study in ("one", "two"):
        result = automl.search("tabular", models=["linear"], n_trials=2, folds=2, study=study, backend="ray",
                               storage=f"sqlite:///{tmp_path / 'n.db'}")
        assert counted_trials(result.study) == 2
        assert not ray_leftovers()


class _AlwaysPrune(optuna.pruners.BasePruner):
    def prune(self, study: optuna.Study, trial: optuna.trial.FrozenTrial) -> bool:
        return True


def _searcher(study: optuna.Study, storage: str, blobs_csv: Path, blobs: Dataset, folds: int, pruner: str = "median",
              deadline: float | None = None) -> Any:
    """A driver's searcher over ``study`` at ``storage`` (no cluster: its reports are called by hand), with two live
    trials."""
    from automl.backends.ray_tune import StudySearcher

    identity = StudySpec("tabular", "blobs", "builtin", blobs.fingerprint, blobs.kind, "accuracy", "maximize", folds,
                         0, "")
    job = SearchJob(study=study.study_name, storage=storage, data=DataRef.of("tabular", blobs_csv, None, None),
                    metric="accuracy", identity=identity, models=("linear",), optimizers=(),
                    regularizers=(), n_trials=2, folds=folds, pruner=pruner, deadline=deadline)
    searcher = StudySearcher(study, candidates(discover(), "tabular", blobs.kind, Selection(("linear",), None, None)),
                             job, [])
    for trial_id in ("first", "last"):
        searcher._ot_trials[trial_id] = study.ask()
        searcher.live.add(trial_id)
    return searcher


@pytest.mark.parametrize("pruner", ["median", "wilcoxon"])
def test_the_driver_never_prunes_a_trial_at_its_last_fold(blobs_csv: Path, blobs: Dataset, storage: str,
                                                          pruner: str) -> None:
    """The driver writes a worker's last fold report but does not ask the pruner there (as the optuna backend)."""
    from automl.backends.ray_tune import STATE, STEP, VALUE

    folds = 3
    study = optuna.create_study(storage=storage, direction="maximize", pruner=_AlwaysPrune())
    searcher = _searcher(study, storage, blobs_csv, blobs, folds, pruner)
    steps = {"first": 0, "last": last_step(folds, reporting(pruner))}
    assert steps["last"] != 0
    verdicts = {trial_id: searcher.report(trial_id, {STATE: "running", VALUE: 0.9, STEP: step})
                for trial_id, step in steps.items()}
    assert verdicts == {"first": True, "last": False}
    assert study.trials[1].intermediate_values == {steps["last"]: 0.9}


def test_past_the_deadline_a_report_stops_its_trial_and_is_kept_unless_it_is_the_last(
        blobs_csv: Path, blobs: Dataset, storage: str) -> None:
    """Tune hands a result its stopper stops to no scheduler: the stopper writes it (the fold is not lost); a
    trial's last report comes after its work, so the deadline lets it complete."""
    from automl.backends.ray_tune import STATE, STEP, VALUE, _Stopper

    folds = 3
    study = optuna.create_study(storage=storage, direction="maximize")
    searcher = _searcher(study, storage, blobs_csv, blobs, folds, deadline=time.time() - 1.0)
    stopper = _Stopper(searcher)
    assert stopper("first", {STATE: "running", VALUE: 0.8, STEP: fold_end_step(0)})
    assert not stopper("last", {STATE: "running", VALUE: 0.9, STEP: fold_end_step(folds - 1)})
    assert searcher.out_of_time == {"first"}
    assert study.trials[0].intermediate_values == {fold_end_step(0): 0.8}
    assert study.trials[1].intermediate_values == {}  # the scheduler writes a report the stopper lets through
