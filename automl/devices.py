"""Choosing the torch device a trial trains on."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from automl.exceptions import ConfigError

if TYPE_CHECKING:
    import torch

__all__ = ["accelerated", "resolve_device", "validate_device"]

_PATTERN = re.compile(r"^(auto|cpu|cuda(:\d+)?)$")


def validate_device(spec: str) -> str:
    """Check the spelling of a device option (``auto``, ``cpu``, ``cuda``, ``cuda:N``) without importing torch."""
    if not _PATTERN.match(spec):
        raise ConfigError(f"unknown device {spec!r}; use auto, cpu, cuda or cuda:N")
    return spec


def resolve_device(spec: str = "auto") -> torch.device:
    """The device for ``spec``: ``auto`` is the first GPU when one is present, else the CPU."""
    import torch

    validate_device(spec)
    if spec == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(spec)
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise ConfigError(f"device {spec!r} asked for, but torch sees no CUDA GPU (torch {torch.__version__})")
        index = device.index or 0
        if index >= torch.cuda.device_count():
            raise ConfigError(f"device {spec!r} asked for, but only {torch.cuda.device_count()} GPU(s) are visible")
    return device


def accelerated(spec: str = "auto") -> bool:
    """Whether torch trials under device option ``spec`` would run on a CUDA GPU."""
    import torch

    return validate_device(spec) != "cpu" and torch.cuda.is_available()
