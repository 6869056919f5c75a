"""Accuracy vs cost: objective lists, the costs measured on a trial's first-fold model, and multi-objective searches
(a Pareto front, no pruning, refusals of what cannot run one)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import optuna
import pandas as pd
import pytest

import automl
from automl.artifacts import model_files
from automl.costs import COSTS, measure, parse_objectives
from automl.exceptions import ConfigError, StudyMismatchError
from automl.model import fit
from automl.registry import discover
from automl.space import Candidates, compose, configure

LINEAR_FAST = ["linear", "k_neighbors", "hist_gradient_boosting"]


@pytest.mark.parametrize(("objectives", "metric", "expected"), [
    (None, None, (None, ())),
    (None, "f1_macro", ("f1_macro", ())),
    (["accuracy", "latency"], None, ("accuracy", ("latency",))),
    (["accuracy", " size", "params "], "accuracy", ("accuracy", ("size", "params"))),
])
def test_objective_lists(objectives: list[str] | None, metric: str | None, expected: tuple) -> None:
    assert parse_objectives(objectives, metric) == expected


@pytest.mark.parametrize(("objectives", "metric", "message"), [
    (["latency", "accuracy"], None, "objectives start with the metric"),
    (["speed", "latency"], None, "objectives start with the metric"),
    (["accuracy"], None, "got none"),
    (["accuracy", "memory"], None, "got memory"),
    (["accuracy", "latency", "latency"], None, "name a cost twice"),
    (["accuracy", "latency"], "f1_macro", "disagree"),
])
def test_bad_objective_lists_are_refused(objectives: list[str], metric: str | None, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_objectives(objectives, metric)


def _fitted(name: str, params: dict, X: pd.DataFrame, y: np.ndarray):  # type: ignore[no-untyped-def]
    record = discover().get("model", name)
    config = configure({"model": name, **{f"model.{name}.{k}": v for k, v in params.items()}},
                       Candidates((record,), (), ()))
    model, _ = fit(config, X, y, task="tabular", kind="classification", n_outputs=2, seed=0)
    return model


def test_costs_of_a_scikit_learn_model(moons_csv: Path) -> None:
    frame = pd.read_csv(moons_csv)
    X, y = frame.drop(columns=["label"]), (frame["label"] == "yes").to_numpy().astype(int)
    model = _fitted("linear", {"penalty": "l2", "alpha": 0.01}, X, y)
    costs = measure(model, X[:50], COSTS)
    assert list(costs) == list(COSTS) and costs["latency"] > 0
    # (skops names objects by their memory address: the bytes differ a little from one dump to the next)
    assert costs["size"] == pytest.approx(sum(len(content) for content in model_files(model).values()), rel=0.01)
    coefficients = model.estimator.model_.coef_.size  # 6 features (+ its intercept, classes, iteration count)
    assert coefficients <= costs["params"] <= coefficients + 8
    neighbours = _fitted("k_neighbors", {"n_neighbors": 5, "weights": "uniform", "p": 2}, X, y)
    assert measure(neighbours, X[:50], ["params"])["params"] >= X.shape[0] * X.shape[1]  # it keeps every row


def test_the_params_of_a_torch_model_are_its_parameters(blobs_csv: Path) -> None:
    import torch

    frame = pd.read_csv(blobs_csv)
    X, y = frame.drop(columns=["label"]), (frame["label"] == "b").to_numpy().astype(int)
    cands = Candidates((discover().get("model", "mlp"),), (discover().get("optimizer", "adam"),), ())
    trial = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0)).ask()
    compose(trial, cands)  # any valid configuration of the plugin will do
    model, _ = fit(configure(trial.params, cands), X, y, task="tabular", kind="classification", n_outputs=2, seed=0,
                   device=torch.device("cpu"))
    assert model.trained is not None
    assert measure(model, X[:10], ["params"])["params"] == sum(p.numel() for p in model.trained.module.parameters())


def test_an_accuracy_latency_search_keeps_a_pareto_front(moons_csv: Path, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'studies.db'}"
    result = automl.search("tabular", moons_csv, objectives=["accuracy", "latency"], n_trials=12, folds=2,
                           sampler="random", models=LINEAR_FAST, storage=url, study="mo")
    study = result.study
    assert [d.name for d in study.directions] == ["MAXIMIZE", "MINIMIZE"]
    trials = study.get_trials(states=(optuna.trial.TrialState.COMPLETE,))
    assert len(trials) == 12  # nothing pruned
    for trial in trials:
        assert trial.intermediate_values == {}  # multi-objective trials report nothing
        assert trial.values[1] == trial.user_attrs["costs"]["latency"] > 0
        assert trial.values[0] == pytest.approx(np.mean(trial.user_attrs["fold_scores"]))
    front = automl.report.pareto_front(study)
    assert len(front) >= 3
    assert [t.values[0] for t in front] == sorted((t.values[0] for t in front), reverse=True)
    assert {t.number for t in front} == {t.number for t in study.best_trials}
    assert automl.report.summarize(study).objectives == ["accuracy", "latency"]


def test_a_pareto_trial_refits_with_its_costs_on_the_card(moons_csv: Path, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'studies.db'}"
    study = automl.search("tabular", moons_csv, objectives=["accuracy", "params"], n_trials=3, folds=2,
                          models=["linear"], holdout=0.2, storage=url, study="mo").study
    with pytest.raises(ConfigError, match="several objectives: choose a trial with --trial"):
        automl.refit(study)
    chosen = automl.report.pareto_front(study)[-1]
    model = automl.refit(study, trial=chosen.number)
    assert model.card["scores"]["cv"] == chosen.values[0]
    assert model.card["costs"] == {"params": chosen.values[1]} and model.card["scores"]["holdout"]["rows"] == 120
    assert "automl.holdout" not in study.user_attrs  # no single best trial to score after the search


@pytest.mark.parametrize(("options", "message"), [
    ({"pruner": "median"}, "cannot prune a multi-objective search"),
    ({"sampler": "cmaes"}, "sampler 'cmaes' is single-objective"),
    ({"backend": "ray"}, "runs on the optuna backend, not 'ray'"),
])
def test_what_cannot_run_a_multi_objective_search_is_refused(moons_csv: Path, tmp_path: Path, options: dict,
                                                             message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        automl.search("tabular", moons_csv, objectives=["accuracy", "latency"], n_trials=1,
                      storage=f"sqlite:///{tmp_path / 'studies.db'}", **options)
    assert not (tmp_path / "studies.db").exists()


def test_a_resume_with_other_objectives_is_refused(moons_csv: Path, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'studies.db'}"
    automl.search("tabular", moons_csv, n_trials=1, folds=2, models=["linear"], storage=url, study="one")
    with pytest.raises(StudyMismatchError, match="optimizes maximize, but this search"):
        automl.search("tabular", moons_csv, objectives=["accuracy", "size"], n_trials=1, folds=2,
                      models=["linear"], storage=url, study="one")
    automl.search("tabular", moons_csv, objectives=["accuracy", "size"], n_trials=1, folds=2, models=["linear"],
                  storage=url, study="two")
    with pytest.raises(StudyMismatchError, match=r"\(they were: --objectives accuracy,size\)"):
        automl.search("tabular", moons_csv, objectives=["accuracy", "params"], n_trials=1, folds=2,
                      models=["linear"], storage=url, study="two")
