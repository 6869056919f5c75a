from __future__ import annotations

from typing import Any

import pytest
import torch

from automl.exceptions import ConfigError
from automl.protocols import API_VERSION, ModelPlugin, OptimizerPlugin, RegularizerPlugin
from automl.registry import discover
from automl.testing import PluginCheckError, check_plugin, check_record, synthetic_dataset

REGISTRY = discover()


@pytest.mark.parametrize("record", [r for r in REGISTRY.records if r.builtin], ids=lambda r: f"{r.kind}-{r.name}")
def test_every_builtin_passes_its_conformance_checks(record: Any) -> None:
    result = check_record(record, n_samples=3, builtins=REGISTRY)
    assert result.ok, result.detail


@pytest.mark.parametrize(("task", "kind"), [("nlp", "classification"), ("vision", "classification"),
                                            ("tabular", "classification"), ("tabular", "regression")])
def test_synthetic_datasets(task: str, kind: str) -> None:
    data = synthetic_dataset(task, kind)
    assert (data.task, data.kind, len(data)) == (task, kind, 60)
    assert data.n_outputs == (2 if kind == "classification" else 1)


@pytest.mark.parametrize("task", ["nlp", "vision"])
def test_no_regression_data_for_tasks_that_are_always_classification(task: str) -> None:
    with pytest.raises(ConfigError, match=f"{task} data is always classification"):
        synthetic_dataset(task, "regression")


class _Knn(ModelPlugin):
    name = "knn"
    api_version = API_VERSION
    tasks = frozenset({"tabular"})
    family = "sklearn"

    def search_space(self, space: Any) -> None:
        space.suggest_int("k", 1, 5)

    def build(self, params: Any, problem: Any) -> Any:
        from sklearn.neighbors import KNeighborsClassifier

        return KNeighborsClassifier(n_neighbors=params["k"])


def test_a_good_third_party_model_passes() -> None:
    result = check_plugin(_Knn(), "model", n_samples=2)
    assert result.ok and "tabular/classification" in result.detail


class _BadRange(_Knn):
    def search_space(self, space: Any) -> None:
        space.suggest_int("k", 5, 1)


class _StartsOutOfRange(_Knn):
    starting_points = ({"k": 99},)


class _BuildRaises(_Knn):
    def build(self, params: Any, problem: Any) -> Any:
        raise RuntimeError("cannot build")


class _NoApiVersion(ModelPlugin):
    name = "x"
    tasks = frozenset({"tabular"})
    family = "sklearn"

    def search_space(self, space: Any) -> None:
        pass

    def build(self, params: Any, problem: Any) -> Any:
        return None


class _NoProbabilities(_Knn):
    def build(self, params: Any, problem: Any) -> Any:
        from sklearn.svm import SVC

        return SVC()  # no predict_proba, though the plugin keeps the default probabilities = True


class _NlpRegression(_Knn):
    name = "nlp_ridge"
    tasks = frozenset({"nlp"})
    kinds = frozenset({"classification", "regression"})


class _FeaturizerWithoutParams(_Knn):
    def featurizer(self) -> Any:  # type: ignore[override]
        return None


@pytest.mark.parametrize(("plugin", "message"), [
    (_BadRange(), "parameter 'k': low=5 is greater than high=1"),
    (_NoProbabilities(), "predicts no class probabilities"),
    (_BuildRaises(), "RuntimeError: cannot build"),
    (_StartsOutOfRange(), r"starting_points\[0\]: k=99 is outside its range"),
    (_NoApiVersion(), "declares no api_version"),
    # declarations the engine cannot honour
    (_NlpRegression(), "kinds declares 'regression', but nlp data is always classification"),
    (_FeaturizerWithoutParams(), r"featurizer\(self\) does not take the protocol's arguments: expected "
                                 r"featurizer\(self, params\)"),
])
def test_failing_models_are_reported_with_the_reason(plugin: Any, message: str) -> None:
    with pytest.raises(PluginCheckError, match=message):
        check_plugin(plugin, "model", n_samples=2)


