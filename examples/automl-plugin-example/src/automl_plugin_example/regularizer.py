"""``input_noise``: Gaussian noise added to the inputs of every training batch."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from automl.protocols import ParamSpace, RegularizerPlugin

if TYPE_CHECKING:  # torch is imported by the hook, so listing the plugins does not load it
    import torch

__all__ = ["InputNoise"]


class InputNoise(RegularizerPlugin):
    """Adds ``std`` x N(0, 1) noise to every input value of each training batch (never to validation rows), so
    the network cannot rely on exact values: on standardized tabular columns it acts much like an L2 penalty
    (Bishop, 1995), on images like a mild augmentation. Targets are left alone.

    Space: ``std`` 0.01..0.3 log, in units of the inputs (one standard deviation of a standardized column; pixel
    values of 0..1). Applies to torch models on ``tabular`` and ``vision``, whose inputs are floats; token ids
    (``nlp``) cannot take noise, so it is not offered there.
    """

    name = "input_noise"
    api_version = 1
    families = frozenset({"torch"})  # the families whose training loop calls its hooks (torch only, for now)
    tasks = frozenset({"tabular", "vision"})

    def search_space(self, space: ParamSpace) -> None:
        space.suggest_float("std", 0.01, 0.3, log=True)  # stored as regularizer.input_noise.std

    def transform_batch(self, params: Mapping[str, Any], X: torch.Tensor, Y: torch.Tensor,
                        generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        if not X.is_floating_point():
            raise TypeError(f"input_noise regularizer: cannot add noise to {X.dtype} inputs")
        # every random number comes from the training loop's seeded generator: trials reproduce exactly
        import torch

        noise = torch.randn(X.shape, generator=generator, device=generator.device, dtype=X.dtype)
        return X + params["std"] * noise.to(X.device), Y
