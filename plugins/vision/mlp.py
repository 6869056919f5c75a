"""A multi-layer perceptron on flattened pixels (torch)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from automl.protocols import API_VERSION, ModelPlugin, ParamSpace, Problem, TrainSettings

from .._layers import perceptron

if TYPE_CHECKING:
    from torch import nn


class VisionMLP(ModelPlugin):
    """Flattened ``(C, H, W)`` pixels through Linear-ReLU-Dropout blocks and a linear head.

    Space: ``depth`` 1-3 hidden layers, ``width`` 64-512 log units (wide enough for 64-pixel digits, and the
    first layer of a larger image already holds ``C*H*W*width`` weights), ``epochs`` 10-50 (an MLP on a few
    thousand images converges in tens of cheap epochs), ``batch_size`` 32-128. Every block ends in a
    ``Dropout(0.0)`` whose rate the dropout regularizer sets. Pixels are fed as they come (the built-in
    datasets scale them to 0..1), so no featurizer is needed.
    """

    name = "vision_mlp"
    api_version = API_VERSION
    tasks = frozenset({"vision"})
    family = "torch"

    def search_space(self, space: ParamSpace) -> None:
        space.suggest_int("depth", 1, 3)
        space.suggest_int("width", 64, 512, log=True)
        space.suggest_int("epochs", 10, 50)
        space.suggest_categorical("batch_size", [32, 64, 128])

    def build(self, params: Mapping[str, Any], problem: Problem) -> nn.Module:
        from torch import nn

        inputs = math.prod(problem.input_shape)
        return nn.Sequential(nn.Flatten(), *perceptron(inputs, params["width"], params["depth"], problem.n_outputs))

    def training(self, params: Mapping[str, Any]) -> TrainSettings:
        return TrainSettings(epochs=params["epochs"], batch_size=params["batch_size"])
