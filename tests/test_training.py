from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pytest
import torch
from torch import nn

from automl.exceptions import PluginError
from automl.protocols import API_VERSION, ModelPlugin, Problem, RegularizerPlugin, TrainSettings
from automl.registry import PluginRecord, discover
from automl.space import Config
from automl.training import SMALL_DATA, as_tensor, budgeted, default_threads, fit_predict


class Linear(ModelPlugin):
    """A minimal torch model plugin: one linear layer behind a dropout placeholder."""

    name = "linear"
    tasks = frozenset({"tabular"})
    family = "torch"
    kinds = frozenset({"classification", "regression"})
    api_version = 1

    def __init__(self, epochs: int = 30) -> None:
        self.epochs = epochs

    def search_space(self, space: Any) -> None:
        pass

    def build(self, params: Any, problem: Problem) -> nn.Module:
        return nn.Sequential(nn.Dropout(0.0), nn.Linear(problem.input_shape[0], problem.n_outputs))

    def training(self, params: Any) -> TrainSettings:
        return TrainSettings(epochs=self.epochs, batch_size=16)


REGISTRY = discover()


def _config(model: Any, optimizer: str = "adamw", lr: float = 0.05, regularizers: dict | None = None) -> Config:
    return Config(
        model=PluginRecord("model", model.name, "x:y", "t", "1", plugin=model),
        model_params={},
        optimizer=REGISTRY.get("optimizer", optimizer),
        optimizer_params={"lr": lr, "schedule": "constant", "momentum": 0.9, "nesterov": False},
        regularizers=[(REGISTRY.get("regularizer", name), params) for name, params in (regularizers or {}).items()],
    )


def _problem(kind: str, n_outputs: int, d: int = 3) -> Problem:
    return Problem("tabular", kind, n_outputs, (d,), None, seed=0)


def _blobs(n: int = 200) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, n)
    X = rng.normal(size=(n, 3)).astype(np.float32) + (y[:, None] * 4.0 - 2.0)
    return X, y


def test_classifier_learns_and_returns_probability_rows() -> None:
    X, y = _blobs()
    proba = fit_predict(_config(Linear()), _problem("classification", 2), X[:150], y[:150], X[150:],
                        device=torch.device("cpu"))
    assert proba.shape == (50, 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-5)
    assert (proba.argmax(axis=1) == y[150:]).mean() > 0.9


def test_regression_answers_in_the_target_units() -> None:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 3)).astype(np.float32)
    y = 1000.0 + 50.0 * X @ np.array([1.0, -2.0, 0.5])
    pred = fit_predict(_config(Linear(epochs=60)), _problem("regression", 1), X[:240], y[:240], X[240:],
                       device=torch.device("cpu"))
    rmse = float(np.sqrt(np.mean((pred - y[240:]) ** 2)))
    assert pred.shape == (60,)
    assert rmse < 0.1 * float(np.std(y))


def test_same_seed_same_result() -> None:
    X, y = _blobs()
    runs = [fit_predict(_config(Linear(epochs=3)), _problem("classification", 2), X[:150], y[:150], X[150:],
                        device=torch.device("cpu")) for _ in range(2)]
    np.testing.assert_array_equal(runs[0], runs[1])


def test_epoch_callback_sees_validation_outputs_every_epoch() -> None:
    X, y = _blobs()
    seen: list[tuple[int, tuple[int, ...]]] = []
    fit_predict(_config(Linear(epochs=4)), _problem("classification", 2), X[:150], y[:150], X[150:],
                device=torch.device("cpu"), on_epoch=lambda epoch, out: seen.append((epoch, out.shape)))
    assert seen == [(e, (50, 2)) for e in range(1, 5)]


def test_early_stopping_stops_after_patience_epochs_without_improvement() -> None:
    X, y = _blobs()
    epochs: list[int] = []
    # lr 0: the inner-validation loss never improves after the first epoch
    fit_predict(_config(Linear(epochs=50), lr=0.0, regularizers={"early_stopping": {"patience": 2}}),
                _problem("classification", 2), X[:150], y[:150], X[150:], device=torch.device("cpu"),
                on_epoch=lambda epoch, out: epochs.append(epoch))
    assert epochs == [1, 2, 3]


