"""Optimizers for torch models, each with a searchable learning-rate schedule (constant or cosine)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import torch

from automl.protocols import API_VERSION, OptimizerPlugin, ParamSpace


class _Scheduled(OptimizerPlugin):
    """Shared schedule choice: ``constant`` or ``cosine`` annealing to zero over all training steps."""

    def search_space(self, space: ParamSpace) -> None:
        space.suggest_categorical("schedule", ["constant", "cosine"])

    def scheduler(self, params: Mapping[str, Any], optimizer: torch.optim.Optimizer,
                  total_steps: int) -> torch.optim.lr_scheduler.LRScheduler | None:
        if params["schedule"] == "cosine":
            return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=max(1, total_steps))
        return None


class SGD(_Scheduled):
    """SGD with momentum. Space: ``lr`` 1e-2..0.5 log (plain SGD barely moves embeddings below 1e-2),
    ``momentum`` 0..0.9, ``nesterov`` (only with momentum), ``schedule``. Weight decay comes from the
    weight_decay regularizer."""

    name = "sgd"
    api_version = API_VERSION

    def search_space(self, space: ParamSpace) -> None:
        space.suggest_float("lr", 1e-2, 0.5, log=True)
        space.suggest_float("momentum", 0.0, 0.9)
        space.suggest_categorical("nesterov", [False, True])
        super().search_space(space)

    def build(self, params: Mapping[str, Any], parameters: Iterable[torch.nn.Parameter],
              overrides: Mapping[str, Any]) -> torch.optim.Optimizer:
        momentum = params["momentum"]
        return torch.optim.SGD(parameters, lr=params["lr"], momentum=momentum,
                               nesterov=params["nesterov"] and momentum > 0,
                               weight_decay=overrides.get("weight_decay", 0.0))


class AdamW(_Scheduled):
    """AdamW. Space: ``lr`` 1e-4..3e-2 log, ``schedule``. Decoupled weight decay is 0 unless the weight_decay
    regularizer is on (so switching that regularizer always changes something)."""

    name = "adamw"
    api_version = API_VERSION

    def search_space(self, space: ParamSpace) -> None:
        space.suggest_float("lr", 1e-4, 3e-2, log=True)
        super().search_space(space)

    def build(self, params: Mapping[str, Any], parameters: Iterable[torch.nn.Parameter],
              overrides: Mapping[str, Any]) -> torch.optim.Optimizer:
        return torch.optim.AdamW(parameters, lr=params["lr"], weight_decay=overrides.get("weight_decay", 0.0))
