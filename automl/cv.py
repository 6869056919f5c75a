"""k-fold cross-validation of one configuration, reported fold by fold so a pruner can stop it early.

Splits are stratified for classification, fixed by the study's seed, and identified by a digest stored on the
study. What a trial reports depends on the study's pruner (:class:`~automl.reporter.Reporting`):

* ``RUNNING`` (median, percentile, none) and ``FOLDS`` (hyperband): the running estimate of the mean CV score at
  the end of fold ``f`` (step ``f * STEP_STRIDE + STEP_STRIDE - 1``), the mean of the folds done so far;
* ``RUNNING`` only, torch models, after epoch ``e`` of fold ``f`` when ``e`` is on the schedule (step
  ``f * STEP_STRIDE + e``): the same mean with the current fold's score at that epoch included;
* ``PER_FOLD`` (wilcoxon): fold ``f``'s own score at step ``f``, once the fold is done.

The last fold's report (:func:`last_step`) is written but the pruner is not asked there: the trial has been
evaluated in full, and a pruner's verdict would only throw the evaluation away (a trial that is slow to finish
could otherwise be pruned at its last fold by trials that completed meanwhile).

Epoch reports follow a fixed schedule (epochs 1, 2, 4, 8, ...; the fold's end is always reported) rather than
every epoch: each report is a study write (~15 ms on SQLite), and a 60-epoch, 5-fold trial would pay 300 of them.
The schedule is the same for every trial, whatever its speed, so trials still report at the same steps and a
pruner compares like with like (a time-based throttle would give each trial its own steps, and the median pruner
would find no peers at them).
"""

from __future__ import annotations

import contextlib
import hashlib
import signal
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
from sklearn.model_selection import KFold, StratifiedKFold

from automl import costs as cost_measures
from automl import interrupt
from automl.datasets import Dataset
from automl.exceptions import DataError, PluginError, TrialStopped
from automl.feature_cache import CachedFeaturizing
from automl.features import featurize, take
from automl.metrics import Metric
from automl.model import FittedModel, fit
from automl.reporter import Reporter, Reporting

if TYPE_CHECKING:
    import torch

    from automl.space import Config

__all__ = ["STEP_STRIDE", "CVResult", "FoldReporter", "cross_validate", "fold_end_step",
           "fold_scores_of", "last_step", "make_splits", "on_schedule", "splits_digest", "storage_write"]

#: Reporting steps reserved for each fold (epochs of a torch model count within them).
STEP_STRIDE = 1000

Split = tuple[np.ndarray, np.ndarray]


def on_schedule(epoch: int) -> bool:
    """Whether torch epoch ``epoch`` (1-based) is on the reporting schedule: a power of two (see above)."""
    return epoch >= 1 and epoch & (epoch - 1) == 0


def fold_end_step(fold: int) -> int:
    """The step of the running mean reported at the end of fold ``fold`` (0-based)."""
    return fold * STEP_STRIDE + STEP_STRIDE - 1


def last_step(folds: int, reporting: Reporting) -> int:
    """The step of the last report of a trial cross-validated on ``folds`` folds under ``reporting``: the end of
    its last fold. No pruner is asked there (see the module docstring)."""
    return folds - 1 if reporting is Reporting.PER_FOLD else fold_end_step(folds - 1)


def fold_scores_of(reports: Mapping[int, float], reporting: Reporting = Reporting.RUNNING) -> list[float]:
    """The scores of the folds a trial finished, recovered from its reports under ``reporting``. For a trial
    stopped from outside, where only its reports reached the study (the ray backend's pruning).

    ``PER_FOLD`` reports are the fold scores themselves (steps ``0..k-1``); from running means, fold ``f``'s score
    is the mean after fold ``f`` times ``f + 1`` minus the mean after fold ``f - 1`` times ``f`` (exact up to
    float rounding)."""
    if reporting is Reporting.PER_FOLD:
        return [reports[step] for step in sorted(reports) if step < STEP_STRIDE - 1]
    means = [reports[step] for step in sorted(reports) if step % STEP_STRIDE == STEP_STRIDE - 1]
    return [(f + 1) * mean - f * (means[f - 1] if f else 0.0) for f, mean in enumerate(means)]


