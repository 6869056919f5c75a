"""The estimator of the built-in ``linear`` model (also the head of ``sentence_embeddings``), imported by the
hooks that build it, so listing the plugins does not import scikit-learn."""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.linear_model import ElasticNet, Lasso, LogisticRegression, Ridge
from sklearn.utils.metaestimators import available_if

__all__ = ["RegularizedLinear"]

#: ``l1_ratio`` of each penalty (the elastic net's mixing weight of the L1 term).
_L1_RATIO = {"l2": 0.0, "l1": 1.0}


class RegularizedLinear(BaseEstimator):
    """A linear model whose penalty strength ``alpha`` is given per training row, whatever the estimator.

    The objective is ``mean loss + alpha * (l1_ratio * |w|_1 + (1 - l1_ratio) / 2 * |w|_2^2)`` (glmnet's
    convention, which is also Lasso's and ElasticNet's). scikit-learn spells it differently per estimator, so
    the estimator is built at fit time, once the number of rows ``n`` is known: ``LogisticRegression(C=1/(n
    alpha))``, ``Ridge(alpha=n alpha)``, ``Lasso(alpha)``, ``ElasticNet(alpha, l1_ratio)``. Regression fits the
    standardized target (and answers in its units), so the useful range of ``alpha`` does not depend on the
    target's scale. The fitted scikit-learn model is ``model_``; ``coef_`` is its coefficients.
    """

    def __init__(self, kind: str = "classification", penalty: str = "l2", alpha: float = 1e-3,
                 l1_ratio: float = 0.5, random_state: int | None = None) -> None:
        self.kind = kind
        self.penalty = penalty
        self.alpha = alpha
        self.l1_ratio = l1_ratio
        self.random_state = random_state

    def _model(self, n_rows: int) -> Any:
        l1_ratio = _L1_RATIO.get(self.penalty, self.l1_ratio)
        if self.kind == "classification":
            # lbfgs is the fast exact solver for L2; only saga handles L1 and elastic net (also multiclass).
            solver = "lbfgs" if self.penalty == "l2" else "saga"
            return LogisticRegression(C=1.0 / (n_rows * self.alpha), l1_ratio=l1_ratio, solver=solver,
                                      max_iter=3000, tol=1e-3, random_state=self.random_state)
        if self.penalty == "l2":
            return Ridge(alpha=n_rows * self.alpha)
        if self.penalty == "l1":
            return Lasso(alpha=self.alpha, max_iter=5000, random_state=self.random_state)
        return ElasticNet(alpha=self.alpha, l1_ratio=l1_ratio, max_iter=5000, random_state=self.random_state)

    def fit(self, X: Any, y: Any) -> RegularizedLinear:
        if self.penalty not in ("l1", "l2", "elasticnet"):
            raise ValueError(f"penalty must be 'l1', 'l2' or 'elasticnet', got {self.penalty!r}")
        y = np.asarray(y)
        self.model_ = self._model(X.shape[0])
        if self.kind == "classification":
            self.model_.fit(X, y)
            self.classes_ = self.model_.classes_
        else:
            self.y_mean_, self.y_scale_ = float(np.mean(y)), float(np.std(y)) or 1.0
            self.model_.fit(X, (y - self.y_mean_) / self.y_scale_)
        return self

    def predict(self, X: Any) -> np.ndarray:
        if self.kind == "classification":
            return self.model_.predict(X)
        return self.model_.predict(X) * self.y_scale_ + self.y_mean_

    @available_if(lambda self: self.kind == "classification")
    def predict_proba(self, X: Any) -> np.ndarray:
        return self.model_.predict_proba(X)

    @property
    def coef_(self) -> np.ndarray:
        return self.model_.coef_
