from __future__ import annotations

from typing import Any

import numpy as np
import optuna
import pytest
import torch
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.linear_model import LogisticRegression
from torch import nn

from automl.backends.optuna_backend import OptunaReporter
from automl.cv import (
    STEP_STRIDE,
    FoldReporter,
    cross_validate,
    fold_end_step,
    fold_scores_of,
    last_step,
    make_splits,
    on_schedule,
    splits_digest,
)
from automl.datasets import Dataset, make_dataset
from automl.exceptions import DataError, TrialStopped
from automl.metrics import get_metric
from automl.protocols import ModelPlugin, TrainSettings
from automl.registry import PluginRecord, discover
from automl.reporter import MemoryReporter, Reporting
from automl.space import Config


def test_splits_are_fixed_by_the_seed_and_stratified(blobs: Dataset) -> None:
    first, again, other = make_splits(blobs, 5, 7), make_splits(blobs, 5, 7), make_splits(blobs, 5, 8)
    assert splits_digest(first) == splits_digest(again)
    assert splits_digest(first) != splits_digest(other)
    assert all(np.array_equal(a[1], b[1]) for a, b in zip(first, again))
    valid_rows = np.concatenate([valid for _, valid in first])
    assert sorted(valid_rows) == list(range(len(blobs)))  # every row validates exactly once
    for train, valid in first:
        assert not set(train) & set(valid)
        assert np.bincount(blobs.y[valid]).tolist() == [12, 12]  # 60/60 classes, 5 folds


def test_regression_uses_plain_kfold() -> None:
    data = make_dataset("r", "tabular", np.arange(50.0).reshape(-1, 1), np.linspace(0, 1, 50), "builtin",
                        kind="regression")
    splits = make_splits(data, 5, 0)
    assert [len(v) for _, v in splits] == [10] * 5


@pytest.mark.parametrize(("folds", "message"), [(1, "at least 2 folds"), (61, "has 60 rows, fewer than")])
def test_impossible_splits_are_data_errors(blobs: Dataset, folds: int, message: str) -> None:
    with pytest.raises(DataError, match=message):
        make_splits(blobs, folds, 0)


class SpyScaler(TransformerMixin, BaseEstimator):
    """Records the rows it is fitted on (through a class attribute, since the engine fits a clone)."""

    fitted_on: list[set[float]] = []

    def fit(self, X: Any, y: Any = None) -> SpyScaler:
        SpyScaler.fitted_on.append(set(np.asarray(X)[:, 0].tolist()))
        return self

    def transform(self, X: Any) -> np.ndarray:
        return np.asarray(X, dtype=float)


class SpyModel(ModelPlugin):
    name = "spy"
    tasks = frozenset({"tabular"})
    family = "sklearn"
    kinds = frozenset({"classification"})
    api_version = 1

    def search_space(self, space: Any) -> None:
        pass

    def featurizer(self, params: Any) -> SpyScaler:
        return SpyScaler()

    def build(self, params: Any, problem: Any) -> LogisticRegression:
        return LogisticRegression()


def _config() -> Config:
    return Config(model=PluginRecord("model", "spy", "x:y", "t", "1", plugin=SpyModel()), model_params={})


def _unique_rows(n: int = 60) -> Dataset:
    rng = np.random.default_rng(1)
    X = np.column_stack([np.arange(n, dtype=float), rng.normal(size=n)])  # column 0 identifies the row
    return make_dataset("u", "tabular", X, np.arange(n) % 2, "builtin", kind="classification")


def test_featurizer_is_fitted_on_each_training_fold_only() -> None:
    data = _unique_rows()
    splits = make_splits(data, 3, 0)
    SpyScaler.fitted_on = []
    cross_validate(_config(), data, splits, get_metric(None, "classification"),
                   FoldReporter(MemoryReporter(), get_metric(None, "classification")), seed=0)
    assert len(SpyScaler.fitted_on) == 3
    for seen, (train, valid) in zip(SpyScaler.fitted_on, splits):
        assert seen == set(data.X[train, 0].tolist())
        assert not seen & set(data.X[valid, 0].tolist())


def test_each_fold_reports_the_running_mean(blobs: Dataset) -> None:
    metric = get_metric(None, "classification")
    memory = MemoryReporter()
    result = cross_validate(_config(), blobs, make_splits(blobs, 4, 0), metric, FoldReporter(memory, metric), seed=0)
    reported = memory.reports
    steps = [fold * STEP_STRIDE + STEP_STRIDE - 1 for fold in range(4)]
    assert sorted(reported) == steps
    for fold, step in enumerate(steps):
        assert reported[step] == pytest.approx(np.mean(result.fold_scores[: fold + 1]))
    assert result.mean == pytest.approx(np.mean(result.fold_scores))
    assert len(result.fit_seconds) == 4 and all(s > 0 for s in result.fit_seconds)


