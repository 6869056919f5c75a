"""Optimizers for torch models, each with a searchable learning-rate schedule.

Every optimizer here shares one schedule choice (:class:`_Scheduled`): ``constant``, ``step``, ``exponential``,
``cosine`` or ``warmup_cosine``; the schedule's own parameters are suggested only when it is chosen. The
scheduler is stepped after every batch, over ``total_steps`` = epochs x batches per epoch.

Weight decay is not searched here: every optimizer takes ``overrides.get("weight_decay", 0.0)``, which the
weight_decay regularizer sets, so switching that regularizer on or off always changes something. Batch size and
epochs are not searched here either: they depend on the model and its data, so the model plugins own them
(``ModelPlugin.training``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from automl.protocols import API_VERSION, OptimizerPlugin, ParamSpace

if TYPE_CHECKING:  # torch is imported by the hooks: listing the plugins does not load it
    import torch
    from torch.optim import lr_scheduler

__all__ = ["SCHEDULES", "SGD", "Adagrad", "Adam", "AdamW", "RMSprop"]

#: The learning-rate schedules every optimizer of this module offers.
SCHEDULES = ("constant", "step", "exponential", "cosine", "warmup_cosine")


class _Scheduled(OptimizerPlugin):
    """The shared schedule choice, stepped after every batch over ``total_steps``:

    - ``constant``: the base learning rate throughout (no scheduler).
    - ``step``: multiply the rate by ``step_gamma`` (0.1..0.7) every ``step_fraction`` (0.2..0.5) of the steps,
      i.e. one to four decays over training (``StepLR``).
    - ``exponential``: decay smoothly to ``final_ratio`` (1e-3..0.3 log) times the base rate by the last step;
      the per-step factor is ``final_ratio ** (1 / total_steps)`` (``ExponentialLR``), so the searched value
      means the same whatever the epochs and batch size.
    - ``cosine``: cosine annealing to zero over all steps (``CosineAnnealingLR``).
    - ``warmup_cosine``: linear warm-up over ``warmup_fraction`` (0.02..0.2) of the steps, then cosine
      annealing to zero over the rest (``LinearLR`` then ``CosineAnnealingLR``, in a ``SequentialLR``); warm-up
      tames the large first steps of adaptive optimizers.

    Subclasses suggest their own parameters, then call ``super().search_space(space)``.
    """

    def search_space(self, space: ParamSpace) -> None:
        schedule = space.suggest_categorical("schedule", list(SCHEDULES))
        if schedule == "step":
            space.suggest_float("step_fraction", 0.2, 0.5)
            space.suggest_float("step_gamma", 0.1, 0.7)
        elif schedule == "exponential":
            space.suggest_float("final_ratio", 1e-3, 0.3, log=True)
        elif schedule == "warmup_cosine":
            space.suggest_float("warmup_fraction", 0.02, 0.2)

    def scheduler(self, params: Mapping[str, Any], optimizer: torch.optim.Optimizer,
                  total_steps: int) -> lr_scheduler.LRScheduler | None:
        from torch.optim import lr_scheduler

        schedule = params["schedule"]
        total = max(1, total_steps)
        if schedule == "constant":
            return None
        if schedule == "step":
            step_size = max(1, round(params["step_fraction"] * total))
            return lr_scheduler.StepLR(optimizer, step_size=step_size, gamma=params["step_gamma"])
        if schedule == "exponential":
            return lr_scheduler.ExponentialLR(optimizer, gamma=params["final_ratio"] ** (1.0 / total))
        if schedule == "cosine":
            return lr_scheduler.CosineAnnealingLR(optimizer, T_max=total)
        if schedule == "warmup_cosine":
            warmup = max(1, round(params["warmup_fraction"] * total))
            # the rate rises (1..warmup+1)/(warmup+1) times the base rate, reaching it at step ``warmup``
            rise = lr_scheduler.LinearLR(optimizer, start_factor=1.0 / (warmup + 1), end_factor=1.0,
                                         total_iters=warmup)
            fall = lr_scheduler.CosineAnnealingLR(optimizer, T_max=max(1, total - warmup))
            return lr_scheduler.SequentialLR(optimizer, [rise, fall], milestones=[warmup])
        raise ValueError(f"unknown schedule {schedule!r}; expected one of {', '.join(SCHEDULES)}")


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
        import torch

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
        import torch

        return torch.optim.AdamW(parameters, lr=params["lr"], weight_decay=overrides.get("weight_decay", 0.0))


class Adam(_Scheduled):
    """Adam. Space: ``lr`` 1e-4..3e-2 log (the same scale as AdamW: Adam's steps are about ``lr`` in size
    whatever the gradients' scale), ``beta2`` 0.99 or 0.999 (0.99 adapts the per-weight step sizes faster, which
    helps the short runs on small data this tool mostly does), ``schedule``. Unlike AdamW, the weight_decay
    regularizer's decay is classic L2 (added to the gradient, so rescaled by Adam's adaptive step); it is 0 unless
    that regularizer is on."""

    name = "adam"
    api_version = API_VERSION

    def search_space(self, space: ParamSpace) -> None:
        space.suggest_float("lr", 1e-4, 3e-2, log=True)
        space.suggest_categorical("beta2", [0.99, 0.999])
        super().search_space(space)

    def build(self, params: Mapping[str, Any], parameters: Iterable[torch.nn.Parameter],
              overrides: Mapping[str, Any]) -> torch.optim.Optimizer:
        import torch

        return torch.optim.Adam(parameters, lr=params["lr"], betas=(0.9, params["beta2"]),
                                weight_decay=overrides.get("weight_decay", 0.0))


class Adagrad(_Scheduled):
    """Adagrad. Space: ``lr`` 1e-3..0.3 log (higher than Adam's: Adagrad divides by the root of all past
    squared gradients, so its steps keep shrinking and a small base rate stalls; torch's default is 1e-2),
    ``schedule``. Suits sparse features such as rarely seen embeddings. Weight decay (L2) comes from the
    weight_decay regularizer."""

    name = "adagrad"
    api_version = API_VERSION

    def search_space(self, space: ParamSpace) -> None:
        space.suggest_float("lr", 1e-3, 0.3, log=True)
        super().search_space(space)

    def build(self, params: Mapping[str, Any], parameters: Iterable[torch.nn.Parameter],
              overrides: Mapping[str, Any]) -> torch.optim.Optimizer:
        import torch

        return torch.optim.Adagrad(parameters, lr=params["lr"], weight_decay=overrides.get("weight_decay", 0.0))


class RMSprop(_Scheduled):
    """RMSprop. Space: ``lr`` 1e-4..1e-2 log (its running average of squared gradients starts at zero, so the
    first steps are up to ``1/sqrt(1 - alpha)`` times ``lr``: the range stops lower than Adam's),
    ``alpha`` 0.9..0.99 (smoothing of that average: lower adapts faster), ``momentum`` 0..0.9, ``schedule``.
    Weight decay (L2) comes from the weight_decay regularizer."""

    name = "rmsprop"
    api_version = API_VERSION

    def search_space(self, space: ParamSpace) -> None:
        space.suggest_float("lr", 1e-4, 1e-2, log=True)
        space.suggest_float("alpha", 0.9, 0.99)
        space.suggest_float("momentum", 0.0, 0.9)
        super().search_space(space)

    def build(self, params: Mapping[str, Any], parameters: Iterable[torch.nn.Parameter],
              overrides: Mapping[str, Any]) -> torch.optim.Optimizer:
        import torch

        return torch.optim.RMSprop(parameters, lr=params["lr"], alpha=params["alpha"], momentum=params["momentum"],
                                   weight_decay=overrides.get("weight_decay", 0.0))
