"""Random forests (scikit-learn): averaged deep trees, robust with little tuning."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sklearn.compose import ColumnTransformer
from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor

from automl.protocols import API_VERSION, ModelPlugin, ParamSpace, Problem

from ._columns import ordinal_columns


class RandomForest(ModelPlugin):
    """RandomForestClassifier or RandomForestRegressor (by problem kind) on ordinal-coded columns.

    Space:

    - ``n_estimators`` 50..300 log: more trees only lower the variance of the average, with diminishing returns
      past a few hundred; the cap keeps one fit cheap on a single core (``n_jobs=1``: trials run in parallel).
    - ``max_depth`` None / 4 / 8 / 16: a forest's trees are meant to grow fully (None, the default); the limits
      are there for noisy data, where shallower trees smooth the fit.
    - ``min_samples_leaf`` 1..20 log: the other smoothing knob; 1 is the classic setting, larger leaves help
      small noisy data and regression.
    - ``max_features`` 0.1..1.0: fraction of the columns tried at each split; low values decorrelate the trees
      (``sqrt`` of 30 columns is ~0.18), 1.0 is bagged trees (scikit-learn's default for regression).

    Trees need no scaling, and NaN is handled natively, so :func:`ordinal_columns` only codes categories.
    """

    name = "random_forest"
    api_version = API_VERSION
    tasks = frozenset({"tabular"})
    family = "sklearn"
    kinds = frozenset({"classification", "regression"})

    def search_space(self, space: ParamSpace) -> None:
        space.suggest_int("n_estimators", 50, 300, log=True)
        space.suggest_categorical("max_depth", [None, 4, 8, 16])
        space.suggest_int("min_samples_leaf", 1, 20, log=True)
        space.suggest_float("max_features", 0.1, 1.0)

    def featurizer(self, params: Mapping[str, Any]) -> ColumnTransformer:
        return ordinal_columns()

    def build(self, params: Mapping[str, Any], problem: Problem) -> Any:
        classification = problem.kind == "classification"
        estimator = RandomForestClassifier if classification else RandomForestRegressor
        return estimator(n_estimators=params["n_estimators"], max_depth=params["max_depth"],
                         min_samples_leaf=params["min_samples_leaf"], max_features=params["max_features"],
                         n_jobs=1, random_state=problem.seed)
