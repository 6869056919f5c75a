"""Regularizers of torch models: weight decay (optimizer), dropout (module), early stopping (training loop)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from torch import nn

from automl.protocols import API_VERSION, ParamSpace, RegularizerPlugin
from automl.protocols import EarlyStopping as StopPolicy


class WeightDecay(RegularizerPlugin):
    """L2 weight decay passed to the optimizer. Space: ``weight_decay`` 1e-6..1e-1 log."""

    name = "weight_decay"
    api_version = API_VERSION

    def search_space(self, space: ParamSpace) -> None:
        space.suggest_float("weight_decay", 1e-6, 1e-1, log=True)

    def optimizer_overrides(self, params: Mapping[str, Any]) -> Mapping[str, Any]:
        return {"weight_decay": params["weight_decay"]}


class Dropout(RegularizerPlugin):
    """Sets the rate of every ``nn.Dropout`` layer of the model (the built-in torch models place them at
    0.0). Space: ``rate`` 0.05..0.5. A model without dropout layers fails the trial rather than ignore it."""

    name = "dropout"
    api_version = API_VERSION

    def search_space(self, space: ParamSpace) -> None:
        space.suggest_float("rate", 0.05, 0.5)

    def configure_module(self, params: Mapping[str, Any], module: nn.Module) -> None:
        layers = [m for m in module.modules() if isinstance(m, nn.Dropout)]
        if not layers:
            raise ValueError(f"dropout regularizer: {type(module).__name__} has no nn.Dropout layer to set")
        for layer in layers:
            layer.p = params["rate"]


class EarlyStopping(RegularizerPlugin):
    """Stops training when the loss on 10% of the training fold has not improved for ``patience`` epochs,
    and restores the best epoch's weights. Space: ``patience`` 1..5."""

    name = "early_stopping"
    api_version = API_VERSION

    def search_space(self, space: ParamSpace) -> None:
        space.suggest_int("patience", 1, 5)

    def early_stopping(self, params: Mapping[str, Any]) -> StopPolicy:
        return StopPolicy(patience=params["patience"], validation_fraction=0.1)
