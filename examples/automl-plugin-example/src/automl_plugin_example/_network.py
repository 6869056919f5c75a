"""The torch network of ``tabular_resnet``, in a module of its own: the plugin's ``build`` hook imports it, so
that automl can list and validate the plugin without importing torch (``automl plugins list`` stays fast)."""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["ResidualBlock"]


class ResidualBlock(nn.Module):
    """``x + Dropout(Linear(Dropout(ReLU(Linear(LayerNorm(x))))))``: a pre-norm feed-forward block of
    ``width`` -> ``hidden`` -> ``width`` units. Its dropout layers start at 0.0 (the ``dropout`` regularizer of
    automl sets their rate when the search switches it on)."""

    def __init__(self, width: int, hidden: int) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.LayerNorm(width), nn.Linear(width, hidden), nn.ReLU(), nn.Dropout(0.0),
                                  nn.Linear(hidden, width), nn.Dropout(0.0))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)