def test_weight_decay_and_dropout_reach_optimizer_and_module(monkeypatch: pytest.MonkeyPatch) -> None:
    built: dict[str, Any] = {}
    original = torch.optim.AdamW

    def spy(*args: Any, **kwargs: Any) -> torch.optim.Optimizer:
        built["weight_decay"] = kwargs["weight_decay"]
        return original(*args, **kwargs)

    class Recording(Linear):
        def build(self, params: Any, problem: Problem) -> nn.Module:
            built["module"] = super().build(params, problem)
            return built["module"]

    monkeypatch.setattr(torch.optim, "AdamW", spy)
    X, y = _blobs()
    fit_predict(_config(Recording(epochs=1), regularizers={"weight_decay": {"weight_decay": 0.03},
                                                            "dropout": {"rate": 0.25}}),
                _problem("classification", 2), X, y, X, device=torch.device("cpu"))
    assert built["weight_decay"] == 0.03
    assert built["module"][0].p == 0.25


def test_weight_decay_is_zero_when_its_regularizer_is_off(monkeypatch: pytest.MonkeyPatch) -> None:
    decays: list[float] = []
    original = torch.optim.AdamW
    monkeypatch.setattr(torch.optim, "AdamW", lambda *a, **k: decays.append(k["weight_decay"]) or original(*a, **k))
    X, y = _blobs()
    fit_predict(_config(Linear(epochs=1)), _problem("classification", 2), X, y, X, device=torch.device("cpu"))
    assert decays == [0.0]


def test_dropout_on_a_model_without_dropout_fails_loudly() -> None:
    class NoDropout(Linear):
        def build(self, params: Any, problem: Problem) -> nn.Module:
            return nn.Linear(problem.input_shape[0], problem.n_outputs)

    X, y = _blobs()
    with pytest.raises(ValueError, match="has no nn.Dropout layer"):
        fit_predict(_config(NoDropout(), regularizers={"dropout": {"rate": 0.2}}), _problem("classification", 2),
                    X, y, X, device=torch.device("cpu"))


def test_diverging_loss_fails_the_fold() -> None:
    X, y = _blobs()
    X = X * 1e30
    with pytest.raises(FloatingPointError, match="training loss became"):
        fit_predict(_config(Linear(), optimizer="sgd", lr=0.5), _problem("classification", 2), X, y, X,
                    device=torch.device("cpu"))


def test_build_must_return_a_module() -> None:
    class NotAModule(Linear):
        def build(self, params: Any, problem: Problem) -> Any:
            return "nope"

    X, y = _blobs()
    with pytest.raises(PluginError, match="build\\(\\) returned str, not nn.Module"):
        fit_predict(_config(NotAModule()), _problem("classification", 2), X, y, X, device=torch.device("cpu"))


