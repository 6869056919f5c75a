"""Network pieces shared by several built-in torch models (torch is imported when a network is built)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from torch import nn


def perceptron(inputs: int, width: int, depth: int, outputs: int) -> list[nn.Module]:
    """``depth`` Linear-ReLU-Dropout blocks of ``width`` units and a linear head (dropout rates start at 0.0:
    the dropout regularizer sets them)."""
    from torch import nn

    layers: list[nn.Module] = []
    for _ in range(depth):
        layers += [nn.Linear(inputs, width), nn.ReLU(), nn.Dropout(0.0)]
        inputs = width
    return [*layers, nn.Linear(inputs, outputs)]
