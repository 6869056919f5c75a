"""Batch prediction from a file: read it as a search would, check it against the model's schema, predict in batches,
write labels (and class probabilities), and score the predictions when the file holds the target."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from automl.exceptions import ConfigError
from automl.metrics import Metric, get_metric
from automl.model import Model
from automl.schema import read_rows

__all__ = ["BATCH", "Predictions", "predict_file"]

#: Rows per batch.
BATCH = 4096


@dataclass(frozen=True)
class Predictions:
    """What :func:`predict_file` produced: the predictions table, rows per second, and the model's metric on the
    rows when the file held their labels (``None`` otherwise)."""

    table: pd.DataFrame
    rows_per_second: float
    score: float | None
    metric: str


def _take(rows: object, start: int, stop: int) -> object:
    return rows.iloc[start:stop] if isinstance(rows, pd.DataFrame) else rows[start:stop]  # type: ignore[index]


def predict_file(model: Model, data: str | Path, *, out: str | Path | None = None, proba: bool = False,
                 progress: bool = False, batch: int = BATCH) -> Predictions:
    """Predict every row of ``data`` (CSV/TSV/Parquet/JSONL, an image folder or .npz) with ``model``; with ``out``,
    write a CSV of the predictions (column ``prediction``, and ``proba_<class>`` columns with ``proba``)."""
    if proba and model.classes is None:
        raise ConfigError("--proba applies to classification models; this one predicts values")
    if out is not None and not Path(out).parent.is_dir():  # before the work, not after it
        raise ConfigError(f"{out}: no folder {Path(out).parent} to write the predictions in")
    rows, labels = read_rows(model.card["schema"], Path(data))
    outputs = []
    start = time.perf_counter()
    chunks = range(0, len(rows), batch)
    if progress and len(rows) > batch:
        from rich.progress import track

        chunks = track(chunks, description="predicting", transient=True)  # type: ignore[assignment]
    for first in chunks:
        outputs.append(model.fitted.outputs(_take(rows, first, first + batch)))
    values = np.concatenate(outputs)
    seconds = max(time.perf_counter() - start, 1e-9)
    table = pd.DataFrame({"prediction": values if model.classes is None else
                          np.asarray(model.classes, dtype=object)[values.argmax(axis=1)]})
    if proba:
        for index, name in enumerate(model.classes or []):
            table[f"proba_{name}"] = values[:, index]
    score = None
    metric = get_metric(model.card["metric"]["name"], model.card["kind"])
    if labels is not None:
        score = _score(model, metric, values, labels)
    if out is not None:
        try:
            table.to_csv(out, index=False)
        except OSError as exc:
            raise ConfigError(f"{out}: cannot write the predictions: {exc}") from exc
    return Predictions(table, len(rows) / seconds, score, metric.name)


def _score(model: Model, metric: Metric, values: np.ndarray, labels: np.ndarray) -> float | None:
    """The metric on rows whose labels are known to the model (``None`` when some are not)."""
    if model.classes is None:
        targets = pd.to_numeric(pd.Series(labels), errors="coerce").to_numpy(dtype=np.float64)
        return float(metric.score(targets, values)) if np.isfinite(targets).all() else None
    index = {name: i for i, name in enumerate(model.classes)}
    names = [str(label) for label in labels]
    if any(name not in index for name in names):
        return None
    y = np.array([index[name] for name in names])
    return float(metric.score(y, values if metric.needs_proba else values.argmax(axis=1)))