class _AlwaysStop(MemoryReporter):
    def should_stop(self) -> bool:
        return True


def test_a_stop_verdict_stops_the_trial_after_the_first_fold(blobs: Dataset) -> None:
    SpyScaler.fitted_on = []
    metric = get_metric(None, "classification")
    reporter = FoldReporter(_AlwaysStop(), metric)
    with pytest.raises(TrialStopped, match="running CV accuracy"):
        cross_validate(_config(), blobs, make_splits(blobs, 5, 0), metric, reporter, seed=0)
    assert len(SpyScaler.fitted_on) == 1 and len(reporter.scores) == 1


@pytest.mark.parametrize("reporting", list(Reporting))
def test_the_last_fold_is_reported_but_no_stop_verdict_is_asked_for(blobs: Dataset, reporting: Reporting) -> None:
    """A trial evaluated in full is never pruned: the pruner is not asked at its last fold's report."""
    metric = get_metric(None, "classification")
    stopper = _AlwaysStop()
    asked = []
    stopper.should_stop = lambda: asked.append(max(stopper.reports)) or True  # type: ignore[method-assign]
    with pytest.raises(TrialStopped):
        cross_validate(_config(), blobs, make_splits(blobs, 3, 0), metric, FoldReporter(stopper, metric, reporting),
                       seed=0)
    assert asked == [0 if reporting is Reporting.PER_FOLD else fold_end_step(0)]
    stopper.reports.clear()
    one_fold = make_splits(blobs, 3, 0)[:1]  # its only fold is its last
    result = cross_validate(_config(), blobs, one_fold, metric, FoldReporter(stopper, metric, reporting), seed=0)
    assert len(result.fold_scores) == 1 and max(stopper.reports) == last_step(1, reporting) and len(asked) == 1


def test_epoch_reports_fold_the_current_score_into_the_running_mean() -> None:
    memory = MemoryReporter()
    reporter = FoldReporter(memory, get_metric(None, "classification"))
    reporter.fold_done(0, 0.8)
    reporter.epoch(1, 4, 0.6)
    values = memory.reports
    assert values[STEP_STRIDE - 1] == pytest.approx(0.8)
    assert values[STEP_STRIDE + 4] == pytest.approx(0.7)


def test_model_without_fit_predict_is_a_plugin_error(blobs: Dataset) -> None:
    class NoFit(SpyModel):
        def build(self, params: Any, problem: Any) -> object:
            return object()

    config = Config(model=PluginRecord("model", "nofit", "x:y", "t", "1", plugin=NoFit()), model_params={})
    metric = get_metric(None, "classification")
    with pytest.raises(Exception, match="model plugin 'nofit': build\\(\\) returned object"):
        cross_validate(config, blobs, make_splits(blobs, 3, 0), metric, FoldReporter(MemoryReporter(), metric), seed=0)


def test_probability_metric_needs_predict_proba(blobs: Dataset) -> None:
    from sklearn.svm import LinearSVC

    class Margin(SpyModel):
        def build(self, params: Any, problem: Any) -> LinearSVC:
            return LinearSVC()

    config = Config(model=PluginRecord("model", "margin", "x:y", "t", "1", plugin=Margin()), model_params={})
    metric = get_metric("log_loss", "classification")
    with pytest.raises(Exception, match="'margin' predicts no class probabilities, which metric 'log_loss' needs"):
        cross_validate(config, blobs, make_splits(blobs, 3, 0), metric, FoldReporter(MemoryReporter(), metric), seed=0)
    accuracy = get_metric("accuracy", "classification")
    result = cross_validate(config, blobs, make_splits(blobs, 3, 0), accuracy,
                            FoldReporter(MemoryReporter(), accuracy), seed=0)
    assert result.mean > 0.9  # label metrics use the predicted class


def test_torch_epochs_must_fit_the_reporting_steps(blobs: Dataset) -> None:
    import torch
    from torch import nn

    from automl.protocols import TrainSettings
    from automl.registry import discover

    class Long(ModelPlugin):
        name, api_version, tasks, family = "long", 1, frozenset({"tabular"}), "torch"

        def search_space(self, space: Any) -> None:
            pass

        def build(self, params: Any, problem: Any) -> nn.Module:
            return nn.Linear(problem.input_shape[0], problem.n_outputs)

        def training(self, params: Any) -> TrainSettings:
            return TrainSettings(epochs=STEP_STRIDE, batch_size=16)

    config = Config(model=PluginRecord("model", "long", "x:y", "t", "1", plugin=Long()), model_params={},
                    optimizer=discover().get("optimizer", "adamw"),
                    optimizer_params={"lr": 0.01, "schedule": "constant"})
    metric = get_metric(None, "classification")
    with pytest.raises(Exception, match=f"epochs must be 1..{STEP_STRIDE - 1}"):
        cross_validate(config, blobs, make_splits(blobs, 3, 0), metric,
                       FoldReporter(MemoryReporter(), metric), seed=0, device=torch.device("cpu"))


