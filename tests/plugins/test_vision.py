"""The vision model plugins: conformance, digits accuracy, shapes, dropout placeholders."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
import torch
from automl_plugins.vision._networks import BasicBlock
from automl_plugins.vision.mlp import VisionMLP
from automl_plugins.vision.pixel_svc import PixelSVC
from automl_plugins.vision.resnet import ResNet
from automl_plugins.vision.small_cnn import SmallCNN
from torch import nn

import automl
from automl.cv import FoldReporter, cross_validate, make_splits
from automl.datasets import Dataset, load_dataset
from automl.metrics import get_metric
from automl.protocols import ModelPlugin, Problem
from automl.registry import PluginRecord
from automl.reporter import MemoryReporter
from automl.space import Config
from automl.testing import check_plugin

REGISTRY = automl.discover()


@pytest.fixture(autouse=True)
def one_thread() -> Iterator[None]:
    """Tiny convolutions run several times faster on one thread than on two busy cores."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def digits() -> Dataset:
    return load_dataset("vision")


def holdout_accuracy(plugin: ModelPlugin, params: dict[str, Any], data: Dataset, lr: float) -> float:
    """Accuracy on the first of 3 stratified folds (a third of the rows), trained on the rest with AdamW."""
    metric = get_metric(None, data.kind)
    config = Config(model=PluginRecord("model", plugin.name, "x:y", "test", None, plugin=plugin), model_params=params)
    if plugin.family == "torch":
        config.optimizer = REGISTRY.get("optimizer", "adamw")
        config.optimizer_params = {"lr": lr, "schedule": "constant"}
    result = cross_validate(config, data, make_splits(data, 3, 0)[:1], metric, FoldReporter(MemoryReporter(), metric),
                            seed=0, device=torch.device("cpu"))
    return result.mean


def problem(shape: tuple[int, ...], outputs: int = 10) -> Problem:
    return Problem("vision", "classification", outputs, shape, None, 0)


def count(module: nn.Module, kind: type) -> int:
    return sum(isinstance(m, kind) for m in module.modules())


@pytest.mark.parametrize("plugin", [VisionMLP(), ResNet()], ids=lambda p: p.name)
def test_conformance(plugin: ModelPlugin) -> None:
    assert "vision/classification" in check_plugin(plugin, "model", n_samples=3).detail


def test_vision_mlp_learns_digits(digits: Dataset) -> None:
    params = {"depth": 1, "width": 128, "epochs": 15, "batch_size": 64}
    majority = np.bincount(digits.y).max() / len(digits)  # 0.10
    assert holdout_accuracy(VisionMLP(), params, digits, lr=3e-3) > majority + 0.8  # ~0.97


def test_small_cnn_learns_digits(digits: Dataset) -> None:
    params = {"depth": 2, "width": 16, "epochs": 8, "batch_size": 64}
    majority = np.bincount(digits.y).max() / len(digits)
    assert holdout_accuracy(SmallCNN(), params, digits, lr=3e-3) > majority + 0.8


def test_pixel_svc_learns_digits(digits: Dataset) -> None:
    majority = np.bincount(digits.y).max() / len(digits)
    assert holdout_accuracy(PixelSVC(), {"C": 10.0, "gamma": 1e-3}, digits, lr=0.0) > majority + 0.8


def test_resnet_learns_digits(digits: Dataset) -> None:
    params = {"width": 8, "stages": 2, "blocks": 1, "epochs": 5, "batch_size": 64}
    majority = np.bincount(digits.y).max() / len(digits)
    assert holdout_accuracy(ResNet(), params, digits, lr=3e-3) > majority + 0.8  # ~0.97


@pytest.mark.parametrize("depth", [1, 3])
def test_vision_mlp_has_a_dropout_placeholder_per_block(depth: int) -> None:
    params = {"depth": depth, "width": 64, "epochs": 1, "batch_size": 32}
    module = VisionMLP().build(params, problem((3, 16, 12), outputs=4))
    assert count(module, nn.Linear) == depth + 1 and count(module, nn.Dropout) == depth
    assert all(m.p == 0.0 for m in module.modules() if isinstance(m, nn.Dropout))
    assert module(torch.zeros(5, 3, 16, 12)).shape == (5, 4)
    assert VisionMLP().training(params).batch_size == 32


@pytest.mark.parametrize(("shape", "stages", "downsamples"), [
    ((1, 8, 8), 1, 0),  # one stage never downsamples
    ((1, 8, 8), 3, 1),  # 8 -> 4, then the map is too small to halve again
    ((3, 32, 32), 3, 2),  # 32 -> 16 -> 8
    ((3, 40, 24), 3, 2),  # the smaller side decides: 24 -> 12 -> 6
])
def test_resnet_downsamples_while_the_map_is_at_least_8_px(shape: tuple[int, ...], stages: int,
                                                            downsamples: int) -> None:
    params = {"width": 8, "stages": stages, "blocks": 2, "epochs": 1, "batch_size": 32}
    module = ResNet().build(params, problem(shape))
    blocks = [m for m in module.modules() if isinstance(m, BasicBlock)]
    assert len(blocks) == 2 * stages
    assert sum(b.body[0].stride == (2, 2) for b in blocks) == downsamples
    assert module(torch.zeros(2, *shape)).shape == (2, 10)


def test_resnet_shortcuts_project_only_when_the_shape_changes() -> None:
    params = {"width": 8, "stages": 2, "blocks": 2, "epochs": 1, "batch_size": 32}
    module = ResNet().build(params, problem((1, 8, 8)))
    blocks = [m for m in module.modules() if isinstance(m, BasicBlock)]
    projected = [not isinstance(b.shortcut, nn.Identity) for b in blocks]
    assert projected == [False, False, True, False]  # the second stage's first block: 8 -> 16 channels, 8 -> 4 px
    x = torch.randn(3, 8, 8, 8)
    block = blocks[0].eval()
    with torch.no_grad():  # an identity block adds its input back: zeroing the body leaves relu(x)
        nn.init.zeros_(block.body[4].weight)
        nn.init.zeros_(block.body[4].bias)
        assert torch.equal(block(x), torch.relu(x))


def test_resnet_reduces_large_images_in_the_stem() -> None:
    params = {"width": 8, "stages": 1, "blocks": 1, "epochs": 1, "batch_size": 32}
    module = ResNet().build(params, problem((3, 96, 96), outputs=3))
    features = module[:4](torch.zeros(1, 3, 96, 96))  # strided conv, BN, ReLU, max-pool
    assert features.shape == (1, 8, 24, 24)
    assert module(torch.zeros(2, 3, 96, 96)).shape == (2, 3)


def test_resnet_dropout_regularizer_sets_the_head_dropout() -> None:
    params = {"width": 8, "stages": 2, "blocks": 1, "epochs": 1, "batch_size": 32}
    module = ResNet().build(params, problem((1, 8, 8)))
    dropout = REGISTRY.get("regularizer", "dropout").plugin
    dropout.configure_module({"rate": 0.3}, module)
    assert [m.p for m in module.modules() if isinstance(m, nn.Dropout)] == [0.3]
    assert ResNet().training(params).epochs == 1
