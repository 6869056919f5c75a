"""What a model takes as input, recorded when it is fitted and checked before it predicts.

A schema is plain JSON (it is stored in a model directory's ``model.json``):

* tables: ``{"kind": "table", "columns": [{"name": ..., "type": "number" | "category"}, ...], "target_column": ...}``;
* texts: ``{"kind": "texts", "text_column": ..., "target_column": ...}``;
* images: ``{"kind": "images", "shape": [C, H, W]}``.

:func:`conform` turns rows into what the model was fitted on (columns by name and in order, numbers as numbers, texts
as strings, images of the right shape), or raises a :class:`~automl.exceptions.DataError` that says what is wrong;
:func:`read_rows` reads a file in the formats a search reads (and its labels, when it has the target).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from automl.datasets import Dataset
from automl.exceptions import DataError
from automl.readers import read_images, read_table

__all__ = ["conform", "read_rows", "schema_of", "write_rows"]


def _column_type(values: pd.Series) -> str:
    numeric = pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values)
    return "number" if numeric else "category"


def schema_of(dataset: Dataset) -> dict[str, Any]:
    """The input schema of a model fitted on ``dataset``."""
    if dataset.task == "vision":
        return {"kind": "images", "shape": [int(s) for s in dataset.X.shape[1:]]}
    if dataset.task == "nlp":
        return {"kind": "texts", "text_column": dataset.text_column, "target_column": dataset.target_column}
    return {"kind": "table", "target_column": dataset.target_column,
            "columns": [{"name": str(c), "type": _column_type(dataset.X[c])} for c in dataset.X.columns]}


def _texts(schema: dict[str, Any], rows: Any, where: str) -> np.ndarray:
    if isinstance(rows, pd.DataFrame):
        if schema["text_column"] not in rows.columns:
            raise DataError(f"{where}: no text column {schema['text_column']!r} (columns: "
                            f"{', '.join(map(str, rows.columns))})")
        rows = rows[schema["text_column"]]
    texts = pd.Series(np.asarray(rows, dtype=object).reshape(-1))
    missing = texts.isna()
    if missing.any():
        raise DataError(f"{where}: {int(missing.sum())} texts are missing (first at row {int(missing.argmax())})")
    return texts.astype(str).to_numpy(dtype=object)


def _table(schema: dict[str, Any], rows: Any, where: str) -> pd.DataFrame:
    if not isinstance(rows, pd.DataFrame):
        raise DataError(f"{where}: a table (pandas DataFrame) is needed, got {type(rows).__name__}")
    names = [c["name"] for c in schema["columns"]]
    by_name = {str(c): c for c in rows.columns}
    missing = [name for name in names if name not in by_name]
    if missing:
        raise DataError(f"{where}: missing column{'s' if len(missing) > 1 else ''} {', '.join(map(repr, missing))} "
                        f"(the model takes: {', '.join(names)})")
    out = {}
    for column in schema["columns"]:
        values = rows[by_name[column["name"]]].reset_index(drop=True)
        if column["type"] == "number" and not pd.api.types.is_numeric_dtype(values):
            numbers = pd.to_numeric(values, errors="coerce")
            bad = numbers.isna() & values.notna()
            if bad.any():
                row = int(bad.to_numpy().argmax())
                raise DataError(f"{where}: column {column['name']!r} holds numbers, but row {row} has "
                                f"{values.iloc[row]!r}")
            values = numbers
        elif column["type"] == "category" and pd.api.types.is_bool_dtype(values):
            values = values.astype(object)
        elif column["type"] == "category" and pd.api.types.is_numeric_dtype(values):
            # A search reads a category column as text ("1", "x"); a file whose column holds only numbers must give
            # the same text, or every value would be a category the model never saw.
            values = values.map(_category_text, na_action="ignore").astype(object)
        out[column["name"]] = values
    return pd.DataFrame(out)


def _category_text(value: Any) -> str:
    """A number in a category column as a file spells it: ``1`` and ``1.0`` (an int column with a gap) as ``"1"``."""
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        return str(int(value))
    return str(value)


def _images(schema: dict[str, Any], rows: Any, where: str) -> np.ndarray:
    images = np.asarray(rows)
    if images.ndim != 4 or list(images.shape[1:]) != schema["shape"]:
        raise DataError(f"{where}: images of shape {tuple(schema['shape'])} are needed, got an array of shape "
                        f"{images.shape}")
    return images.astype(np.float32, copy=False)


def conform(schema: dict[str, Any], rows: Any, where: str = "input") -> Any:
    """``rows`` as the model takes them (see the module docstring); ``where`` names them in errors."""
    if len(rows) == 0:
        raise DataError(f"{where}: no rows")
    kind = schema["kind"]
    if kind == "texts":
        return _texts(schema, rows, where)
    if kind == "images":
        return _images(schema, rows, where)
    return _table(schema, rows, where)


def read_rows(schema: dict[str, Any], path: Path) -> tuple[Any, np.ndarray | None]:
    """Read ``path`` (CSV/TSV/Parquet/JSONL; for images a folder of class folders or an .npz) as the model's input;
    returns the rows and their labels or target values when the file has them (else ``None``)."""
    if schema["kind"] == "images":
        images, labels = read_images(path)
        return conform(schema, images, str(path)), labels
    frame = read_table(path)
    target = schema.get("target_column")
    y = frame[target].to_numpy() if target in frame.columns else None
    return conform(schema, frame, str(path)), y


def write_rows(dataset: Dataset, path: Path) -> Path:
    """Write ``dataset``'s rows with their labels (or target values) to ``path`` in a format :func:`read_rows`
    reads back to the same rows: a table (``.csv``, ``.tsv``, ``.parquet``) for tables and texts, an ``.npz``
    (``X``, ``y``) for images."""
    labels = dataset.y if dataset.classes is None else np.asarray(dataset.classes, dtype=object)[dataset.y]
    suffix = path.suffix.lower()
    if dataset.task == "vision":
        if suffix != ".npz":
            raise DataError(f"{path}: image rows are written as .npz")
        np.savez(path, X=dataset.X, y=labels.astype(str) if dataset.classes is not None else labels)
        return path
    if dataset.task == "nlp":
        frame = pd.DataFrame({dataset.text_column: dataset.X, dataset.target_column: labels})
    else:
        frame = dataset.X.copy()
        frame[dataset.target_column] = labels
    if suffix in (".csv", ".tsv"):
        frame.to_csv(path, sep="\t" if suffix == ".tsv" else ",", index=False)
    elif suffix in (".parquet", ".pq"):
        frame.to_parquet(path, index=False)
    else:
        raise DataError(f"{path}: write rows as .csv, .tsv or .parquet")
    return path
