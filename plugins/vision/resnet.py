"""A small residual network (torch): basic blocks in stages, global average pooling, a linear head."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

from automl.protocols import API_VERSION, ModelPlugin, ParamSpace, Problem, TrainSettings


class BasicBlock(nn.Module):
    """conv3x3-BN-ReLU-conv3x3-BN plus a shortcut, then ReLU. The shortcut is the identity, or a strided 1x1
    convolution with BN when the block changes the number of channels or the map size."""

    def __init__(self, channels: int, out: int, stride: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(channels, out, 3, stride=stride, padding=1, bias=False), nn.BatchNorm2d(out), nn.ReLU(),
            nn.Conv2d(out, out, 3, padding=1, bias=False), nn.BatchNorm2d(out),
        )
        self.shortcut: nn.Module = nn.Identity()
        if stride != 1 or channels != out:
            self.shortcut = nn.Sequential(nn.Conv2d(channels, out, 1, stride=stride, bias=False), nn.BatchNorm2d(out))
        self.relu = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.relu(self.body(x) + self.shortcut(x))


def resnet(channels: int, size: int, width: int, stages: int, blocks: int, outputs: int) -> nn.Sequential:
    """The network for ``channels``-channel images whose smaller side is ``size`` pixels.

    Stem: conv3x3-BN-ReLU to ``width`` channels; images of 64 px or more are first reduced 4x (strided conv and
    max-pooling, as in ResNet's stem) so large inputs stay affordable. Stage ``i`` has ``blocks`` basic blocks of
    ``width * 2**i`` channels; every stage after the first halves the map in its first block while the map is
    at least 8 px (so 8x8 digits go 8 -> 4 and stop there).
    """
    if size >= 64:
        layers: list[nn.Module] = [nn.Conv2d(channels, width, 3, stride=2, padding=1, bias=False),
                                   nn.BatchNorm2d(width), nn.ReLU(), nn.MaxPool2d(3, stride=2, padding=1)]
        size = (size + 1) // 2
        size = (size + 1) // 2
    else:
        layers = [nn.Conv2d(channels, width, 3, padding=1, bias=False), nn.BatchNorm2d(width), nn.ReLU()]
    channels = width
    for stage in range(stages):
        out = width * 2**stage
        for block in range(blocks):
            stride = 2 if stage > 0 and block == 0 and size >= 8 else 1
            layers.append(BasicBlock(channels, out, stride))
            size = (size + 1) // 2 if stride == 2 else size
            channels = out
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(0.0), nn.Linear(channels, outputs)]
    return nn.Sequential(*layers)


class ResNet(ModelPlugin):
    """A small ResNet: stem, 1-3 stages of residual basic blocks, global average pooling, Dropout, linear head.

    Space:

    - ``width`` 8-64 log channels in the first stage (doubling per stage): digits need few; 64 with three
      stages of two blocks is already ~2.8M weights, about the most a CPU search can afford per trial.
    - ``stages`` 1-3: each later stage halves the map (while it is at least 8 px) and doubles the channels;
      8x8 digits support one downsampling, larger images more.
    - ``blocks`` 1-2 basic blocks per stage (ResNet-10/18-like depth at most; the residual shortcuts keep
      the deeper choices trainable).
    - ``epochs`` 5-30, ``batch_size`` 32-128: as the plain CNN; batch norm makes short schedules work.

    A ``Dropout(0.0)`` before the head takes the dropout regularizer's rate.
    """

    name = "resnet"
    api_version = API_VERSION
    tasks = frozenset({"vision"})
    family = "torch"

    def search_space(self, space: ParamSpace) -> None:
        space.suggest_int("width", 8, 64, log=True)
        space.suggest_int("stages", 1, 3)
        space.suggest_int("blocks", 1, 2)
        space.suggest_int("epochs", 5, 30)
        space.suggest_categorical("batch_size", [32, 64, 128])

    def build(self, params: Mapping[str, Any], problem: Problem) -> nn.Module:
        channels, height, width = problem.input_shape
        return resnet(channels, min(height, width), params["width"], params["stages"], params["blocks"],
                      problem.n_outputs)

    def training(self, params: Mapping[str, Any]) -> TrainSettings:
        return TrainSettings(epochs=params["epochs"], batch_size=params["batch_size"])
