"""Metrics that score one CV fold, and the direction a study optimizes them in."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from sklearn import metrics as skm

from automl.exceptions import ConfigError

__all__ = ["DEFAULT_METRIC", "METRICS", "Metric", "get_metric"]


@dataclass(frozen=True)
class Metric:
    """A fold score: ``score(y_true, prediction)``.

    ``prediction`` is class-probability rows when ``needs_proba`` (classification), else predicted labels
    (class indices) or values (regression).
    """

    name: str
    kind: str
    direction: str
    needs_proba: bool
    score: Callable[[np.ndarray, np.ndarray], float]


def _rmse(y: np.ndarray, pred: np.ndarray) -> float:
    return float(np.sqrt(skm.mean_squared_error(y, pred)))


def _roc_auc(y: np.ndarray, proba: np.ndarray) -> float:
    if proba.shape[1] == 2:
        return float(skm.roc_auc_score(y, proba[:, 1]))
    return float(skm.roc_auc_score(y, proba, multi_class="ovr", labels=np.arange(proba.shape[1])))


def _log_loss(y: np.ndarray, proba: np.ndarray) -> float:
    return float(skm.log_loss(y, proba, labels=np.arange(proba.shape[1])))


METRICS: dict[str, Metric] = {
    m.name: m
    for m in (
        Metric("accuracy", "classification", "maximize", False, skm.accuracy_score),
        Metric("balanced_accuracy", "classification", "maximize", False, skm.balanced_accuracy_score),
        Metric("f1_macro", "classification", "maximize", False,
               lambda y, p: float(skm.f1_score(y, p, average="macro"))),
        Metric("roc_auc", "classification", "maximize", True, _roc_auc),
        Metric("log_loss", "classification", "minimize", True, _log_loss),
        Metric("rmse", "regression", "minimize", False, _rmse),
        Metric("mae", "regression", "minimize", False, skm.mean_absolute_error),
        Metric("r2", "regression", "maximize", False, skm.r2_score),
    )
}

#: Metric used when none is given, by problem kind.
DEFAULT_METRIC = {"classification": "accuracy", "regression": "rmse"}


def get_metric(name: str | None, kind: str) -> Metric:
    """The metric ``name`` (or the default for ``kind``); refuses one meant for the other problem kind."""
    name = name or DEFAULT_METRIC[kind]
    if name not in METRICS:
        raise ConfigError(f"unknown metric {name!r}; choose one of {', '.join(METRICS)}")
    metric = METRICS[name]
    if metric.kind != kind:
        usable = ", ".join(m.name for m in METRICS.values() if m.kind == kind)
        raise ConfigError(f"metric {name!r} is for {metric.kind}, but this dataset is {kind}; use one of {usable}")
    return metric
