"""Built-in regularizers: conformance, and each new one's effect asserted directly on its hook."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch
from automl_plugins.optimizers import AdamW
from automl_plugins.regularizers import (
    L1,
    Augmentation,
    GradientClipping,
    LabelSmoothing,
    Mixup,
    draw_mixup,
    draw_shifts,
    l1_weights,
    shift_images,
)
from torch import nn

from automl.protocols import ModelPlugin, Problem, TrainSettings
from automl.registry import PluginRecord
from automl.space import Config
from automl.testing import check_plugin
from automl.training import fit_predict

NEW = [L1, LabelSmoothing, GradientClipping, Mixup, Augmentation]


def _gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


@pytest.mark.parametrize("plugin", NEW, ids=lambda p: p.name)
def test_conformance(plugin: type) -> None:
    check_plugin(plugin(), "regularizer", n_samples=3)


def test_tasks_and_kinds() -> None:
    assert L1.tasks is None and GradientClipping.tasks is None and L1.kinds is None
    # acts on the classification loss only: never offered where it would do nothing
    assert LabelSmoothing.tasks is None and LabelSmoothing.kinds == {"classification"}
    assert Mixup.tasks == {"vision", "tabular"}
    assert Augmentation.tasks == {"vision"}


# --- l1 ---------------------------------------------------------------------------------------------------------

def test_l1_penalty_is_strength_times_abs_sum_of_weight_matrices_and_kernels() -> None:
    torch.manual_seed(0)
    module = nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2), nn.Flatten(), nn.LayerNorm(2 * 4 * 4),
                           nn.Linear(32, 3), nn.Embedding(5, 2))
    with torch.no_grad():  # make the parameters that must be left out large, so including them would show
        for m in (module[1], module[3]):
            m.weight.fill_(100.0)
            m.bias.fill_(100.0)
    conv, linear, embedding = module[0], module[4], module[5]
    assert {id(p) for p in l1_weights(module)} == {id(conv.weight), id(linear.weight), id(embedding.weight)}
    penalty = L1().loss_penalty({"strength": 1e-3}, module)
    expected = 1e-3 * (conv.weight.abs().sum() + linear.weight.abs().sum() + embedding.weight.abs().sum())
    assert penalty.item() == pytest.approx(expected.item(), rel=1e-6)
    penalty.backward()  # the gradient is strength * sign(w) on the weights, nothing on biases
    torch.testing.assert_close(linear.weight.grad, 1e-3 * linear.weight.sign())
    assert linear.bias.grad is None and module[1].weight.grad is None


def test_l1_leaves_multidimensional_norm_scales_alone() -> None:
    module = nn.Sequential(nn.LayerNorm((2, 3)), nn.Flatten(), nn.Linear(6, 1))
    assert [p.shape for p in l1_weights(module)] == [torch.Size([1, 6])]


def test_l1_on_a_module_without_weights_fails_loudly() -> None:
    with pytest.raises(ValueError, match="no weight matrix"):
        L1().loss_penalty({"strength": 1e-4}, nn.Sequential(nn.ReLU()))


# --- label smoothing --------------------------------------------------------------------------------------------

class _Tiny(ModelPlugin):
    name = "tiny"
    tasks = frozenset({"tabular"})
    family = "torch"
    kinds = frozenset({"classification", "regression"})
    api_version = 1

    def search_space(self, space: Any) -> None:
        pass

    def build(self, params: Any, problem: Problem) -> nn.Module:
        return nn.Sequential(nn.Linear(problem.input_shape[0], problem.n_outputs))

    def training(self, params: Any) -> TrainSettings:
        return TrainSettings(epochs=1, batch_size=16)


def _record(kind: str, plugin: Any) -> PluginRecord:
    return PluginRecord(kind, plugin.name, "x:y", "t", "1", plugin=plugin)


def test_label_smoothing_reaches_the_cross_entropy_loss(monkeypatch: pytest.MonkeyPatch) -> None:
    assert LabelSmoothing().loss_options({"label_smoothing": 0.15}) == {"label_smoothing": 0.15}
    losses: list[dict] = []
    original = torch.nn.CrossEntropyLoss
    monkeypatch.setattr(torch.nn, "CrossEntropyLoss", lambda **kw: losses.append(kw) or original(**kw))
    config = Config(model=_record("model", _Tiny()), model_params={}, optimizer=_record("optimizer", AdamW()),
                    optimizer_params={"lr": 0.01, "schedule": "constant"},
                    regularizers=[(_record("regularizer", LabelSmoothing()), {"label_smoothing": 0.15})])
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(40, 3)).astype(np.float32), np.arange(40) % 3
    fit_predict(config, Problem("tabular", "classification", 3, (3,), None, seed=0), X, y, X,
                device=torch.device("cpu"))
    assert losses == [{"label_smoothing": 0.15}]


# --- gradient clipping ------------------------------------------------------------------------------------------

def _grad_norm(module: nn.Module) -> float:
    return float(torch.linalg.vector_norm(torch.stack([p.grad.norm() for p in module.parameters()])))


def test_gradient_clipping_bounds_the_gradient_norm() -> None:
    torch.manual_seed(0)
    module = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 1))
    (module(torch.randn(16, 4) * 10).pow(2).mean() * 100).backward()
    before = _grad_norm(module)
    assert before > 1.0
    directions = [p.grad / before for p in module.parameters()]
    GradientClipping().after_backward({"max_norm": 0.5}, module)
    assert _grad_norm(module) == pytest.approx(0.5, rel=1e-4)
    for p, d in zip(module.parameters(), directions, strict=True):  # rescaled, not redirected
        torch.testing.assert_close(p.grad / 0.5, d, rtol=1e-4, atol=1e-6)


# --- mixup ------------------------------------------------------------------------------------------------------

def _classification_batch(n: int = 32, classes: int = 3) -> tuple[torch.Tensor, torch.Tensor]:
    X = torch.randn(n, 1, 4, 4, generator=_gen(7))
    Y = nn.functional.one_hot(torch.arange(n) % classes, classes).float()
    return X, Y


def test_mixup_rows_are_convex_combinations_of_row_pairs() -> None:
    X, Y = _classification_batch()
    Xm, Ym = Mixup().transform_batch({"alpha": 0.4}, X, Y, _gen(3))
    lam, perm = draw_mixup(0.4, len(X), _gen(3))  # the same generator state draws the same mix
    assert 0.0 < lam < 1.0 and sorted(perm.tolist()) == list(range(len(X)))
    assert not torch.equal(perm, torch.arange(len(X)))
    torch.testing.assert_close(Xm, lam * X + (1 - lam) * X[perm])
    torch.testing.assert_close(Ym, lam * Y + (1 - lam) * Y[perm])
    torch.testing.assert_close(Ym.sum(1), torch.ones(len(Y)))
    assert (Ym >= 0).all() and not torch.equal(Xm, X)


def test_mixup_mixes_regression_targets() -> None:
    X, y = torch.randn(20, 4, generator=_gen(1)), torch.randn(20, 1, generator=_gen(2))
    Xm, ym = Mixup().transform_batch({"alpha": 1.0}, X, y, _gen(5))
    lam, perm = draw_mixup(1.0, 20, _gen(5))
    assert ym.shape == (20, 1)
    torch.testing.assert_close(ym, lam * y + (1 - lam) * y[perm])
    torch.testing.assert_close(Xm, lam * X + (1 - lam) * X[perm])


def test_mixup_is_reproducible_with_the_generator() -> None:
    X, Y = _classification_batch()
    first = Mixup().transform_batch({"alpha": 0.4}, X, Y, _gen(11))
    again = Mixup().transform_batch({"alpha": 0.4}, X, Y, _gen(11))
    other = Mixup().transform_batch({"alpha": 0.4}, X, Y, _gen(12))
    assert all(torch.equal(a, b) for a, b in zip(first, again, strict=True))
    assert not torch.equal(first[0], other[0])


def test_mixup_lambda_follows_beta_alpha_alpha() -> None:
    generator = _gen(0)
    small = np.array([draw_mixup(0.1, 2, generator)[0] for _ in range(2000)])
    uniform = np.array([draw_mixup(1.0, 2, generator)[0] for _ in range(2000)])
    assert ((small < 0.05) | (small > 0.95)).mean() > 0.6  # Beta(0.1, 0.1) piles up at the ends
    assert abs(uniform.mean() - 0.5) < 0.03 and abs(uniform.var() - 1 / 12) < 0.01  # Beta(1, 1) is uniform


def test_mixup_refuses_integer_inputs() -> None:
    with pytest.raises(TypeError, match="cannot mix"):
        Mixup().transform_batch({"alpha": 0.4}, torch.zeros(4, 3, dtype=torch.long), torch.ones(4, 2), _gen())


# --- augmentation -----------------------------------------------------------------------------------------------

def _dots(n: int, size: int = 16, row: int = 7, col: int = 3) -> torch.Tensor:
    """``n`` two-channel images, each black but for one white pixel (both channels)."""
    X = torch.zeros(n, 2, size, size)
    X[:, :, row, col] = 1.0
    return X


def _positions(X: torch.Tensor) -> list[tuple[int, int]]:
    """Where the white pixel of each image ended up (the same in both channels)."""
    out = []
    for image in X:
        assert torch.equal(image[0], image[1])
        (row, col), = torch.nonzero(image[0]).tolist()
        out.append((row, col))
    return out


@pytest.mark.parametrize("max_shift", [1, 3])
def test_augmentation_shifts_by_at_most_max_shift_without_flipping(max_shift: int) -> None:
    X, Y = _dots(400), torch.rand(400, 2)
    Xa, Ya = Augmentation().transform_batch({"max_shift": max_shift, "flip": False}, X, Y, _gen(0))
    assert Xa.shape == X.shape and Xa.dtype == X.dtype and Ya is Y
    moves = {(row - 7, col - 3) for row, col in _positions(Xa)}
    every = {(dy, dx) for dy in range(-max_shift, max_shift + 1) for dx in range(-max_shift, max_shift + 1)}
    assert moves == every  # every shift within the bound, nothing beyond (no mirrored column either)


def test_augmentation_flips_only_when_chosen() -> None:
    X = _dots(400)
    Xa, _ = Augmentation().transform_batch({"max_shift": 1, "flip": True}, X, torch.rand(400, 2), _gen(0))
    cols = [col for _, col in _positions(Xa)]
    mirrored = sum(col >= 12 for col in cols)  # 15 - 3 = 12, give or take one pixel
    assert all(col <= 4 or 11 <= col <= 13 for col in cols)
    assert 120 < mirrored < 280  # about half


def test_augmentation_is_reproducible_and_fills_with_zeros() -> None:
    X = torch.rand(64, 3, 8, 8, generator=_gen(4)) + 1.0  # no zero pixel before
    params = {"max_shift": 2, "flip": True}
    first, _ = Augmentation().transform_batch(params, X, torch.rand(64, 2), _gen(9))
    again, _ = Augmentation().transform_batch(params, X, torch.rand(64, 2), _gen(9))
    assert torch.equal(first, again)
    dy, dx, flipped = draw_shifts(64, 2, True, _gen(9))  # the draws the transform made
    expected = shift_images(X, dy, dx)
    expected = torch.where(flipped[:, None, None, None], expected.flip(-1), expected)
    assert torch.equal(first, expected)
    zeros = (first == 0).flatten(1).sum(1)  # uncovered pixels are zero: (|dy| * 8 + |dx| * 8 - |dy||dx|) * 3
    assert torch.equal(zeros, (dy.abs() * 8 + dx.abs() * 8 - dy.abs() * dx.abs()) * 3)


def test_shift_images_matches_rolling_an_image_with_a_black_border() -> None:
    X = torch.zeros(1, 1, 10, 10)
    X[0, 0, 3:7, 3:7] = torch.arange(16.0).reshape(4, 4) + 1
    out = shift_images(X, torch.tensor([2]), torch.tensor([-1]))
    assert torch.equal(out, torch.roll(X, shifts=(2, -1), dims=(2, 3)))


def test_augmentation_refuses_non_image_batches() -> None:
    with pytest.raises(TypeError, match="image batches"):
        Augmentation().transform_batch({"max_shift": 1, "flip": False}, torch.zeros(4, 3), torch.ones(4, 2), _gen())
