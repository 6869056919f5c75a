"""The search's time limit: trials that cannot finish do not start, a running one stops at the deadline, and their
configurations are queued again (automl.deadline)."""

from __future__ import annotations

import datetime
import signal
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pytest
from optuna.distributions import CategoricalDistribution
from optuna.trial import FrozenTrial, TrialState
from test_faults import Hangs

import automl
from automl.deadline import OutOfTime, TimeBudget, model_seconds, process_age, refit_seconds
from automl.registry import PluginRecord, Registry, discover


def _trial(number: int, model: str, seconds: float, fits: list[float] | None = None,
           value: float = 0.5) -> FrozenTrial:
    start = datetime.datetime(2026, 1, 1, 12, 0, 0)
    return FrozenTrial(number=number, state=TrialState.COMPLETE, value=value, values=None,
                       datetime_start=start, datetime_complete=start + datetime.timedelta(seconds=seconds),
                       params={"model": model}, distributions={"model": CategoricalDistribution(["a", "b"])},
                       user_attrs={"fit_seconds": fits or []}, system_attrs={}, intermediate_values={},
                       trial_id=number)


def _study(*trials: FrozenTrial) -> optuna.Study:
    study = optuna.create_study(direction="maximize")
    for trial in trials:
        study.add_trial(trial)
    return study


def test_process_age_counts_from_the_process_start() -> None:
    age = process_age()
    fresh = subprocess.run([sys.executable, "-c", "from automl.deadline import process_age; print(process_age())"],
                           capture_output=True, text=True, check=True)
    assert 0 < float(fresh.stdout) < age + 60  # a fresh process is younger than this test session
    assert age > 0


def test_model_seconds_is_the_median_of_each_models_complete_trials() -> None:
    study = _study(_trial(0, "a", 2.0), _trial(1, "a", 4.0), _trial(2, "a", 9.0), _trial(3, "b", 1.0))
    assert model_seconds(study) == {"a": 4.0, "b": 1.0}


def test_refit_seconds_scales_the_best_trials_fold_fits() -> None:
    study = _study(_trial(0, "a", 9.0, fits=[2.0, 2.0, 2.0, 2.0], value=0.9), _trial(1, "b", 1.0, fits=[8.0, 8.0]))
    assert refit_seconds(study) == pytest.approx(2.0 * 4 / 3 * 1.5)
    assert refit_seconds(optuna.create_study()) == 0.0


def test_a_trial_that_could_not_finish_is_not_started() -> None:
    study = _study(_trial(0, "a", 30.0), _trial(1, "b", 1.0))
    budget = TimeBudget(time.time() + 10)
    assert 9 < budget.check_start(study, "b") <= 10
    assert 9 < budget.check_start(study, "c") <= 10  # never ran here: no estimate, it starts
    with pytest.raises(OutOfTime, match="a a trial took 30.0 s in this study"):
        budget.check_start(study, "a")
    with pytest.raises(OutOfTime, match="time limit was reached"):
        TimeBudget(time.time() - 1).check_start(study, "b")


def test_the_refit_gets_its_share_of_the_time() -> None:
    study = _study(_trial(0, "a", 9.0, fits=[4.0, 4.0], value=0.9))
    deadline = time.time() + 100
    assert TimeBudget(deadline).left(study) - TimeBudget(deadline, refit=True).left(study) == pytest.approx(12.0,
                                                                                                              abs=0.5)


def test_a_running_trial_stops_at_the_deadline_and_its_configuration_is_queued(blobs_csv: Path,
                                                                               storage: str) -> None:
    registry = Registry([*discover().records, PluginRecord("model", "hangs", "x:y", "tests", "1", plugin=Hangs())])
    started = time.time()
    result = automl.search("tabular", blobs_csv, target="label", models=["hangs"], n_trials=5, folds=2, seed=1,
                           storage=storage, sampler="random", registry=registry, timeout=15.0, started=started)
    assert time.time() - started < 60  # the 600 s fit was stopped
    trials = result.study.trials
    stopped = [t for t in trials if t.state == TrialState.FAIL]
    assert len(stopped) == 1
    assert stopped[0].user_attrs["fail_reason"].startswith("OutOfTime: stopped at the search's time limit")
    waiting = [t for t in trials if t.state == TrialState.WAITING]
    assert [t.params for t in waiting] == [stopped[0].params]  # the next run tries it first
    assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)


def test_a_search_started_past_its_deadline_runs_no_trial(blobs_csv: Path, storage: str) -> None:
    result = automl.search("tabular", blobs_csv, target="label", models=["linear"], n_trials=5, folds=2,
                           storage=storage, timeout=5.0, started=time.time() - 10)
    assert result.study.trials == []
