"""``nadam``: Adam with Nesterov momentum (``torch.optim.NAdam``)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from automl.protocols import OptimizerPlugin, ParamSpace

if TYPE_CHECKING:  # torch is imported by the hooks, so listing the plugins does not load it
    import torch
    from torch.optim import lr_scheduler

__all__ = ["NAdam"]


class NAdam(OptimizerPlugin):
    """NAdam: Adam whose momentum step looks ahead (Nesterov), often a little faster to converge.

    Space:

    - ``lr`` 1e-4..3e-2 log: the scale of Adam-type steps, whatever the gradients' scale;
    - ``schedule`` ``constant`` or ``cosine``: cosine annealing to zero over all training steps.

    Weight decay is not searched here: it comes from automl's ``weight_decay`` regularizer through
    ``overrides`` and is applied decoupled from the gradient (as AdamW does), so it is 0 unless that
    regularizer is switched on.
    """

    name = "nadam"
    api_version = 1

    def search_space(self, space: ParamSpace) -> None:
        space.suggest_float("lr", 1e-4, 3e-2, log=True)  # stored as optimizer.nadam.lr
        space.suggest_categorical("schedule", ["constant", "cosine"])

    def build(self, params: Mapping[str, Any], parameters: Iterable[torch.nn.Parameter],
              overrides: Mapping[str, Any]) -> torch.optim.Optimizer:
        import torch

        return torch.optim.NAdam(parameters, lr=params["lr"], weight_decay=overrides.get("weight_decay", 0.0),
                                 decoupled_weight_decay=True)

    def scheduler(self, params: Mapping[str, Any], optimizer: torch.optim.Optimizer,
                  total_steps: int) -> lr_scheduler.LRScheduler | None:
        # stepped by automl after every batch; total_steps = epochs x batches per epoch
        from torch.optim import lr_scheduler

        if params["schedule"] == "cosine":
            return lr_scheduler.CosineAnnealingLR(optimizer, T_max=max(1, total_steps))
        return None
