from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pytest
from sklearn.neighbors import KNeighborsClassifier, KNeighborsRegressor
from sklearn.preprocessing import StandardScaler

from automl.model import fit
from automl.protocols import API_VERSION, ModelPlugin, ParamSpace, Problem
from automl.registry import PluginRecord
from automl.space import Config
from automl.subsample import training_rows


def labels(counts: dict[int, int], seed: int = 0) -> np.ndarray:
    """Shuffled class labels, ``counts[c]`` rows of class ``c``."""
    y = np.concatenate([np.full(n, c) for c, n in counts.items()])
    return np.random.default_rng(seed).permutation(y)


def test_no_subsample_up_to_the_limit():
    y = labels({0: 30, 1: 20})
    assert training_rows(y, 50, classification=True) is None
    assert training_rows(y.astype(float), 50, classification=False) is None


def test_classification_keeps_each_class_share_and_at_least_one_row():
    y = labels({0: 9_000, 1: 990, 2: 10})
    rows = training_rows(y, 1_000, classification=True)
    assert rows is not None and len(rows) == 1_000 and len(np.unique(rows)) == 1_000
    assert np.all(np.diff(rows) > 0)
    assert np.bincount(y[rows]).tolist() == [900, 99, 1]
    tiny = training_rows(labels({0: 5_000, 1: 3, 2: 2}), 10, classification=True)
    assert np.bincount(labels({0: 5_000, 1: 3, 2: 2})[tiny]).tolist() == [8, 1, 1]


def test_more_classes_than_the_limit_keep_one_row_each():
    y = labels({c: 4 for c in range(6)})
    rows = training_rows(y, 3, classification=True)
    assert rows is not None and np.bincount(y[rows]).tolist() == [1] * 6


def test_regression_draws_distinct_rows():
    y = np.random.default_rng(1).normal(size=500)
    rows = training_rows(y, 100, classification=False)
    assert rows is not None and len(np.unique(rows)) == 100 and rows.max() < 500


def test_the_subsample_depends_on_the_data_alone():
    y = labels({0: 700, 1: 300})
    first = training_rows(y, 200, classification=True)
    assert np.array_equal(first, training_rows(y.copy(), 200, classification=True))
    assert not np.array_equal(first, training_rows(labels({0: 700, 1: 300}, seed=1), 200, classification=True))


class Capped(ModelPlugin):
    """1-NN on standardized columns, fitted on at most 40 rows."""

    name = "capped"
    api_version = API_VERSION
    tasks = frozenset({"tabular"})
    family = "sklearn"
    kinds = frozenset({"classification", "regression"})
    max_train_rows = 40

    def search_space(self, space: ParamSpace) -> None:
        space.suggest_int("k", 1, 1)

    def featurizer(self, params: Mapping[str, Any]) -> Any:
        return StandardScaler()

    def build(self, params: Mapping[str, Any], problem: Problem) -> Any:
        return (KNeighborsClassifier if problem.kind == "classification" else KNeighborsRegressor)(1)


class Uncapped(Capped):
    max_train_rows = None


def config_of(plugin: ModelPlugin) -> Config:
    return Config(PluginRecord("model", plugin.name, "x:Capped", "thirdparty", "1.0", plugin=plugin), {"k": 1})


@pytest.mark.parametrize("kind", ["classification", "regression"])
def test_fit_caps_the_training_rows_but_not_the_featurizer_or_the_validation_rows(kind):
    rng = np.random.default_rng(0)
    X, X_valid = rng.normal(size=(300, 3)), rng.normal(size=(70, 3))
    y = labels({0: 240, 1: 60}) if kind == "classification" else rng.normal(size=300)
    model, F_valid = fit(config_of(Capped()), X, y, task="tabular", kind=kind, n_outputs=2 if kind != "regression"
                         else 1, seed=0, X_valid=X_valid)
    assert model.estimator.n_samples_fit_ == 40 and model.problem.n_rows == 40
    assert model.problem.featurizer.n_samples_seen_ == 300  # the featurizer saw every training row
    assert F_valid.shape == (70, 3) and len(model.featurized_outputs(F_valid)) == 70
    if kind == "classification":
        assert np.bincount(model.estimator._y).tolist() == [32, 8]
    rows = training_rows(y, 40, classification=kind == "classification")
    assert np.array_equal(model.estimator._fit_X, model.problem.featurizer.transform(X[rows]))


def test_fit_without_a_cap_uses_every_row():
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(300, 3)), labels({0: 150, 1: 150})
    model, _ = fit(config_of(Uncapped()), X, y, task="tabular", kind="classification", n_outputs=2, seed=0)
    assert model.estimator.n_samples_fit_ == 300 and model.problem.n_rows == 300
