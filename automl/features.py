"""Featurizing: fitting a model's featurizer on training rows.

:func:`fit_featurizer` is a pure function of (the rows, the featurizer's ``get_params()``): it clones the
unfitted featurizer and fits it on the training rows only; :func:`automl.model.fit` then transforms the validation
rows with it. Nothing learnt from data (vocabulary, TF-IDF weights, scaler statistics) ever sees the validation
rows, and equal inputs give equal outputs (a cache of featurized folds across trials could rely on this; none
exists yet).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import clone

__all__ = ["fit_featurizer", "take"]


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
