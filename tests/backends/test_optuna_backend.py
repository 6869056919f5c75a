from __future__ import annotations

import optuna
from optuna.trial import TrialState

from automl.backends.optuna_backend import OptunaBackend
from automl.resume import counted_trials


def _objective(trial: optuna.Trial) -> float:
    x = trial.suggest_float("x", 0.0, 1.0)
    if x < 0.3:
        raise optuna.TrialPruned()
    return x


def test_budget_counts_complete_and_pruned_trials_in_total() -> None:
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    OptunaBackend().optimize(study, _objective, n_trials=6)
    assert counted_trials(study) == 6
    OptunaBackend().optimize(study, _objective, n_trials=6)  # budget met: nothing runs
    assert len(study.trials) == 6
    OptunaBackend().optimize(study, _objective, n_trials=8)
    assert counted_trials(study) == 8 and len(study.trials) == 8


def test_failures_do_not_use_up_the_budget_but_stop_a_hopeless_run() -> None:
    calls = []

    def flaky(trial: optuna.Trial) -> float:
        calls.append(trial.number)
        if trial.number % 2:
            raise RuntimeError("odd trials fail")
        return 1.0

    study = optuna.create_study()
    OptunaBackend().optimize(study, flaky, n_trials=3)
    assert counted_trials(study) == 3 and [t.state for t in study.trials].count(TrialState.FAIL) == 2

    def always(trial: optuna.Trial) -> float:
        raise ValueError("never works")

    doomed = optuna.create_study()
    OptunaBackend().optimize(doomed, always, n_trials=4)
    assert [t.state for t in doomed.trials] == [TrialState.FAIL] * 4


def test_callbacks_run_after_every_trial() -> None:
    seen: list[int] = []
    study = optuna.create_study()
    OptunaBackend().optimize(study, lambda t: 0.0, n_trials=3,
                             callbacks=[lambda s, t: seen.append(t.number)])
    assert seen == [0, 1, 2]


