"""Metrics: defaults, directions, refusals, and scores that agree with scikit-learn."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn import metrics as skm

from automl.exceptions import ConfigError
from automl.metrics import METRICS, get_metric

MINIMIZED = {"log_loss", "rmse", "mae"}

# A small hand-made three-class example: labels, predicted labels, and probability rows (argmax = prediction).
Y3 = np.array([0, 1, 2, 2, 1, 0, 1, 2])
PRED3 = np.array([0, 2, 2, 1, 1, 0, 1, 0])
PROBA3 = np.array([
    [0.7, 0.2, 0.1],
    [0.2, 0.3, 0.5],
    [0.1, 0.2, 0.7],
    [0.3, 0.4, 0.3],
    [0.1, 0.8, 0.1],
    [0.6, 0.3, 0.1],
    [0.2, 0.5, 0.3],
    [0.5, 0.1, 0.4],
])
Y2 = np.array([0, 0, 1, 1, 0, 1])
PROBA2 = np.array([[0.9, 0.1], [0.4, 0.6], [0.35, 0.65], [0.2, 0.8], [0.7, 0.3], [0.55, 0.45]])
YR = np.array([3.0, -0.5, 2.0, 7.0, 1.5])
PREDR = np.array([2.5, 0.0, 2.0, 8.0, 1.0])


@pytest.mark.parametrize("kind, name", [("classification", "accuracy"), ("regression", "rmse")])
def test_default_metric(kind: str, name: str) -> None:
    metric = get_metric(None, kind)
    assert metric.name == name
    assert metric.kind == kind


@pytest.mark.parametrize("name", sorted(METRICS))
def test_direction(name: str) -> None:
    metric = METRICS[name]
    assert metric.direction == ("minimize" if name in MINIMIZED else "maximize")
    assert get_metric(name, metric.kind) is metric


def test_only_probability_metrics_need_probabilities() -> None:
    assert {m.name for m in METRICS.values() if m.needs_proba} == {"roc_auc", "log_loss"}


@pytest.mark.parametrize("kind", ["classification", "regression"])
def test_unknown_metric_lists_the_names(kind: str) -> None:
    with pytest.raises(ConfigError, match="unknown metric 'precision@k'") as info:
        get_metric("precision@k", kind)
    assert all(name in str(info.value) for name in METRICS)


@pytest.mark.parametrize("name", sorted(METRICS))
def test_metric_of_the_other_kind_is_refused(name: str) -> None:
    other = "regression" if METRICS[name].kind == "classification" else "classification"
    with pytest.raises(ConfigError, match=f"metric '{name}' is for") as info:
        get_metric(name, other)
    usable = [m for m, metric in METRICS.items() if metric.kind == other]
    assert all(m in str(info.value) for m in usable)


@pytest.mark.parametrize("name, y, pred, expected", [
    ("accuracy", Y3, PRED3, skm.accuracy_score(Y3, PRED3)),
    ("balanced_accuracy", Y3, PRED3, skm.balanced_accuracy_score(Y3, PRED3)),
    ("f1_macro", Y3, PRED3, skm.f1_score(Y3, PRED3, average="macro")),
    ("roc_auc", Y2, PROBA2, skm.roc_auc_score(Y2, PROBA2[:, 1])),
    ("roc_auc", Y3, PROBA3, skm.roc_auc_score(Y3, PROBA3, multi_class="ovr")),
    ("log_loss", Y2, PROBA2, skm.log_loss(Y2, PROBA2)),
    ("log_loss", Y3, PROBA3, skm.log_loss(Y3, PROBA3)),
    ("rmse", YR, PREDR, skm.root_mean_squared_error(YR, PREDR)),
    ("mae", YR, PREDR, skm.mean_absolute_error(YR, PREDR)),
    ("r2", YR, PREDR, skm.r2_score(YR, PREDR)),
], ids=["accuracy", "balanced_accuracy", "f1_macro", "roc_auc-binary", "roc_auc-multiclass", "log_loss-binary",
        "log_loss-multiclass", "rmse", "mae", "r2"])
def test_score_matches_sklearn(name: str, y: np.ndarray, pred: np.ndarray, expected: float) -> None:
    assert METRICS[name].score(y, pred) == pytest.approx(expected)


def test_example_predictions_are_imperfect() -> None:
    """Guards the examples above: a perfect prediction would make most metrics agree trivially."""
    assert (PRED3 != Y3).any() and (PREDR != YR).any()
    assert (PROBA3.argmax(axis=1) == PRED3).all()


def test_log_loss_when_a_fold_lacks_a_class() -> None:
    """A validation fold may miss a class; the probability columns still say how many classes exist."""
    y = np.array([0, 1, 0, 1])
    proba = np.array([[0.6, 0.3, 0.1], [0.2, 0.7, 0.1], [0.5, 0.25, 0.25], [0.1, 0.8, 0.1]])
    assert METRICS["log_loss"].score(y, proba) == pytest.approx(skm.log_loss(y, proba, labels=[0, 1, 2]))


@pytest.mark.parametrize("name, y, perfect, best", [
    ("accuracy", Y3, Y3, 1.0),
    ("f1_macro", Y3, Y3, 1.0),
    ("roc_auc", Y3, np.eye(3)[Y3], 1.0),
    ("rmse", YR, YR, 0.0),
    ("mae", YR, YR, 0.0),
    ("r2", YR, YR, 1.0),
])
def test_perfect_prediction_scores_best(name: str, y: np.ndarray, perfect: np.ndarray, best: float) -> None:
    assert METRICS[name].score(y, perfect) == pytest.approx(best)