class _Recorder(RegularizerPlugin):
    """Records what the training loop hands to the batch, loss and gradient hooks."""

    name = "recorder"
    api_version = API_VERSION

    def __init__(self) -> None:
        self.batches: list[tuple[int, torch.Tensor]] = []
        self.backward_calls = 0

    def search_space(self, space: Any) -> None:
        pass

    def loss_options(self, params: Any) -> dict:
        return {"label_smoothing": params["smoothing"]}

    def transform_batch(self, params: Any, X: torch.Tensor, Y: torch.Tensor,
                        generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        self.batches.append((len(X), Y.clone()))
        return X, Y

    def after_backward(self, params: Any, module: nn.Module) -> None:
        self.backward_calls += 1
        assert all(p.grad is not None for p in module.parameters() if p.requires_grad)


def test_regularizer_hooks_see_training_batches_with_probability_targets(monkeypatch: pytest.MonkeyPatch) -> None:
    losses: list[dict] = []
    original = torch.nn.CrossEntropyLoss
    monkeypatch.setattr(torch.nn, "CrossEntropyLoss", lambda **kw: losses.append(kw) or original(**kw))
    recorder = _Recorder()
    config = _config(Linear(epochs=2))
    config.regularizers.append((PluginRecord("regularizer", "recorder", "x:y", "t", "1", plugin=recorder),
                                {"smoothing": 0.2}))
    X, y = _blobs(100)
    fit_predict(config, _problem("classification", 2), X[:80], y[:80], X[80:], device=torch.device("cpu"))
    assert losses == [{"label_smoothing": 0.2}]
    assert sum(n for n, _ in recorder.batches) == 2 * 80  # every training row, twice; no validation row
    assert recorder.backward_calls == len(recorder.batches) == 2 * 5  # 80 rows / batch 16
    targets = torch.cat([Y for _, Y in recorder.batches])
    assert targets.shape[1] == 2 and torch.allclose(targets.sum(1), torch.ones(len(targets)))


class _OwnOptimizer(Linear):
    """A torch model that builds its own optimizer (as a fine-tuning plugin does)."""

    owns_optimizer = True

    def __init__(self) -> None:
        super().__init__(epochs=3)
        self.calls: list[tuple[dict, int]] = []

    def build_optimizer(self, params: Any, module: nn.Module, overrides: Any, total_steps: int) -> Any:
        self.calls.append((dict(overrides), total_steps))
        optimizer = torch.optim.SGD(module.parameters(), lr=0.1, weight_decay=overrides.get("weight_decay", 0.0))
        return optimizer, torch.optim.lr_scheduler.LinearLR(optimizer, 1.0, 0.1, total_iters=total_steps)


def test_a_model_owning_its_optimizer_builds_it_with_the_regularizers_overrides() -> None:
    X, y = _blobs()
    model = _OwnOptimizer()
    config = Config(model=PluginRecord("model", model.name, "x:y", "t", "1", plugin=model), model_params={},
                    regularizers=[(REGISTRY.get("regularizer", "weight_decay"), {"weight_decay": 1e-3})])
    proba = fit_predict(config, _problem("classification", 2), X[:150], y[:150], X[150:], device=torch.device("cpu"))
    assert (proba.argmax(axis=1) == y[150:]).mean() > 0.9
    assert model.calls == [({"weight_decay": 1e-3}, 3 * 10)]  # 3 epochs x ceil(150 / 16) batches


class _SmallSteps(Linear):
    """A model asking for a tenth of the optimizer's searched learning rate, or ``scale`` when given."""

    def __init__(self, scale: Any = 0.1) -> None:
        super().__init__(epochs=2)
        self.scale = scale
        self.seen: list[Any] = []

    def lr_scale(self, params: Any) -> Any:
        self.seen.append(params)
        return self.scale


def _step_lrs(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The learning rate of every parameter group at every AdamW step, recorded as the steps happen."""
    lrs: list[float] = []
    original = torch.optim.AdamW.step

    def step(self: torch.optim.Optimizer, *args: Any, **kwargs: Any) -> Any:
        lrs.extend(float(group["lr"]) for group in self.param_groups)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(torch.optim.AdamW, "step", step)
    return lrs


@pytest.mark.parametrize(("model", "expected"), [(Linear(epochs=2), 0.05), (_SmallSteps(), 0.005)],
                         ids=["default", "scaled"])
def test_a_models_lr_scale_reaches_the_optimizers_learning_rate(monkeypatch: pytest.MonkeyPatch, model: Any,
                                                                 expected: float) -> None:
    lrs = _step_lrs(monkeypatch)
    config = _config(model, lr=0.05)
    config.model_params = {"width": 8}
    X, y = _blobs(64)
    fit_predict(config, _problem("classification", 2), X, y, X, device=torch.device("cpu"))
    assert len(lrs) == 2 * 4 and lrs == pytest.approx([expected] * 8)
    assert config.optimizer_params["lr"] == 0.05  # the searched value itself is unchanged
    if isinstance(model, _SmallSteps):
        assert model.seen == [{"width": 8}]  # once per fold, with the model's own parameters


def test_the_schedule_starts_from_the_scaled_learning_rate(monkeypatch: pytest.MonkeyPatch) -> None:
    lrs = _step_lrs(monkeypatch)
    config = _config(_SmallSteps(), lr=0.05)
    config.optimizer_params["schedule"] = "cosine"
    X, y = _blobs(64)
    fit_predict(config, _problem("classification", 2), X, y, X, device=torch.device("cpu"))
    assert lrs[0] == pytest.approx(0.005) and lrs[-1] < lrs[0] and max(lrs) == pytest.approx(0.005)


@pytest.mark.parametrize("scale", [0.0, -1.0, float("nan"), "0.1", True])
def test_an_invalid_lr_scale_fails_the_fold(scale: Any) -> None:
    X, y = _blobs(64)
    with pytest.raises(PluginError, match="lr_scale\\(\\) returned .*, not a positive finite number"):
        fit_predict(_config(_SmallSteps(scale)), _problem("classification", 2), X, y, X, device=torch.device("cpu"))


def _steps_and_epochs(monkeypatch: pytest.MonkeyPatch, model: Linear, X: np.ndarray, y: np.ndarray) -> tuple[int, int]:
    """Train ``model`` on all of ``X``; the optimizer steps taken and the epochs reported."""
    steps, epochs = [0], []
    original = torch.optim.AdamW.step

    def step(self: torch.optim.Optimizer, *args: Any, **kwargs: Any) -> Any:
        steps[0] += 1
        return original(self, *args, **kwargs)

    monkeypatch.setattr(torch.optim.AdamW, "step", step)
    fit_predict(_config(model), _problem("classification", 2), X, y, X[:10], device=torch.device("cpu"),
                on_epoch=lambda epoch, out: epochs.append(epoch))
    return steps[0], len(epochs)


def test_the_step_budget_caps_the_optimizer_steps_of_a_big_fold(monkeypatch: pytest.MonkeyPatch) -> None:
    rows = 50_000  # 30 epochs at batch size 16 would be 93,750 steps
    X, y = _blobs(rows)
    steps, epochs = _steps_and_epochs(monkeypatch, Linear(epochs=30), X, y)
    budget = TrainSettings()
    assert epochs == round(30 * budget.epoch_rows / rows) < 30
    assert budget.max_steps // 2 < steps <= budget.max_steps


def test_a_small_fold_within_the_budget_trains_as_the_model_says(monkeypatch: pytest.MonkeyPatch) -> None:
    X, y = _blobs(160)
    assert _steps_and_epochs(monkeypatch, Linear(epochs=4), X, y) == (4 * 10, 4)  # 160 rows / batch 16


@pytest.mark.parametrize(("settings", "rows", "expected"), [
    (TrainSettings(epochs=60, batch_size=16), 455, (60, 32)),  # tiny data: larger batches, every epoch
    (TrainSettings(epochs=60, batch_size=128), 455, (60, 128)),  # within the budget: unchanged
    (TrainSettings(epochs=59, batch_size=32), 160_000, (7, 1152)),  # big data: fewer epochs, larger batches
    (TrainSettings(epochs=10, batch_size=32), 160_000, (1, 160)),  # at least one epoch
    (TrainSettings(epochs=59, batch_size=32, epoch_rows=None, max_steps=None), 160_000, (59, 32)),  # rules off
    (TrainSettings(epochs=5, batch_size=512), 100, (5, 100)),  # a batch never exceeds the fold
    (TrainSettings(epochs=2000, batch_size=16), 100, (2000, 100)),  # more epochs than steps: one batch each
])
def test_budgeted_settings(settings: TrainSettings, rows: int, expected: tuple[int, int]) -> None:
    fitted = budgeted(settings, rows)
    assert (fitted.epochs, fitted.batch_size) == expected
    if settings.max_steps is not None and settings.epochs <= settings.max_steps:
        assert fitted.epochs * -(-rows // fitted.batch_size) <= settings.max_steps


def test_budgeted_settings_keep_the_ranking_of_epochs_and_batch_sizes() -> None:
    for rows in (100, 455, 5_000, 60_000, 1_000_000):
        epochs = [budgeted(TrainSettings(epochs=e, batch_size=32), rows).epochs for e in range(1, 61)]
        batches = [budgeted(TrainSettings(epochs=30, batch_size=b), rows).batch_size for b in (16, 32, 64, 128)]
        assert epochs == sorted(epochs) and batches == sorted(batches)


def test_one_thread_for_small_data_and_torchs_default_for_big_data() -> None:
    table = np.broadcast_to(np.float32(0), (455, 30))  # breast_cancer's training fold
    assert default_threads(table, len(table)) == 1
    assert default_threads(np.array(["a text"] * 11_000), 11_000) == 1  # a text counts as one value
    big = np.broadcast_to(np.float32(0), (160_000, 20))
    assert default_threads(big, len(big)) is None
    assert default_threads(big, SMALL_DATA // 20) == 1


@pytest.mark.parametrize(("rows", "dtype"), [(np.arange(6, dtype=np.int32), torch.long),
                                             (np.ones(6, dtype=np.float32), torch.float32),
                                             (np.ones(6, dtype=np.float64), torch.float32)])
def test_read_only_rows_become_a_writable_tensor_of_the_modules_dtype(rows: np.ndarray, dtype: torch.dtype) -> None:
    """Cached fold features are read-only: torch must get its own copy (no warning, no shared memory)."""
    rows = rows.reshape(3, 2)
    rows.flags.writeable = False
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        tensor = as_tensor(rows)
    assert tensor.dtype == dtype and tensor.tolist() == rows.tolist()
    tensor += 1  # its own memory: the cached rows are untouched
    assert tensor.tolist() != rows.tolist()
