"""The tabular model plugins: conformance, real CV scores, parameter mapping."""

from __future__ import annotations

from typing import Any

import numpy as np
import optuna
import pytest
import torch
from automl_plugins.tabular._regularized import RegularizedLinear
from automl_plugins.tabular.hist_gradient_boosting import HistGradientBoosting
from automl_plugins.tabular.k_neighbors import KNeighbors
from automl_plugins.tabular.linear import Linear
from automl_plugins.tabular.mlp import MLP
from automl_plugins.tabular.random_forest import FOREST_ROWS, RandomForest
from sklearn.base import clone
from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor
from sklearn.linear_model import ElasticNet, Lasso, LogisticRegression, Ridge
from sklearn.neighbors import KNeighborsClassifier, KNeighborsRegressor

import automl
from automl.cv import FoldReporter, cross_validate, make_splits
from automl.datasets import Dataset, load_dataset, make_dataset
from automl.metrics import get_metric
from automl.model import fit
from automl.protocols import ModelPlugin, Problem
from automl.registry import PluginRecord
from automl.reporter import MemoryReporter
from automl.space import Config, ScopedSpace
from automl.testing import check_plugin, synthetic_dataset

PLUGINS = [Linear(), RandomForest(), KNeighbors()]


@pytest.fixture(scope="module")
def breast_cancer() -> Dataset:
    return load_dataset("tabular")


@pytest.fixture(scope="module")
def diabetes() -> Dataset:
    return load_dataset("tabular", "diabetes")


def cv_score(plugin: ModelPlugin, params: dict[str, Any], data: Dataset, metric: str | None = None,
             folds: int = 3) -> float:
    """Mean CV score of ``plugin`` with fixed ``params``, as a search trial computes it."""
    scorer = get_metric(metric, data.kind)
    config = Config(model=PluginRecord("model", plugin.name, "x:y", "test", None, plugin=plugin), model_params=params)
    if plugin.family == "torch":
        config.optimizer = automl.discover().get("optimizer", "adamw")
        config.optimizer_params = {"lr": 3e-3, "schedule": "constant"}
    return cross_validate(config, data, make_splits(data, folds, 0), scorer, FoldReporter(MemoryReporter(), scorer),
                          seed=0, device=torch.device("cpu") if plugin.family == "torch" else None).mean


def fitted(plugin: ModelPlugin, params: dict[str, Any], data: Dataset) -> Any:
    """``plugin``'s featurizer and estimator fitted on all of ``data``; returns the estimator."""
    features = clone(plugin.featurizer(params)).fit(data.X, data.y)
    X = features.transform(data.X)
    problem = Problem(data.task, data.kind, data.n_outputs, tuple(X.shape[1:]), features, 0)
    return plugin.build(params, problem).fit(X, data.y)


def draw(plugin: ModelPlugin, fixed: dict[str, Any]) -> dict[str, Any]:
    """One draw of ``plugin``'s space with some parameters fixed (local names)."""
    study = optuna.create_study()
    study.enqueue_trial({f"model.{plugin.name}.{key}": value for key, value in fixed.items()})
    space = ScopedSpace(study.ask(), f"model.{plugin.name}", plugin.name)
    plugin.search_space(space)
    return space.params


@pytest.mark.parametrize("plugin", PLUGINS, ids=lambda p: p.name)
def test_conformance(plugin: ModelPlugin) -> None:
    result = check_plugin(plugin, "model", n_samples=3)
    assert "tabular/classification" in result.detail and "tabular/regression" in result.detail


@pytest.mark.parametrize(("plugin", "params"), [
    (Linear(), {"penalty": "l2", "alpha": 1e-3}),
    (Linear(), {"penalty": "l1", "alpha": 1e-2}),
    (RandomForest(), {"n_estimators": 100, "max_depth": None, "min_samples_leaf": 1, "max_features": 0.3}),
    (KNeighbors(), {"n_neighbors": 10, "weights": "distance", "p": 2}),
    (HistGradientBoosting(), {"learning_rate": 0.1, "max_leaf_nodes": 16, "min_samples_leaf": 10,
                              "l2_regularization": 1e-3}),
    (MLP(), {"depth": 1, "width": 64, "epochs": 20, "batch_size": 32}),
], ids=lambda x: getattr(x, "name", None) or str(x.get("penalty", "")))
def test_classification_beats_the_majority_class(plugin: ModelPlugin, params: dict[str, Any],
                                                 breast_cancer: Dataset) -> None:
    majority = np.bincount(breast_cancer.y).max() / len(breast_cancer)  # 0.63
    assert cv_score(plugin, params, breast_cancer) > majority + 0.25  # all score above 0.94


