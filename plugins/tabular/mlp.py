"""A multi-layer perceptron on standardized columns (torch)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from automl.protocols import API_VERSION, ModelPlugin, ParamSpace, Problem, TrainSettings

from .._layers import perceptron
from ._columns import standardized_columns

if TYPE_CHECKING:
    from sklearn.compose import ColumnTransformer
    from torch import nn


class MLP(ModelPlugin):
    """Linear-ReLU-Dropout blocks and a linear head; standardization and one-hot encoding fitted per fold.

    Space: ``depth`` 1-3 hidden layers, ``width`` 32-256 log units, ``epochs`` 10-60, ``batch_size`` 16-128
    (tabular sets are small: many cheap epochs).
    """

    name = "mlp"
    api_version = API_VERSION
    tasks = frozenset({"tabular"})
    family = "torch"
    kinds = frozenset({"classification", "regression"})
    #: a mid-sized network tried early, so that a short search on a big table gets one (optimizer and regularizers
    #: are the sampler's)
    starting_points = ({"depth": 2, "width": 128, "epochs": 30, "batch_size": 64},)

    def search_space(self, space: ParamSpace) -> None:
        space.suggest_int("depth", 1, 3)
        space.suggest_int("width", 32, 256, log=True)
        space.suggest_int("epochs", 10, 60)
        space.suggest_categorical("batch_size", [16, 32, 64, 128])

    def featurizer(self, params: Mapping[str, Any]) -> ColumnTransformer:
        return standardized_columns()

    def build(self, params: Mapping[str, Any], problem: Problem) -> nn.Module:
        from torch import nn

        return nn.Sequential(*perceptron(problem.input_shape[0], params["width"], params["depth"], problem.n_outputs))

    def training(self, params: Mapping[str, Any]) -> TrainSettings:
        return TrainSettings(epochs=params["epochs"], batch_size=params["batch_size"])
