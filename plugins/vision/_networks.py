"""The residual network of the built-in ``resnet`` model, imported by its ``build`` hook (so listing the plugins
does not import torch)."""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["BasicBlock", "resnet"]


class BasicBlock(nn.Module):
    """conv3x3-BN-ReLU-conv3x3-BN plus a shortcut, then ReLU. The shortcut is the identity, or a strided 1x1
    convolution with BN when the block changes the number of channels or the map size."""

    def __init__(self, channels: int, out: int, stride: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(channels, out, 3, stride=stride, padding=1, bias=False), nn.BatchNorm2d(out), nn.ReLU(),
            nn.Conv2d(out, out, 3, padding=1, bias=False), nn.BatchNorm2d(out),
        )
        self.shortcut: nn.Module = nn.Identity()
        if stride != 1 or channels != out:
            self.shortcut = nn.Sequential(nn.Conv2d(channels, out, 1, stride=stride, bias=False), nn.BatchNorm2d(out))
        self.relu = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.relu(self.body(x) + self.shortcut(x))


def resnet(channels: int, size: int, width: int, stages: int, blocks: int, outputs: int) -> nn.Sequential:
    """The network for ``channels``-channel images whose smaller side is ``size`` pixels.

    Stem: conv3x3-BN-ReLU to ``width`` channels; images of 64 px or more are first reduced 4x (strided conv and
    max-pooling, as in ResNet's stem) so large inputs stay affordable. Stage ``i`` has ``blocks`` basic blocks of
    ``width * 2**i`` channels; every stage after the first halves the map in its first block while the map is
    at least 8 px (so 8x8 digits go 8 -> 4 and stop there).
    """
    if size >= 64:
        layers: list[nn.Module] = [nn.Conv2d(channels, width, 3, stride=2, padding=1, bias=False),
                                   nn.BatchNorm2d(width), nn.ReLU(), nn.MaxPool2d(3, stride=2, padding=1)]
        size = (size + 1) // 2
        size = (size + 1) // 2
    else:
        layers = [nn.Conv2d(channels, width, 3, padding=1, bias=False), nn.BatchNorm2d(width), nn.ReLU()]
    channels = width
    for stage in range(stages):
        out = width * 2**stage
        for block in range(blocks):
            stride = 2 if stage > 0 and block == 0 and size >= 8 else 1
            layers.append(BasicBlock(channels, out, stride))
            size = (size + 1) // 2 if stride == 2 else size
            channels = out
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(0.0), nn.Linear(channels, outputs)]
    return nn.Sequential(*layers)
