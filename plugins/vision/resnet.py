"""A small residual network (torch): basic blocks in stages, global average pooling, a linear head."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from automl.protocols import API_VERSION, ModelPlugin, ParamSpace, Problem, TrainSettings

if TYPE_CHECKING:
    from torch import nn


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
        from ._networks import resnet

        channels, height, width = problem.input_shape
        return resnet(channels, min(height, width), params["width"], params["stages"], params["blocks"],
                      problem.n_outputs)

    def training(self, params: Mapping[str, Any]) -> TrainSettings:
        return TrainSettings(epochs=params["epochs"], batch_size=params["batch_size"])