@pytest.mark.parametrize(("plugin", "params"), [
    (Linear(), {"penalty": "elasticnet", "l1_ratio": 0.5, "alpha": 1e-2}),
    (Linear(), {"penalty": "l2", "alpha": 1e-3}),
    (RandomForest(), {"n_estimators": 100, "max_depth": 8, "min_samples_leaf": 5, "max_features": 0.5}),
    (KNeighbors(), {"n_neighbors": 20, "weights": "uniform", "p": 2}),
], ids=lambda x: getattr(x, "name", None) or str(x.get("penalty", "")))
def test_regression_explains_the_target(plugin: ModelPlugin, params: dict[str, Any], diabetes: Dataset) -> None:
    assert cv_score(plugin, params, diabetes, "r2") > 0.3  # diabetes: ~0.49 linear, ~0.44 forest, ~0.46 knn


# -- linear: the penalty is searched in the model's own space ------------------------------------------------


def test_linear_suggests_l1_ratio_for_the_elastic_net_only() -> None:
    assert set(draw(Linear(), {"penalty": "elasticnet"})) == {"penalty", "l1_ratio", "alpha"}
    for penalty in ("l1", "l2"):
        assert set(draw(Linear(), {"penalty": penalty})) == {"penalty", "alpha"}


@pytest.mark.parametrize(("kind", "penalty", "estimator"), [
    ("classification", "l1", LogisticRegression), ("classification", "l2", LogisticRegression),
    ("classification", "elasticnet", LogisticRegression),
    ("regression", "l1", Lasso), ("regression", "l2", Ridge), ("regression", "elasticnet", ElasticNet),
])
def test_linear_maps_the_per_row_strength_onto_each_estimator(kind: str, penalty: str, estimator: type) -> None:
    n, alpha = 200, 0.01
    model = RegularizedLinear(kind, penalty, alpha, l1_ratio=0.3)._model(n)
    assert type(model) is estimator
    if estimator is LogisticRegression:  # C * sum(loss) + penalty  ==  n C * (mean loss + alpha * penalty)
        assert model.C == pytest.approx(1 / (n * alpha))
        assert model.l1_ratio == {"l1": 1.0, "l2": 0.0, "elasticnet": 0.3}[penalty]
        assert model.solver == ("lbfgs" if penalty == "l2" else "saga")  # lbfgs cannot do L1
    elif estimator is Ridge:  # sum of squares + alpha |w|^2
        assert model.alpha == pytest.approx(n * alpha)
    else:  # Lasso, ElasticNet: already per row
        assert model.alpha == pytest.approx(alpha)


def test_linear_l1_gives_sparse_coefficients_and_l2_dense(breast_cancer: Dataset) -> None:
    strong = {"alpha": 0.05}
    l1 = fitted(Linear(), {"penalty": "l1", **strong}, breast_cancer).coef_
    l2 = fitted(Linear(), {"penalty": "l2", **strong}, breast_cancer).coef_
    net = fitted(Linear(), {"penalty": "elasticnet", "l1_ratio": 0.5, **strong}, breast_cancer).coef_
    zeros = [int(np.sum(np.abs(c) < 1e-8)) for c in (l1, net, l2)]
    assert zeros[2] == 0  # 30 columns, none dropped by L2
    assert zeros[0] >= 20  # L1 keeps a handful of the 30 columns
    assert zeros[0] >= zeros[1] > 0  # the elastic net lies in between
    weak = fitted(Linear(), {"penalty": "l1", "alpha": 1e-4}, breast_cancer).coef_
    assert np.sum(np.abs(weak) < 1e-8) < zeros[0]  # a weaker penalty keeps more columns


def test_linear_ridge_solves_the_per_row_objective(diabetes: Dataset) -> None:
    """alpha means the same for Ridge as for Lasso and ElasticNet: min mean((y-Xw)^2)/2 + alpha |w|^2 / 2 on the
    standardized target."""
    alpha = 0.1
    X = np.asarray(diabetes.X, dtype=float)
    X = (X - X.mean(0)) / X.std(0)
    y = (diabetes.y - diabetes.y.mean()) / diabetes.y.std()
    n, p = X.shape
    expected = np.linalg.solve(X.T @ X / n + alpha * np.eye(p), X.T @ y / n)
    model = RegularizedLinear("regression", "l2", alpha).fit(X, diabetes.y)
    assert np.allclose(model.coef_, expected, atol=1e-8)
    assert np.allclose(ElasticNet(alpha=alpha, l1_ratio=1e-9, tol=1e-12, max_iter=100_000).fit(X, y).coef_,
                       expected, atol=1e-4)  # the same objective as the elastic net's l1_ratio -> 0 limit


def test_linear_regression_does_not_depend_on_the_target_scale(diabetes: Dataset) -> None:
    X = np.asarray(diabetes.X, dtype=float)
    small = RegularizedLinear("regression", "l1", 0.05).fit(X, diabetes.y)
    large = RegularizedLinear("regression", "l1", 0.05).fit(X, diabetes.y * 1000.0 + 7.0)
    assert np.array_equal(small.coef_ == 0, large.coef_ == 0)  # same columns selected
    assert np.allclose(large.predict(X), small.predict(X) * 1000.0 + 7.0, rtol=1e-6)  # answers in target units
    assert abs(small.predict(X).mean() - diabetes.y.mean()) < 1e-6


