"""The backend contract: the same promises, checked the same way, for every backend (like Optuna's storage-mode
parametrised tests). ``ray`` runs on the real two-node cluster of ``ray_cluster``; ``optuna`` in this process.

Each backend must: end a study with exactly its budget of counted trials (a re-run adds nothing); record each
trial's fold scores, their std, fit seconds and resources, and report the running CV mean at the fold steps;
stop a run after ``n_trials`` failures of its own, each with its reason; find the same trials, best and pruning
decisions on the same seed; resume after ``kill -9`` to exactly the budget.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import optuna
import pytest
from optuna.trial import TrialState

import automl
from automl.cv import STEP_STRIDE
from automl.resume import counted_trials

FOLDS = 3


@pytest.fixture(params=["optuna", "ray"])
def backend(request: pytest.FixtureRequest) -> dict[str, Any]:
    """Search keywords selecting the backend under test."""
    if request.param == "ray":
        return {"backend": "ray", "address": request.getfixturevalue("ray_cluster")}
    return {"backend": "optuna"}


def _exactly(study: optuna.Study, n_trials: int) -> list[optuna.trial.FrozenTrial]:
    trials = study.get_trials()
    states = [t.state for t in trials]
    assert counted_trials(study) == n_trials, states
    assert TrialState.RUNNING not in states and TrialState.WAITING not in states
    assert sorted(t.number for t in trials) == list(range(len(trials)))
    return trials


def test_the_budget_is_met_exactly_and_trials_record_their_folds(backend: dict[str, Any], storage: str) -> None:
    kwargs: dict[str, Any] = {"models": ["linear", "hist_gradient_boosting"], "folds": FOLDS, "storage": storage,
                              "study": "budget", **backend}
    _exactly(automl.search("tabular", n_trials=6, **kwargs).study, 6)
    assert len(automl.search("tabular", n_trials=6, **kwargs).study.trials) == 6  # the budget is met: no trial
    trials = _exactly(automl.search("tabular", n_trials=8, **kwargs).study, 8)
    assert len(trials) == 8
    fold_steps = [fold * STEP_STRIDE + STEP_STRIDE - 1 for fold in range(FOLDS)]
    for trial in trials:
        attrs = trial.user_attrs
        assert attrs["resources"]["backend"] == backend["backend"] and attrs["resources"]["threads"] == 1
        scores = attrs["fold_scores"]
        reported = [trial.intermediate_values[step] for step in fold_steps[: len(scores)]]
        assert reported == pytest.approx([np.mean(scores[: k + 1]) for k in range(len(scores))])
        if trial.state == TrialState.COMPLETE:
            assert len(scores) == FOLDS and trial.value == pytest.approx(np.mean(scores))
            assert attrs["cv_std"] == pytest.approx(np.std(scores)) and len(attrs["fit_seconds"]) == FOLDS
        else:  # pruned at a fold's end: the folds done so far
            assert trial.state == TrialState.PRUNED and 1 <= len(scores) < FOLDS


def test_a_run_stops_after_its_budget_of_failures_each_with_its_reason(backend: dict[str, Any], storage: str,
                                                                      contract_plugins: Path) -> None:
    study = automl.search("tabular", models=["fails"], n_trials=3, folds=FOLDS, storage=storage, study="f",
                          **backend).study
    assert [t.state for t in study.trials] == [TrialState.FAIL] * 3
    assert all(t.user_attrs["fail_reason"] == "RuntimeError: planned failure" for t in study.trials)


def _record(study: optuna.Study) -> list[tuple]:
    return [(t.number, t.state, t.params, t.value, t.intermediate_values) for t in study.trials]


def test_the_same_seed_gives_the_same_trials_pruning_and_best(backend: dict[str, Any], tmp_path: Path) -> None:
    runs = [automl.search("tabular", models=["linear", "hist_gradient_boosting"], n_trials=10, folds=FOLDS, seed=3,
                          pruner="median", n_jobs=1, storage=f"sqlite:///{tmp_path / f'{i}.db'}", study="seed",
                          **backend).study for i in range(2)]
    first, second = (_record(study) for study in runs)
    assert first == second
    assert runs[0].best_trial.number == runs[1].best_trial.number
    assert any(state == TrialState.PRUNED for _, state, *_ in first)  # the pruner was exercised


def test_a_killed_search_resumes_to_exactly_its_budget(backend: dict[str, Any], tmp_path: Path,
                                                       contract_plugins: Path, signal_when: Callable) -> None:
    url = f"sqlite:///{tmp_path / 'k.db'}"
    args = [sys.executable, "-m", "automl", "search", "--task", "tabular", "--models", "slow", "--n-trials", "5",
            "--folds", str(FOLDS), "--study", "k", "--storage", url, "-q", "--backend", backend["backend"]]
    if "address" in backend:
        args += ["--address", backend["address"]]
    env = {**os.environ, "AUTOML_TEST_SLOW_SECONDS": "0.4"}

    def mid_run(trials: list[optuna.trial.FrozenTrial]) -> bool:
        return any(t.state == TrialState.COMPLETE for t in trials) and any(
            t.state == TrialState.RUNNING and t.intermediate_values for t in trials)

    _, status, caught = signal_when(args, url, "k", mid_run, signal.SIGKILL, cwd=tmp_path, env=env)
    assert status == -signal.SIGKILL
    killed = [t.number for t in caught if t.state == TrialState.RUNNING and t.intermediate_values]
    rerun = subprocess.run(args, cwd=tmp_path, capture_output=True, text=True, env=env, timeout=300)
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    trials = _exactly(optuna.load_study(study_name="k", storage=url), 5)
    for number in killed:
        assert trials[number].state == TrialState.FAIL
        assert "died while running this trial" in trials[number].user_attrs["fail_reason"]
        retries = [t for t in trials if t.system_attrs.get("failed_trial") == number]
        assert len(retries) == 1 and retries[0].params == trials[number].params
        assert retries[0].state in (TrialState.COMPLETE, TrialState.PRUNED)
