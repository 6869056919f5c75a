"""Column handling shared by the tabular models: numbers stay numbers, text columns become codes or one-hots."""

from __future__ import annotations

from sklearn.compose import ColumnTransformer, make_column_selector
from sklearn.impute import SimpleImputer
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, OrdinalEncoder, StandardScaler

_CATEGORICAL = make_column_selector(dtype_include=["object", "category", "string", "bool"])
_NUMERIC = make_column_selector(dtype_include="number")


def ordinal_columns() -> ColumnTransformer:
    """Numbers passed through (NaN kept), categorical columns as integer codes, for tree models."""
    encoder = OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1, encoded_missing_value=-1)
    return ColumnTransformer([("categorical", encoder, _CATEGORICAL), ("numeric", "passthrough", _NUMERIC)],
                             verbose_feature_names_out=False)


def standardized_columns() -> ColumnTransformer:
    """Numbers imputed (median) and standardized, categorical columns one-hot: dense float input for networks."""
    numeric = make_pipeline(SimpleImputer(strategy="median"), StandardScaler())
    onehot = OneHotEncoder(handle_unknown="ignore", sparse_output=False)
    return ColumnTransformer([("categorical", onehot, _CATEGORICAL), ("numeric", numeric, _NUMERIC)],
                             sparse_threshold=0.0)
