"""The backend-neutral trial runner: parameters, a reporter and resources in; fold result and attributes out."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.linear_model import LogisticRegression

from automl import training
from automl.cv import STEP_STRIDE, make_splits
from automl.datasets import Dataset
from automl.devices import trial_device
from automl.exceptions import TrialStopped
from automl.metrics import get_metric
from automl.protocols import API_VERSION, ModelPlugin, TrainSettings
from automl.registry import PluginRecord, discover
from automl.reporter import MemoryReporter
from automl.runner import Resources, TrialRunner
from automl.space import Candidates

FOLDS = 3


class DeviceSpy(TransformerMixin, BaseEstimator):
    """Records the trial device a featurizer sees (what a plugin running torch itself would use)."""

    seen: list[str] = []

    def fit(self, X: Any, y: Any = None) -> DeviceSpy:
        DeviceSpy.seen.append(str(trial_device()))
        return self

    def transform(self, X: Any) -> Any:
        return X


class Model(ModelPlugin):
    name = "m"
    api_version = API_VERSION
    tasks = frozenset({"tabular"})
    family = "sklearn"

    def search_space(self, space: Any) -> None:
        space.suggest_float("C", 0.01, 10.0, log=True)

    def featurizer(self, params: Any) -> DeviceSpy:
        return DeviceSpy()

    def build(self, params: Any, problem: Any) -> Any:
        if params["C"] < 0.02:
            raise ValueError("C too small for this test")
        return LogisticRegression(C=params["C"], random_state=problem.seed)


def _runner(data: Dataset) -> TrialRunner:
    cands = Candidates((PluginRecord("model", "m", "x:y", "d", "1", plugin=Model()),), (), ())
    return TrialRunner(data, make_splits(data, FOLDS, 0), get_metric(None, "classification"), cands, seed=0)


def test_a_run_records_its_folds_and_resources(blobs: Dataset) -> None:
    reporter = MemoryReporter()
    resources = Resources(device="cpu", threads=None, details={"backend": "test", "worker": 3})
    DeviceSpy.seen = []
    result = _runner(blobs).run({"model": "m", "model.m.C": 1.0}, reporter, resources, number=7)
    attrs = reporter.attrs
    assert attrs["fold_scores"] == result.fold_scores and len(result.fold_scores) == FOLDS
    assert attrs["cv_std"] == pytest.approx(np.std(result.fold_scores)) and len(attrs["fit_seconds"]) == FOLDS
    assert {k: attrs["resources"][k] for k in ("device", "threads", "backend", "worker")} == {
        "device": "cpu", "threads": 1, "backend": "test", "worker": 3}  # scikit-learn's default: one thread
    assert sorted(reporter.reports) == [f * STEP_STRIDE + STEP_STRIDE - 1 for f in range(FOLDS)]
    assert DeviceSpy.seen == ["cpu"] * FOLDS
    assert str(trial_device()) == ("cuda" if torch.cuda.is_available() else "cpu")  # outside a trial: auto


class _StopAfterTwo(MemoryReporter):
    def should_stop(self) -> bool:
        return len(self.reports) == 2


def test_a_stop_records_the_folds_done(blobs: Dataset) -> None:
    reporter = _StopAfterTwo()
    with pytest.raises(TrialStopped):
        _runner(blobs).run({"model": "m", "model.m.C": 1.0}, reporter, Resources(), number=0)
    assert len(reporter.attrs["fold_scores"]) == 2 and "cv_std" not in reporter.attrs


def test_a_failure_records_its_reason(blobs: Dataset) -> None:
    reporter = MemoryReporter()
    with pytest.raises(ValueError):
        _runner(blobs).run({"model": "m", "model.m.C": 0.01}, reporter, Resources(), number=0)
    assert reporter.attrs["fail_reason"] == "ValueError: C too small for this test"
    assert reporter.attrs["fold_scores"] == []


class TorchModel(ModelPlugin):
    name = "t"
    api_version = API_VERSION
    tasks = frozenset({"tabular"})
    family = "torch"

    def search_space(self, space: Any) -> None:
        pass

    def build(self, params: Any, problem: Any) -> torch.nn.Module:
        return torch.nn.Linear(problem.input_shape[0], problem.n_outputs)

    def training(self, params: Any) -> TrainSettings:
        return TrainSettings(epochs=1, batch_size=16)


def _torch_threads_recorded(data: Dataset, threads: int | None) -> int:
    adamw = discover().get("optimizer", "adamw")
    cands = Candidates((PluginRecord("model", "t", "x:y", "d", "1", plugin=TorchModel()),), (adamw,), ())
    runner = TrialRunner(data, make_splits(data, FOLDS, 0), get_metric(None, "classification"), cands, seed=0)
    reporter = MemoryReporter()
    params = {"model": "t", "optimizer": "adamw", "optimizer.adamw.lr": 0.01, "optimizer.adamw.schedule": "constant"}
    runner.run(params, reporter, Resources(device="cpu", threads=threads), number=0)
    return reporter.attrs["resources"]["threads"]


def test_a_small_torch_trial_runs_on_one_thread_a_big_one_on_torchs_default(
        blobs: Dataset, monkeypatch: pytest.MonkeyPatch) -> None:
    default = torch.get_num_threads()
    assert _torch_threads_recorded(blobs, None) == 1
    assert _torch_threads_recorded(blobs, 2) == 2  # a thread count the user gave is kept
    monkeypatch.setattr(training, "SMALL_DATA", 0)  # every dataset is big
    assert _torch_threads_recorded(blobs, None) == default
    assert torch.get_num_threads() == default  # restored after each trial