class _NotAnOptimizer(OptimizerPlugin):
    name = "broken_opt"
    api_version = API_VERSION

    def search_space(self, space: Any) -> None:
        space.suggest_float("lr", 1e-3, 1e-1, log=True)

    def build(self, params: Any, parameters: Any, overrides: Any) -> Any:
        return "not an optimizer"


def test_an_optimizer_is_exercised_in_a_real_training_loop() -> None:
    with pytest.raises(PluginCheckError, match="broken_opt"):
        check_plugin(_NotAnOptimizer(), "optimizer", n_samples=1)


def test_a_good_optimizer_passes() -> None:
    class Adagrad(_NotAnOptimizer):
        name = "adagrad"

        def build(self, params: Any, parameters: Any, overrides: Any) -> Any:
            return torch.optim.Adagrad(parameters, lr=params["lr"])

    assert check_plugin(Adagrad(), "optimizer", n_samples=1).ok


def test_a_model_declaring_no_probabilities_is_checked_without_them() -> None:
    class Svc(_NoProbabilities):
        probabilities = False

    assert check_plugin(Svc(), "model", n_samples=1).ok


# -- regularizers: the training batch contract ----------------------------------------------------------------


class _TokenRegularizer(RegularizerPlugin):
    """Applies to every task (declares none), so the kit must exercise it on token-id batches too."""

    name = "token_noise"
    api_version = API_VERSION

    def search_space(self, space: Any) -> None:
        space.suggest_float("rate", 0.1, 0.5)


class _PadInTheMiddle(_TokenRegularizer):
    def transform_batch(self, params: Any, X: Any, Y: Any, generator: Any) -> tuple[Any, Any]:
        if X.is_floating_point():
            return X, Y
        X = X.clone()
        X[:, 0] = 0  # drops each text's first token by padding it: a hole in front of the other ids
        return X, Y


class _FloatTokens(_TokenRegularizer):
    def transform_batch(self, params: Any, X: Any, Y: Any, generator: Any) -> tuple[Any, Any]:
        return X.float(), Y


class _UnnormalizedTargets(_TokenRegularizer):
    def transform_batch(self, params: Any, X: Any, Y: Any, generator: Any) -> tuple[Any, Any]:
        return X, Y * 2.0


class _WordDropout(_TokenRegularizer):
    """Drops the first token of every text the contract's way: the rest shift left, padding stays at the end."""

    tasks = frozenset({"nlp"})

    def transform_batch(self, params: Any, X: Any, Y: Any, generator: Any) -> tuple[Any, Any]:
        return torch.cat([X[:, 1:], torch.zeros_like(X[:, :1])], dim=1), Y


@pytest.mark.parametrize(("plugin", "message"), [
    (_PadInTheMiddle(), "nlp classification: transform_batch put padding \\(id 0\\) before token ids in row 0: a "
                        "token-id row holds its ids first and padding only at its end"),
    (_FloatTokens(), r"nlp classification: transform_batch changed X from torch.int64 \(60, \d+\) to torch.float32"),
    (_UnnormalizedTargets(), "transform_batch returned Y rows that are not class probabilities"),
])
def test_a_regularizer_breaking_the_batch_contract_fails_with_the_reason(plugin: Any, message: str) -> None:
    with pytest.raises(PluginCheckError, match=message):
        check_plugin(plugin, "regularizer", n_samples=1)


def test_a_regularizer_keeping_the_batch_contract_passes() -> None:
    assert check_plugin(_WordDropout(), "regularizer", n_samples=1).detail == "1 draws; fit nlp/classification"


def test_a_regularizer_declaring_no_tasks_is_exercised_on_every_task() -> None:
    result = check_plugin(_TokenRegularizer(), "regularizer", n_samples=1)
    assert result.detail == "1 draws; fit nlp/classification, tabular/classification, vision/classification"
