"""Fitting one configuration on rows of a dataset, and what the fitted model answers.

Cross-validation fits one :class:`FittedModel` per fold (:mod:`automl.cv`); a refit fits one on all of a study's
search rows (:mod:`automl.refit`). Both go through :func:`fit`: the model plugin's featurizer fitted on the
rows (a clone, see :mod:`automl.features`), then its estimator (scikit-learn family) or module (torch family,
:func:`automl.training.train`) on the featurized rows.
"""

from __future__ import annotations

import gc
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from automl.exceptions import ConfigError, PluginError
from automl.features import Featurize, featurize, take
from automl.protocols import Problem
from automl.schema import conform
from automl.subsample import training_rows

if TYPE_CHECKING:
    import torch

    from automl.metrics import Metric
    from automl.space import Config
    from automl.training import EpochCallback, Trained

__all__ = ["FittedModel", "Model", "build_estimator", "fit", "sklearn_outputs"]


def build_estimator(config: Config, problem: Problem) -> Any:
    """The model plugin's unfitted scikit-learn estimator for ``problem``; a :class:`PluginError` when it lacks
    ``fit``/``predict``."""
    estimator = config.model.plugin.build(config.model_params, problem)
    if not (hasattr(estimator, "fit") and hasattr(estimator, "predict")):
        raise PluginError(f"model plugin {config.model.name!r}: build() returned {type(estimator).__name__}, "
                          "which has no fit()/predict()")
    return estimator


def sklearn_outputs(estimator: Any, F: Any, problem: Problem) -> np.ndarray:
    """Class probabilities ``(n, n_outputs)`` (one-hot rows of the predicted class for an estimator without
    ``predict_proba``) or values ``(n,)`` of a fitted scikit-learn estimator on featurized rows ``F``."""
    if problem.kind == "regression":
        return np.asarray(estimator.predict(F), dtype=np.float64)
    classes = np.asarray(estimator.classes_)
    if hasattr(estimator, "predict_proba"):
        proba = estimator.predict_proba(F)
    else:  # label metrics only look at the arg-max
        proba = (np.asarray(estimator.predict(F))[:, None] == classes[None, :]).astype(np.float64)
    full = np.zeros((proba.shape[0], problem.n_outputs))
    full[:, classes] = proba
    return full


@dataclass
class FittedModel:
    """A configuration fitted on some rows: its fitted featurizer (``problem.featurizer``), and its fitted
    estimator (scikit-learn family) or trained module (torch family, on ``device``)."""

    config: Config
    problem: Problem
    estimator: Any = None
    trained: Trained | None = None
    device: str = "cpu"

    def featurize(self, X: Any) -> Any:
        """Rows as the estimator or module sees them."""
        return X if self.problem.featurizer is None else self.problem.featurizer.transform(X)

    def outputs(self, X: Any) -> np.ndarray:
        """Class probabilities ``(n, n_classes)`` or values ``(n,)`` for raw rows ``X``."""
        return self.featurized_outputs(self.featurize(X))

    def score(self, X: Any, y: np.ndarray, metric: Metric) -> float:
        """``metric`` of the predictions for raw rows ``X`` against ``y`` (class indices or values)."""
        outputs = self.outputs(X)
        labels = self.problem.kind == "classification" and not metric.needs_proba
        return float(metric.score(y, outputs.argmax(axis=1) if labels else outputs))

    def featurized_outputs(self, F: Any) -> np.ndarray:
        """Like :meth:`outputs`, for rows already featurized."""
        if self.trained is not None:
            import torch

            return self.trained.outputs(F, torch.device(self.device))
        return sklearn_outputs(self.estimator, F, self.problem)