class _Chance(nn.Module):
    """Ignores its input: a constant (trainable) output per class, so it predicts one class for every row."""

    def __init__(self, n_outputs: int) -> None:
        super().__init__()
        self.bias = nn.Parameter(torch.zeros(n_outputs))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.bias.expand(len(x), -1)


class TinyTorch(ModelPlugin):
    """A linear torch model trained for ``EPOCHS`` epochs; ``chance`` makes it ignore its input."""

    EPOCHS = 60
    name, api_version, tasks, family = "tiny", 1, frozenset({"tabular"}), "torch"

    def search_space(self, space: Any) -> None:
        pass

    def build(self, params: Any, problem: Any) -> nn.Module:
        if params.get("chance"):
            return _Chance(problem.n_outputs)
        return nn.Linear(problem.input_shape[0], problem.n_outputs)

    def training(self, params: Any) -> TrainSettings:
        return TrainSettings(epochs=self.EPOCHS, batch_size=64)


def _torch_config(chance: bool = False) -> Config:
    return Config(model=PluginRecord("model", "tiny", "x:y", "t", "1", plugin=TinyTorch()),
                  model_params={"chance": chance}, optimizer=discover().get("optimizer", "adamw"),
                  optimizer_params={"lr": 0.05, "schedule": "constant"})


class _CountingReporter(MemoryReporter):
    def __init__(self) -> None:
        super().__init__()
        self.writes = 0

    def report(self, value: float, step: int) -> None:
        self.writes += 1
        super().report(value, step)


def test_torch_epochs_are_reported_on_a_fixed_schedule_only(blobs: Dataset) -> None:
    metric = get_metric(None, "classification")
    counting = _CountingReporter()
    result = cross_validate(_torch_config(), blobs, make_splits(blobs, 2, 0), metric, FoldReporter(counting, metric),
                            seed=0, device=torch.device("cpu"))
    schedule = [1, 2, 4, 8, 16, 32]  # of 60 epochs; then the fold's end
    assert counting.writes == 2 * (len(schedule) + 1)  # not 2 * (60 + 1)
    assert sorted(counting.reports) == [f * STEP_STRIDE + e for f in range(2) for e in [*schedule, STEP_STRIDE - 1]]
    assert [on_schedule(e) for e in range(1, 10)] == [True, True, False, True, False, False, False, True, False]
    assert counting.reports[fold_end_step(1)] == pytest.approx(result.mean)


def test_pruning_still_stops_a_bad_torch_trial_at_its_first_reported_epoch(blobs: Dataset) -> None:
    metric = get_metric(None, "classification")
    study = optuna.create_study(direction="maximize",
                                pruner=optuna.pruners.MedianPruner(n_startup_trials=1, n_warmup_steps=0))
    splits = make_splits(blobs, 3, 0)

    def run(chance: bool) -> optuna.trial.FrozenTrial:
        trial = study.ask()
        try:
            result = cross_validate(_torch_config(chance), blobs, splits, metric,
                                    FoldReporter(OptunaReporter(trial), metric), seed=0, device=torch.device("cpu"))
        except TrialStopped:
            return study.tell(trial, state=optuna.trial.TrialState.PRUNED)
        return study.tell(trial, result.mean)

    good, bad = run(chance=False), run(chance=True)
    assert good.state == optuna.trial.TrialState.COMPLETE and good.value > 0.9
    assert bad.state == optuna.trial.TrialState.PRUNED and list(bad.intermediate_values) == [1]


@pytest.mark.parametrize("reporting", list(Reporting))
def test_fold_scores_are_recovered_from_the_reports_of_every_scheme(reporting: Reporting) -> None:
    data = _unique_rows(80)  # labels unrelated to the features: the folds score differently
    metric = get_metric(None, "classification")
    memory = MemoryReporter()
    result = cross_validate(_torch_config(), data, make_splits(data, 4, 0), metric,
                            FoldReporter(memory, metric, reporting), seed=0, device=torch.device("cpu"))
    assert len(set(result.fold_scores)) > 1
    assert fold_scores_of(memory.reports, reporting) == pytest.approx(result.fold_scores)
    assert (len(memory.reports) > 4) == (reporting is Reporting.RUNNING)  # only it reports torch epochs


def test_per_fold_reports_are_each_folds_own_score_at_steps_0_to_k() -> None:
    data = _unique_rows(80)
    metric = get_metric(None, "classification")
    memory = MemoryReporter()
    result = cross_validate(_config(), data, make_splits(data, 4, 0), metric,
                            FoldReporter(memory, metric, Reporting.PER_FOLD), seed=0)
    assert len(set(result.fold_scores)) > 1 and memory.reports == dict(enumerate(result.fold_scores))
