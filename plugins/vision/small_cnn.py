"""A small convolutional network: conv-BN-ReLU blocks, global average pooling, a linear head."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from automl.protocols import API_VERSION, ModelPlugin, ParamSpace, Problem, TrainSettings

if TYPE_CHECKING:
    from torch import nn


def _network(channels: int, width: int, depth: int, outputs: int, size: int) -> nn.Sequential:
    from torch import nn

    layers: list[nn.Module] = []
    for block in range(depth):
        out = width * 2**block
        layers += [nn.Conv2d(channels, out, 3, padding=1), nn.BatchNorm2d(out), nn.ReLU()]
        if size >= 8:  # halve the map while it stays at least 4x4
            layers.append(nn.MaxPool2d(2))
            size //= 2
        channels = out
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(0.0), nn.Linear(channels, outputs)]
    return nn.Sequential(*layers)


class SmallCNN(ModelPlugin):
    """conv-BN-ReLU blocks (doubling width, 2x2 max-pooling while the map is at least 8 pixels wide).

    Space: ``depth`` 1-3 blocks, ``width`` 8-64 log channels in the first block, ``epochs`` 5-30,
    ``batch_size`` 32-128. Dropout sits before the head (rate from the dropout regularizer).
    """

    name = "small_cnn"
    api_version = API_VERSION
    tasks = frozenset({"vision"})
    family = "torch"

    def search_space(self, space: ParamSpace) -> None:
        space.suggest_int("depth", 1, 3)
        space.suggest_int("width", 8, 64, log=True)
        space.suggest_int("epochs", 5, 30)
        space.suggest_categorical("batch_size", [32, 64, 128])

    def build(self, params: Mapping[str, Any], problem: Problem) -> nn.Module:
        channels, height, width = problem.input_shape
        return _network(channels, params["width"], params["depth"], problem.n_outputs, min(height, width))

    def training(self, params: Mapping[str, Any]) -> TrainSettings:
        return TrainSettings(epochs=params["epochs"], batch_size=params["batch_size"])
