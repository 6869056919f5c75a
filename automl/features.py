"""Featurizing one CV fold.

:func:`featurize` is a pure function of (the fold's rows, the featurizer's ``get_params()``): it clones the
unfitted featurizer, fits it on the training rows only, and transforms both sides. Nothing learnt from data
(vocabulary, TF-IDF weights, scaler statistics) ever sees the validation rows, and equal inputs give equal
outputs (a cache of featurized folds across trials could rely on this; none exists yet).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import clone

__all__ = ["featurize", "take"]


def take(X: Any, index: np.ndarray) -> Any:
    """Rows ``index`` of an array or DataFrame."""
    return X.iloc[index] if isinstance(X, pd.DataFrame) else X[index]


def featurize(featurizer: Any, X_train: Any, y_train: np.ndarray, X_valid: Any) -> tuple[Any, Any, Any]:
    """Return ``(fitted featurizer, features of X_train, features of X_valid)``.

    ``featurizer`` is an unfitted sklearn transformer or ``None`` (the data is passed through unchanged).
    """
    if featurizer is None:
        return None, X_train, X_valid
    fitted = clone(featurizer)
    return fitted, fitted.fit_transform(X_train, y_train), fitted.transform(X_valid)
