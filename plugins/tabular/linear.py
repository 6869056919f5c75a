"""Regularized linear models (scikit-learn): logistic regression, ridge, lasso and elastic net."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from automl.protocols import API_VERSION, ModelPlugin, ParamSpace, Problem

from ._columns import standardized_columns

if TYPE_CHECKING:
    from sklearn.compose import ColumnTransformer

    from ._regularized import RegularizedLinear

class Linear(ModelPlugin):
    """Regularized linear model on standardized, one-hot encoded columns: logistic regression (classification)
    or ridge / lasso / elastic net (regression), with the penalty searched in the model's own space.

    Space:

    - ``penalty`` ``l1`` / ``l2`` / ``elasticnet``: L1 selects features (sparse coefficients), L2 shrinks
      correlated ones together, the elastic net mixes both. Classification: LogisticRegression (lbfgs for L2,
      saga for L1 and elastic net); regression: Ridge, Lasso or ElasticNet.
    - ``l1_ratio`` 0.1..0.9 (elastic net only; the ends are plain L2 and L1, already choices of ``penalty``).
    - ``alpha`` 1e-5..1 log: penalty strength **per training row** (mean loss + alpha * penalty, see
      :class:`RegularizedLinear`), the same meaning for every estimator and dataset size. Columns and the
      regression target are standardized, so the lasso's all-zero point ``max |corr(x, y)|`` is at most 1: the
      top of the range reaches the null model, the bottom (1e-5) is practically unregularized.

    Scaling matters here: an L1/L2 penalty treats every coefficient alike, which is only fair when the columns
    share one scale, hence :func:`standardized_columns`.
    """

    name = "linear"
    api_version = API_VERSION
    tasks = frozenset({"tabular"})
    family = "sklearn"
    kinds = frozenset({"classification", "regression"})

    def search_space(self, space: ParamSpace) -> None:
        penalty = space.suggest_categorical("penalty", ["l1", "l2", "elasticnet"])
        if penalty == "elasticnet":
            space.suggest_float("l1_ratio", 0.1, 0.9)
        space.suggest_float("alpha", 1e-5, 1.0, log=True)

    def featurizer(self, params: Mapping[str, Any]) -> ColumnTransformer:
        return standardized_columns()

    def build(self, params: Mapping[str, Any], problem: Problem) -> RegularizedLinear:
        from ._regularized import RegularizedLinear

        return RegularizedLinear(kind=problem.kind, penalty=params["penalty"], alpha=params["alpha"],
                                 l1_ratio=params.get("l1_ratio", 0.5), random_state=problem.seed)


def __getattr__(name: str) -> Any:
    """``RegularizedLinear`` is still found here: model files written before it moved to :mod:`._regularized`
    name this module."""
    if name == "RegularizedLinear":
        from ._regularized import RegularizedLinear

        return RegularizedLinear
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
