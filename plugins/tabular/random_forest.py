"""Random forests (scikit-learn): averaged deep trees, robust with little tuning."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from automl.protocols import API_VERSION, ModelPlugin, ParamSpace, Problem

from ._columns import ordinal_columns

if TYPE_CHECKING:
    from sklearn.compose import ColumnTransformer


#: Bootstrap rows drawn over a whole forest at most (trees times rows a tree sees), see :class:`RandomForest`.
FOREST_ROWS = 500_000


def tree_rows(n_estimators: int, n_rows: int | None) -> int | None:
    """``max_samples`` of a forest of ``n_estimators`` trees on ``n_rows`` training rows: ``None`` (every tree
    draws as many rows as there are) unless that exceeds :data:`FOREST_ROWS` over the forest."""
    cap = FOREST_ROWS // n_estimators
    return None if n_rows is None or n_rows <= cap else cap


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

    Cost on big data: a tree's fit grows with the rows it sees, and a forest's with the trees times those rows. Each
    tree draws its bootstrap sample from all the training rows, but at most :data:`FOREST_ROWS` rows over the whole
    forest (``max_samples = FOREST_ROWS // n_estimators`` when the rows are more: 10,000 a tree for 50 trees,
    1,666 for 300), so a fit's cost stops growing with the data. Where ``n_estimators * rows <= FOREST_ROWS``
    (any forest on up to 1,666 rows) every tree draws a full bootstrap sample, scikit-learn's default.
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
        from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor

        classification = problem.kind == "classification"
        estimator = RandomForestClassifier if classification else RandomForestRegressor
        return estimator(n_estimators=params["n_estimators"], max_depth=params["max_depth"],
                         min_samples_leaf=params["min_samples_leaf"], max_features=params["max_features"],
                         max_samples=tree_rows(params["n_estimators"], problem.n_rows), n_jobs=1,
                         random_state=problem.seed)
