"""k-nearest neighbours (scikit-learn): a local, assumption-free baseline."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from automl.protocols import API_VERSION, ModelPlugin, ParamSpace, Problem

from ._columns import standardized_columns

if TYPE_CHECKING:
    from sklearn.compose import ColumnTransformer


class KNeighbors(ModelPlugin):
    """KNeighborsClassifier or KNeighborsRegressor (by problem kind) on standardized, one-hot encoded columns.

    Space:

    - ``n_neighbors`` 1..30 log: small k follows the data closely, large k averages more (the rule of thumb
      sqrt(n) is ~20 for a few hundred rows); the log scale spends the search where k matters most. 30 keeps
      k below the training rows of small folds (k-NN cannot ask for more neighbours than there are rows).
    - ``weights`` ``uniform`` / ``distance``: distance weighting lets the closest neighbours dominate.
    - ``p`` 1 / 2: Manhattan or Euclidean distance (Manhattan is less dominated by a single large difference).

    Distances compare columns directly, so every column must share one scale: :func:`standardized_columns`.

    Cost on big data: scoring a fold compares every validation row with every training row, so a fold's cost grows
    with the square of the rows (a 200,000-row table: minutes a trial). A fit uses at most ``max_train_rows``
    (20,000) training rows, a stratified subsample, and a search that does not name the model leaves it out above
    ``max_search_rows`` (50,000) rows, where trees and linear models are both faster and better.
    """

    name = "k_neighbors"
    api_version = API_VERSION
    tasks = frozenset({"tabular"})
    family = "sklearn"
    kinds = frozenset({"classification", "regression"})
    max_train_rows = 20_000
    max_search_rows = 50_000

    def search_space(self, space: ParamSpace) -> None:
        space.suggest_int("n_neighbors", 1, 30, log=True)
        space.suggest_categorical("weights", ["uniform", "distance"])
        space.suggest_categorical("p", [1, 2])

    def featurizer(self, params: Mapping[str, Any]) -> ColumnTransformer:
        return standardized_columns()

    def build(self, params: Mapping[str, Any], problem: Problem) -> Any:
        from sklearn.neighbors import KNeighborsClassifier, KNeighborsRegressor

        estimator = KNeighborsClassifier if problem.kind == "classification" else KNeighborsRegressor
        return estimator(n_neighbors=params["n_neighbors"], weights=params["weights"], p=params["p"])
