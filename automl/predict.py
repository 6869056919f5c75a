"""Batch prediction from a file: read it as a search would, check it against the model's schema, predict in batches,
write labels (and class probabilities), and score the predictions when the file holds the target."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from automl.exceptions import ConfigError
from automl.metrics import Metric, get_metric
from automl.model import Model
from automl.schema import read_rows

__all__ = ["BATCH_BYTES", "Predictions", "batch_rows", "predict_file"]

#: About how much raw input one batch holds: batches of a few thousand rows cost a table model 2-3 times its
#: throughput (per-batch featurizer overhead, see docs/benchmarks.md), so tables and small images go in large batches.
BATCH_BYTES = 32 * 2**20
#: Rows of one batch of texts (their size is not known before reading them).
TEXT_BATCH = 4096


def batch_rows(schema: dict[str, Any]) -> int:
    """Rows per batch for inputs of ``schema``: :data:`BATCH_BYTES` of float32 pixels or float64 table cells (at
    least 64 rows), or :data:`TEXT_BATCH` texts."""
    if schema["kind"] == "texts":
        return TEXT_BATCH
    row_bytes = 4 * math.prod(schema["shape"]) if schema["kind"] == "images" else 8 * len(schema["columns"])
    return max(64, BATCH_BYTES // max(row_bytes, 1))


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
                 progress: bool = False, batch: int | None = None) -> Predictions:
    """Predict every row of ``data`` (CSV/TSV/Parquet/JSONL, an image folder or .npz) with ``model``; with ``out``,
    write a CSV of the predictions (column ``prediction``, and ``proba_<class>`` columns with ``proba``). Rows go to
    the model ``batch`` at a time (default: :func:`batch_rows`); ``progress`` shows a bar when there are several."""
    if proba and model.classes is None:
        raise ConfigError("--proba applies to classification models; this one predicts values")
    if out is not None and not Path(out).parent.is_dir():  # before the work, not after it
        raise ConfigError(f"{out}: no folder {Path(out).parent} to write the predictions in")
    rows, labels = read_rows(model.card["schema"], Path(data))
    batch = batch or batch_rows(model.card["schema"])
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