def test_linear_classification_exposes_classes_and_probabilities() -> None:
    data = synthetic_dataset("tabular")
    model = fitted(Linear(), {"penalty": "elasticnet", "l1_ratio": 0.5, "alpha": 1e-3}, data)
    proba = model.predict_proba(np.asarray(data.X))
    assert list(model.classes_) == [0, 1] and proba.shape == (60, 2)
    assert not hasattr(RegularizedLinear("regression"), "predict_proba")  # regression answers values only


def test_linear_refuses_an_unknown_penalty() -> None:
    with pytest.raises(ValueError, match="penalty must be"):
        RegularizedLinear("classification", "l0").fit(np.eye(4), [0, 1, 0, 1])


# -- random forest and knn: parameters reach the estimator ------------------------------------------------


@pytest.mark.parametrize(("kind", "estimator"), [("classification", RandomForestClassifier),
                                                 ("regression", RandomForestRegressor)])
def test_random_forest_builds_by_kind_with_the_trial_seed(kind: str, estimator: type) -> None:
    params = {"n_estimators": 60, "max_depth": None, "min_samples_leaf": 3, "max_features": 0.4}
    model = RandomForest().build(params, Problem("tabular", kind, 2, (4,), None, 17))
    assert type(model) is estimator
    assert (model.n_estimators, model.max_depth, model.min_samples_leaf, model.max_features) == (60, None, 3, 0.4)
    assert (model.random_state, model.n_jobs) == (17, 1)


@pytest.mark.parametrize(("n_estimators", "n_rows", "max_samples"), [
    (300, None, None),           # rows unknown: scikit-learn's default
    (300, 569, None),            # small data: full bootstrap samples
    (50, FOREST_ROWS // 50, None),
    (50, FOREST_ROWS // 50 + 1, FOREST_ROWS // 50),
    (300, 160_000, FOREST_ROWS // 300),
])
def test_random_forest_caps_the_rows_over_the_forest(n_estimators: int, n_rows: int | None,
                                                     max_samples: int | None) -> None:
    params = {"n_estimators": n_estimators, "max_depth": None, "min_samples_leaf": 1, "max_features": 0.5}
    model = RandomForest().build(params, Problem("tabular", "classification", 2, (4,), None, 0, n_rows=n_rows))
    assert model.max_samples == max_samples


def test_random_forest_trees_see_the_capped_rows_on_big_data(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("automl_plugins.tabular.random_forest.FOREST_ROWS", 50 * 40)  # 40 rows a tree
    data = synthetic_dataset("tabular", n=200)
    params = {"n_estimators": 50, "max_depth": None, "min_samples_leaf": 1, "max_features": 1.0}
    config = Config(model=PluginRecord("model", "random_forest", "x:y", "test", None, plugin=RandomForest()),
                    model_params=params)
    model, _ = fit(config, data.X, data.y, task="tabular", kind=data.kind, n_outputs=data.n_outputs, seed=0)
    assert model.problem.n_rows == 200
    assert model.estimator.max_samples == 40 and model.estimator._n_samples_bootstrap == 40


def test_random_forest_space_stays_cheap() -> None:
    for _ in range(20):
        params = draw(RandomForest(), {})
        assert 50 <= params["n_estimators"] <= 300 and params["max_depth"] in (None, 4, 8, 16)
        assert 1 <= params["min_samples_leaf"] <= 20 and 0.1 <= params["max_features"] <= 1.0


def test_random_forest_handles_missing_values_and_categories() -> None:
    data = synthetic_dataset("tabular")
    frame = data.X.copy()
    frame.loc[::7, "a"] = np.nan
    frame["colour"] = np.where(data.y == 1, "red", "blue")
    data = make_dataset("gaps", "tabular", frame, data.y, "builtin", kind="classification")
    params = {"n_estimators": 50, "max_depth": 4, "min_samples_leaf": 1, "max_features": 1.0}
    model = fitted(RandomForest(), params, data)
    assert model.n_features_in_ == 5


@pytest.mark.parametrize(("kind", "estimator"), [("classification", KNeighborsClassifier),
                                                 ("regression", KNeighborsRegressor)])
def test_knn_builds_by_kind(kind: str, estimator: type) -> None:
    problem = Problem("tabular", kind, 2, (4,), None, 0)
    model = KNeighbors().build({"n_neighbors": 7, "weights": "distance", "p": 1}, problem)
    assert type(model) is estimator
    assert (model.n_neighbors, model.weights, model.p) == (7, "distance", 1)


def test_knn_largest_k_fits_the_smallest_check_fold() -> None:
    data = synthetic_dataset("tabular")  # 60 rows: 30 training rows per fold in a 2-fold check
    # fits, and learns
    assert cv_score(KNeighbors(), {"n_neighbors": 30, "weights": "distance", "p": 2}, data, folds=2) > 0.6
