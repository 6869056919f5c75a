"""``tabular_resnet``: a residual MLP for tables, after "Revisiting Deep Learning Models for Tabular Data"
(Gorishniy et al., 2021), where this simple architecture is a strong baseline for gradient-boosted trees.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from automl.protocols import ModelPlugin, ParamSpace, Problem, TrainSettings

# automl imports every plugin module to list and validate it (`automl plugins list`, every command that searches):
# heavy libraries are imported inside the hooks that use them, so that stays fast.
if TYPE_CHECKING:
    from sklearn.compose import ColumnTransformer
    from torch import nn

__all__ = ["TabularResNet"]


class TabularResNet(ModelPlugin):
    """A linear stem, ``blocks`` residual blocks (:class:`._network.ResidualBlock`) and a LayerNorm-ReLU-Linear head,
    on standardized numeric and one-hot categorical columns. Unlike automl's plain ``mlp``, the skip connections
    and layer normalization keep deeper stacks trainable. Tabular classification and regression.

    Space:

    - ``blocks`` 1..4: residual blocks (depth);
    - ``width`` 32..256 log: units carried along the skip connections;
    - ``expansion`` 1 or 2: hidden units of a block = ``expansion`` x ``width``;
    - ``epochs`` 10..40 and ``batch_size`` 32/64/128: the training loop's settings (small tables, so many
      cheap epochs).

    Dropout, weight decay and the optimizer come from the optimizer and regularizer plugins the search composes
    with it.
    """

    name = "tabular_resnet"  # equal to the entry-point name
    api_version = 1  # the protocol version this plugin was written for: a number, not automl's API_VERSION
    tasks = frozenset({"tabular"})
    family = "torch"
    kinds = frozenset({"classification", "regression"})

    def search_space(self, space: ParamSpace) -> None:
        # local names: stored as model.tabular_resnet.blocks, model.tabular_resnet.width, ...
        space.suggest_int("blocks", 1, 4)
        space.suggest_int("width", 32, 256, log=True)
        space.suggest_categorical("expansion", [1, 2])
        space.suggest_int("epochs", 10, 40)
        space.suggest_categorical("batch_size", [32, 64, 128])

    def featurizer(self, params: Mapping[str, Any]) -> ColumnTransformer:
        # Networks want dense, comparably scaled floats. automl clones and fits this on each training fold only.
        from sklearn.compose import ColumnTransformer, make_column_selector
        from sklearn.impute import SimpleImputer
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import OneHotEncoder, StandardScaler

        numeric = make_pipeline(SimpleImputer(strategy="median"), StandardScaler())
        categorical = OneHotEncoder(handle_unknown="ignore", sparse_output=False)
        return ColumnTransformer(
            [("numeric", numeric, make_column_selector(dtype_include="number")),
             ("categorical", categorical,
              make_column_selector(dtype_include=["object", "category", "string", "bool"]))],
            sparse_threshold=0.0,
        )

    def build(self, params: Mapping[str, Any], problem: Problem) -> nn.Module:
        # problem.input_shape is the shape of one featurized row; problem.n_outputs the classes (or 1)
        from torch import nn

        from ._network import ResidualBlock

        width = params["width"]
        return nn.Sequential(
            nn.Linear(problem.input_shape[0], width),
            *(ResidualBlock(width, width * params["expansion"]) for _ in range(params["blocks"])),
            nn.LayerNorm(width),
            nn.ReLU(),
            nn.Linear(width, problem.n_outputs),
        )

    def training(self, params: Mapping[str, Any]) -> TrainSettings:
        return TrainSettings(epochs=params["epochs"], batch_size=params["batch_size"])
