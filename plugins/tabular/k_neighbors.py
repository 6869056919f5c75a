"""k-nearest neighbours (scikit-learn): a local, assumption-free baseline."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sklearn.compose import ColumnTransformer
from sklearn.neighbors import KNeighborsClassifier, KNeighborsRegressor

from automl.protocols import API_VERSION, ModelPlugin, ParamSpace, Problem

from ._columns import standardized_columns


class KNeighbors(ModelPlugin):
    """KNeighborsClassifier or KNeighborsRegressor (by problem kind) on standardized, one-hot encoded columns.

    Space:

    - ``n_neighbors`` 1..30 log: small k follows the data closely, large k averages more (the rule of thumb
      sqrt(n) is ~20 for a few hundred rows); the log scale spends the search where k matters most. 30 keeps
      k below the training rows of small folds (k-NN cannot ask for more neighbours than there are rows).
    - ``weights`` ``uniform`` / ``distance``: distance weighting lets the closest neighbours dominate.
    - ``p`` 1 / 2: Manhattan or Euclidean distance (Manhattan is less dominated by a single large difference).

    Distances compare columns directly, so every column must share one scale: :func:`standardized_columns`.
    """

    name = "k_neighbors"
    api_version = API_VERSION
    tasks = frozenset({"tabular"})
    family = "sklearn"
    kinds = frozenset({"classification", "regression"})

    def search_space(self, space: ParamSpace) -> None:
        space.suggest_int("n_neighbors", 1, 30, log=True)
        space.suggest_categorical("weights", ["uniform", "distance"])
        space.suggest_categorical("p", [1, 2])

    def featurizer(self, params: Mapping[str, Any]) -> ColumnTransformer:
        return standardized_columns()

    def build(self, params: Mapping[str, Any], problem: Problem) -> Any:
        estimator = KNeighborsClassifier if problem.kind == "classification" else KNeighborsRegressor
        return estimator(n_neighbors=params["n_neighbors"], weights=params["weights"], p=params["p"])
