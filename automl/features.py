"""Featurizing: fitting a model's featurizer on training rows.

:func:`fit_featurizer` is a pure function of (the rows, the featurizer's ``get_params()``): it clones the
unfitted featurizer and fits it on the training rows only; :func:`featurize` (what :func:`automl.model.fit` calls)
also transforms the validation rows with it. Nothing learnt from data (vocabulary, TF-IDF weights, scaler
statistics) ever sees the validation rows, and equal inputs give equal outputs: :mod:`automl.feature_cache` keeps
featurized folds across trials on that ground.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import clone

__all__ = ["Featurize", "featurize", "fit_featurizer", "take"]

#: ``(unfitted featurizer, training rows, their targets, validation rows or None) -> (fitted featurizer, training
#: features, validation features or None)``: :func:`featurize`, or a cache in front of it.
Featurize = Callable[[Any, Any, np.ndarray, Any], tuple[Any, Any, Any]]


def take(X: Any, index: np.ndarray) -> Any:
    """Rows ``index`` of an array or DataFrame."""
    return X.iloc[index] if isinstance(X, pd.DataFrame) else X[index]


def fit_featurizer(featurizer: Any, X: Any, y: np.ndarray) -> tuple[Any, Any]:
    """Return ``(fitted clone of featurizer, features of X)``; ``featurizer`` is an unfitted sklearn transformer or
    ``None`` (the data is passed through unchanged, and the fitted featurizer is ``None``)."""
    if featurizer is None:
        return None, X
    fitted = clone(featurizer)
    return fitted, fitted.fit_transform(X, y)


def featurize(featurizer: Any, X: Any, y: np.ndarray, X_valid: Any = None) -> tuple[Any, Any, Any]:
    """:func:`fit_featurizer` on ``X``/``y``, and the features of ``X_valid`` by the fitted featurizer
    (``None`` when ``X_valid`` is): ``(fitted featurizer, features of X, features of X_valid)``."""
    fitted, F = fit_featurizer(featurizer, X, y)
    F_valid = None if X_valid is None else (X_valid if fitted is None else fitted.transform(X_valid))
    return fitted, F, F_valid
