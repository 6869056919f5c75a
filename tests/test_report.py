from __future__ import annotations

import json

import optuna
from optuna.distributions import CategoricalDistribution, FloatDistribution
from optuna.trial import TrialState, create_trial

from automl.report import describe, failures, leaderboard, list_studies, summarize, top_trials
from automl.storage import open_storage


def _study(storage: str, direction: str) -> optuna.Study:
    study = optuna.create_study(storage=open_storage(storage, heartbeat=False), study_name=direction,
                                direction=direction)
    study.set_user_attr("automl", {"task": "tabular", "dataset": "d", "metric": "m"})
    for value in (0.3, 0.9, 0.5):
        study.add_trial(create_trial(value=value, params={"x": value}, distributions={"x": FloatDistribution(0, 1)}))
    study.add_trial(create_trial(state=TrialState.FAIL, user_attrs={"fail_reason": "boom"}))
    return study


def test_leaderboard_orders_by_direction(storage: str) -> None:
    assert [t.value for t in top_trials(_study(storage, "maximize"), 2)] == [0.9, 0.5]
    assert [t.value for t in top_trials(_study(storage, "minimize"), 5)] == [0.3, 0.5, 0.9]
    board = leaderboard(optuna.load_study(study_name="maximize", storage=storage), 2)
    assert board["trial"].tolist() == [1, 2] and board["m"].tolist() == [0.9, 0.5]
    assert board["x"].tolist() == [0.9, 0.5]


def test_leaderboard_and_describe_carry_fold_scores(storage: str) -> None:
    study = optuna.create_study(storage=open_storage(storage, heartbeat=False), study_name="folds",
                                direction="maximize")
    study.set_user_attr("automl", {"task": "tabular", "dataset": "d", "metric": "accuracy", "folds": 3})
    for value, model in ((0.8, "linear"), (0.9, "mlp")):
        study.add_trial(create_trial(value=value, params={"model": model}, distributions={
            "model": CategoricalDistribution(["linear", "mlp"])}, user_attrs={
            "fold_scores": [value - 0.1, value, value + 0.1], "cv_std": 0.08, "fit_seconds": [0.5, 0.5, 0.5]}))
    board = leaderboard(study)
    assert list(board.columns) == ["trial", "accuracy", "std", "model", "fold_1", "fold_2", "fold_3", "fit_seconds"]
    assert board["model"].tolist() == ["mlp", "linear"] and board["fold_3"].tolist() == [1.0, 0.9]
    described = json.loads(json.dumps(describe(study)))
    assert described["best_params"] == {"model": "mlp"} and described["states"] == {"complete": 2}
    assert [r["trial"] for r in described["leaderboard"]] == [1, 0] and described["failures"] == []


def test_summary_counts_states_and_names_failures(storage: str) -> None:
    study = _study(storage, "maximize")
    row = summarize(study)
    assert (row.name, row.task, row.dataset, row.metric, row.direction) == ("maximize", "tabular", "d", "m",
                                                                            "maximize")
    assert row.states == {"complete": 3, "fail": 1}
    assert row.best_value == 0.9 and row.updated is not None
    assert failures(study) == [(3, "boom")]


def test_list_studies_sorted_by_name(storage: str) -> None:
    _study(storage, "minimize")
    _study(storage, "maximize")
    assert [r.name for r in list_studies(storage)] == ["maximize", "minimize"]


def test_multi_objective_studies_are_summarized_without_a_best_value(storage: str) -> None:
    study = optuna.create_study(storage=open_storage(storage, heartbeat=False), study_name="multi",
                                directions=["minimize", "maximize"])
    study.optimize(lambda t: (t.suggest_float("x", 0, 1), 1.0), n_trials=2)
    row = summarize(study)
    assert row.direction == "minimize/maximize" and row.best_value is None and row.states == {"complete": 2}
    assert top_trials(study) == [] and leaderboard(study).empty
    assert [r.name for r in list_studies(storage)] == ["multi"]
