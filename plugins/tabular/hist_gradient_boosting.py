"""Histogram gradient boosting (scikit-learn): the default strong learner for tabular data."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from automl.protocols import API_VERSION, ModelPlugin, ParamSpace, Problem

from ._columns import ordinal_columns

if TYPE_CHECKING:
    from sklearn.compose import ColumnTransformer


class HistGradientBoosting(ModelPlugin):
    """HistGradientBoosting classifier or regressor (by problem kind); its own early stopping is on for folds of
    over 10,000 rows (scikit-learn's ``"auto"``: on small folds the held-out 10% can miss classes).

    Space: ``learning_rate`` 0.01..0.3 log, ``max_leaf_nodes`` 8..64 log (tree complexity), ``min_samples_leaf``
    5..50 (smoothing on small data), ``l2_regularization`` 1e-4..10 log.
    """

    name = "hist_gradient_boosting"
    api_version = API_VERSION
    tasks = frozenset({"tabular"})
    family = "sklearn"
    kinds = frozenset({"classification", "regression"})
    #: scikit-learn's defaults (its ``l2_regularization`` of 0 as the space's lowest value): a strong first trial
    starting_points = ({"learning_rate": 0.1, "max_leaf_nodes": 31, "min_samples_leaf": 20,
                        "l2_regularization": 1e-4},)

    def search_space(self, space: ParamSpace) -> None:
        space.suggest_float("learning_rate", 0.01, 0.3, log=True)
        space.suggest_int("max_leaf_nodes", 8, 64, log=True)
        space.suggest_int("min_samples_leaf", 5, 50)
        space.suggest_float("l2_regularization", 1e-4, 10.0, log=True)

    def featurizer(self, params: Mapping[str, Any]) -> ColumnTransformer:
        return ordinal_columns()

    def build(self, params: Mapping[str, Any], problem: Problem) -> Any:
        from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor

        classification = problem.kind == "classification"
        estimator = HistGradientBoostingClassifier if classification else HistGradientBoostingRegressor
        return estimator(learning_rate=params["learning_rate"], max_leaf_nodes=params["max_leaf_nodes"],
                         min_samples_leaf=params["min_samples_leaf"], l2_regularization=params["l2_regularization"],
                         max_iter=300, early_stopping="auto", random_state=problem.seed)