def make_splits(dataset: Dataset, folds: int, seed: int) -> list[Split]:
    """The study's fixed ``(train, valid)`` index pairs: stratified for classification, shuffled by ``seed``."""
    if folds < 2:
        raise DataError(f"cross-validation needs at least 2 folds, got {folds}")
    if len(dataset) < folds:
        raise DataError(f"{dataset.name}: {len(dataset)} rows cannot make {folds} folds")
    if dataset.kind == "classification":
        counts = np.bincount(dataset.y, minlength=dataset.n_outputs)
        if counts.min() < folds:
            rare = dataset.classes[int(counts.argmin())] if dataset.classes else "?"
            raise DataError(f"{dataset.name}: class {rare!r} has {counts.min()} rows, fewer than the {folds} folds")
        splitter: Any = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    else:
        splitter = KFold(n_splits=folds, shuffle=True, random_state=seed)
    return list(splitter.split(np.zeros(len(dataset)), dataset.y))


def splits_digest(splits: list[Split]) -> str:
    """A short digest of which fold each row validates in (stored on the study, checked on resume)."""
    assignment = np.empty(sum(len(valid) for _, valid in splits), dtype=np.int32)
    for fold, (_, valid) in enumerate(splits):
        assignment[valid] = fold
    return hashlib.sha256(assignment.tobytes()).hexdigest()[:16]


@contextlib.contextmanager
def storage_write() -> Iterator[None]:
    """Hold a trial's time limit (``SIGALRM``, see :mod:`automl.runner`) and Ctrl-C (:func:`automl.interrupt.holding`)
    back while writing to the study, so they are raised after the write, not in the middle of it."""
    if not hasattr(signal, "pthread_sigmask"):
        with interrupt.holding():
            yield
        return
    before = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGALRM})
    try:
        with interrupt.holding():
            yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, before)


class FoldReporter:
    """Reports one trial's progress under ``reporting`` (see the module docstring) through its
    :class:`~automl.reporter.Reporter` and raises :class:`~automl.exceptions.TrialStopped` when the reporter says
    stop. Before each report it checks for a stop request (Ctrl-C, see :mod:`automl.interrupt`), so an interrupt
    that Python swallowed is raised here."""

    def __init__(self, reporter: Reporter, metric: Metric, reporting: Reporting = Reporting.RUNNING) -> None:
        self.reporter = reporter
        self.metric = metric
        self.reporting = reporting
        self.scores: list[float] = []
        self.oom_retries: list[dict[str, int]] = []

    def _report(self, value: float, step: int, what: str, *, ask: bool = True) -> None:
        interrupt.check()
        with storage_write():
            self.reporter.report(value, step)
            stop = ask and self.reporter.should_stop()
        if stop:
            raise TrialStopped(f"pruned at step {step} with {what} {self.metric.name} {value:.4f}")

    def wants_epoch(self, epoch: int) -> bool:
        """Whether epoch ``epoch`` (1-based) of a torch model is reported: on the schedule, under ``RUNNING``."""
        return self.reporting is Reporting.RUNNING and on_schedule(epoch)

    def epoch(self, fold: int, epoch: int, score: float) -> None:
        """Report the estimate including fold ``fold``'s score after ``epoch`` (1-based), when :meth:`wants_epoch`."""
        if self.wants_epoch(epoch):
            self._report((sum(self.scores) + score) / (len(self.scores) + 1), fold * STEP_STRIDE + epoch,
                         "running CV")

    def fold_done(self, fold: int, score: float, *, last: bool = False) -> None:
        """Record fold ``fold``'s final score and report it (``PER_FOLD``) or the mean so far; after the ``last``
        fold without asking whether to stop (see the module docstring)."""
        self.scores.append(score)
        if self.reporting is Reporting.PER_FOLD:
            self._report(score, fold, f"fold {fold}", ask=not last)
        else:
            self._report(float(np.mean(self.scores)), fold_end_step(fold), "running CV", ask=not last)

    def out_of_memory(self, fold: int, batch_size: int) -> None:
        """Note on the trial (attribute ``oom_retries``) that fold ``fold`` ran out of memory at ``batch_size``."""
        self.oom_retries.append({"fold": fold, "batch_size": batch_size})
        with storage_write():
            self.reporter.set_attr("oom_retries", list(self.oom_retries))