def fit(config: Config, X: Any, y: np.ndarray, *, task: str, kind: str, n_outputs: int, seed: int,
        device: torch.device | None = None, X_valid: Any = None, on_epoch: EpochCallback | None = None,
        on_oom: Callable[[int], None] | None = None, featurizing: Featurize = featurize) -> tuple[FittedModel, Any]:
    """Fit ``config`` on rows ``X``/``y``; returns the model and the featurized ``X_valid`` (when given).

    ``featurizing`` fits the featurizer and featurizes the rows (:func:`automl.features.featurize`, or a
    :mod:`automl.feature_cache` in front of it); what it returns may be shared with other trials, so the model
    must not change it. A model plugin with a
    ``max_train_rows`` is then fitted on at most that many of the rows (:mod:`automl.subsample`).

    Torch models train on ``device`` and call ``on_epoch`` with the outputs on ``X_valid`` after every epoch; out
    of memory, the attempt is freed and retried once at half the batch size (``on_oom`` is told the batch size
    that failed), and a second one is a ``MemoryError``.
    """
    fitted, F, F_valid = featurizing(config.model.plugin.featurizer(config.model_params), X, y, X_valid)
    limit = config.model.plugin.max_train_rows
    rows = None if limit is None else training_rows(y, limit, classification=kind == "classification")
    if rows is not None:  # a model that scales badly with the rows: fitted on a subsample (automl.subsample)
        F, y = take(F, rows), y[rows]
    problem = Problem(task, kind, n_outputs, tuple(F.shape[1:]), fitted, seed,  # type: ignore[arg-type]
                      n_rows=F.shape[0])
    if config.model.plugin.family != "torch":
        estimator = build_estimator(config, problem)
        estimator.fit(F, y)
        return FittedModel(config, problem, estimator=estimator), F_valid
    assert device is not None, "torch models need a device"
    trained = _train_with_retry(config, problem, F, y, device, F_valid, on_epoch, on_oom)
    return FittedModel(config, problem, trained=trained, device=str(device)), F_valid


def _train_with_retry(config: Config, problem: Problem, F: Any, y: np.ndarray, device: torch.device, F_valid: Any,
                      on_epoch: EpochCallback | None, on_oom: Callable[[int], None] | None) -> Trained:
    """Train; out of memory, free what the attempt held and retry once with half the batch size."""
    import torch

    from automl.training import fold_settings, train

    batch_size = fold_settings(config, F.shape[0]).batch_size
    try:
        return train(config, problem, F, y, device=device, X_valid=F_valid, on_epoch=on_epoch)
    except torch.OutOfMemoryError:
        pass  # leave the except block first: its traceback holds the failed attempt's tensors
    if on_oom is not None:
        on_oom(batch_size)
    gc.collect()
    if device.type == "cuda":
        torch.cuda.empty_cache()
    smaller = max(1, batch_size // 2)
    try:
        return train(config, problem, F, y, device=device, X_valid=F_valid, on_epoch=on_epoch, batch_size=smaller)
    except torch.OutOfMemoryError as exc:
        message = f"out of memory at batch size {batch_size} and again at {smaller}: {str(exc).splitlines()[0]}"
    gc.collect()
    if device.type == "cuda":
        torch.cuda.empty_cache()
    raise MemoryError(message)


@dataclass
class Model:
    """A fitted model and its card (the ``model.json`` of a model directory: where it comes from, how it scored,
    what it takes): what :func:`automl.refit` returns and :func:`automl.load_model` reads back.

    ``predict`` and ``predict_proba`` take rows as a search reads them (a DataFrame with the table's columns or the
    text column, a sequence of texts, an image array ``(n, C, H, W)``) and check them against the card's schema
    first (:func:`automl.schema.conform`).
    """

    fitted: FittedModel
    card: dict[str, Any]

    @property
    def classes(self) -> list[str] | None:
        """Class labels (classification), in the order of :meth:`predict_proba`'s columns."""
        return self.card["classes"]

    def outputs(self, rows: Any) -> np.ndarray:
        """Class probabilities ``(n, n_classes)`` or values ``(n,)`` for ``rows``."""
        return self.fitted.outputs(conform(self.card["schema"], rows))

    def predict(self, rows: Any) -> np.ndarray:
        """Class labels (strings) or values for ``rows``."""
        outputs = self.outputs(rows)
        if self.classes is None:
            return outputs
        return np.asarray(self.classes, dtype=object)[outputs.argmax(axis=1)]

    def predict_proba(self, rows: Any) -> pd.DataFrame:
        """Class probabilities for ``rows``, a column per class (classification only)."""
        if self.classes is None:
            raise ConfigError("a regression model predicts values, not class probabilities")
        return pd.DataFrame(self.outputs(rows), columns=self.classes)
