"""Column handling shared by the tabular models: numbers stay numbers, text columns become codes or one-hots.

scikit-learn is imported when a transformer is built, not with this module, so listing plugins stays light.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sklearn.compose import ColumnTransformer

_CATEGORICAL_DTYPES = ["object", "category", "string", "bool"]


def _selectors() -> tuple[Any, Any]:
    """The (categorical, numeric) column selectors."""
    from sklearn.compose import make_column_selector

    return make_column_selector(dtype_include=_CATEGORICAL_DTYPES), make_column_selector(dtype_include="number")


def ordinal_columns() -> ColumnTransformer:
    """Numbers passed through (NaN kept), categorical columns as integer codes, for tree models."""
    from sklearn.compose import ColumnTransformer
    from sklearn.preprocessing import OrdinalEncoder

    categorical, numeric = _selectors()
    encoder = OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1, encoded_missing_value=-1)
    return ColumnTransformer([("categorical", encoder, categorical), ("numeric", "passthrough", numeric)],
                             verbose_feature_names_out=False)


def standardized_columns() -> ColumnTransformer:
    """Numbers imputed (median) and standardized, categorical columns one-hot: dense float input for networks."""
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    categorical, numeric = _selectors()
    scaled = make_pipeline(SimpleImputer(strategy="median"), StandardScaler())
    onehot = OneHotEncoder(handle_unknown="ignore", sparse_output=False)
    return ColumnTransformer([("categorical", onehot, categorical), ("numeric", scaled, numeric)],
                             sparse_threshold=0.0)