@dataclass(frozen=True)
class CVResult:
    """Scores and fit times of every fold, and the costs measured on the first fold's model (when asked for)."""

    fold_scores: list[float]
    fit_seconds: list[float]
    costs: dict[str, float] = field(default_factory=dict)

    @property
    def mean(self) -> float:
        """Mean fold score: the trial's value."""
        return float(np.mean(self.fold_scores))

    @property
    def std(self) -> float:
        """Standard deviation of the fold scores."""
        return float(np.std(self.fold_scores))

    @property
    def values(self) -> list[float]:
        """The trial's objective values: the mean score, then the costs in the order they were asked for."""
        return [self.mean, *self.costs.values()]


def _prediction(outputs: np.ndarray, metric: Metric, kind: str) -> np.ndarray:
    if kind == "classification" and not metric.needs_proba:
        return outputs.argmax(axis=1)
    return outputs


def _fit_fold(config: Config, dataset: Dataset, split: Split, fold: int, seed: int, metric: Metric,
              reporter: FoldReporter, device: torch.device | None,
              cache: CachedFeaturizing | None) -> tuple[float, FittedModel]:
    train, valid = split
    plugin = config.model.plugin
    y_train, y_valid = dataset.y[train], dataset.y[valid]
    on_epoch = None
    if plugin.family == "torch":
        assert device is not None, "torch models need a device"
        epochs = plugin.training(config.model_params).epochs
        if not 1 <= epochs < STEP_STRIDE:
            raise PluginError(f"model plugin {config.model.name!r}: epochs must be 1..{STEP_STRIDE - 1}, got {epochs}")
    if plugin.family == "torch" and reporter.reporting is Reporting.RUNNING:  # (else training skips validation)

        def on_epoch(epoch: int, outputs: np.ndarray) -> None:
            if reporter.wants_epoch(epoch):  # (scoring the other epochs would be wasted)
                reporter.epoch(fold, epoch, metric.score(y_valid, _prediction(outputs, metric, dataset.kind)))

    model, F_valid = fit(config, take(dataset.X, train), y_train, task=dataset.task, kind=dataset.kind,
                         n_outputs=dataset.n_outputs, seed=seed, device=device, X_valid=take(dataset.X, valid),
                         on_epoch=on_epoch, on_oom=lambda batch_size: reporter.out_of_memory(fold, batch_size),
                         featurizing=featurize if cache is None else cache.fold(dataset.fingerprint, train, valid))
    if (model.estimator is not None and metric.needs_proba and dataset.kind == "classification"
            and not hasattr(model.estimator, "predict_proba")):
        raise PluginError(f"model plugin {config.model.name!r} predicts no class probabilities, which metric "
                          f"{metric.name!r} needs; the plugin should declare probabilities = False (then such "
                          "searches leave it out), or choose a label metric such as accuracy")
    outputs = np.asarray(model.featurized_outputs(F_valid))
    if outputs.dtype.kind in "fc" and not np.isfinite(outputs).all():
        raise FloatingPointError(f"model plugin {config.model.name!r} predicted NaN or infinite values on fold {fold}")
    score = float(metric.score(y_valid, _prediction(outputs, metric, dataset.kind)))
    if not np.isfinite(score):
        raise FloatingPointError(f"fold {fold} {metric.name} is {score}")
    return score, model


def cross_validate(config: Config, dataset: Dataset, splits: list[Split], metric: Metric, reporter: FoldReporter,
                   *, seed: int, device: torch.device | None = None, costs: Sequence[str] = (),
                   cache: CachedFeaturizing | None = None) -> CVResult:
    """Score ``config`` on every split, reporting after each fold (and epoch); may raise ``TrialStopped``. The
    ``costs`` (:mod:`automl.costs`) are measured on the first fold's model, on its first validation rows. With a
    ``cache`` (:mod:`automl.feature_cache`), featurized folds come from it when they repeat."""
    scores, seconds, measured = [], [], {}
    for fold, split in enumerate(splits):
        start = time.perf_counter()
        score, model = _fit_fold(config, dataset, split, fold, seed + fold, metric, reporter, device, cache)
        seconds.append(time.perf_counter() - start)
        if fold == 0 and costs:
            measured = cost_measures.measure(model, take(dataset.X, split[1][:cost_measures.LATENCY_ROWS]), costs)
        scores.append(score)
        reporter.fold_done(fold, score, last=fold == len(splits) - 1)
    return CVResult(scores, seconds, measured)
