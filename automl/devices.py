"""Choosing the torch device a trial trains on, and telling plugins which one that is."""

from __future__ import annotations

import contextlib
import contextvars
import re
from collections.abc import Iterator
from typing import TYPE_CHECKING

from automl.exceptions import ConfigError

if TYPE_CHECKING:
    import torch

__all__ = ["accelerated", "resolve_device", "trial_device", "using_device", "validate_device"]

_PATTERN = re.compile(r"^(auto|cpu|cuda(:\d+)?)$")
_current: contextvars.ContextVar[str | None] = contextvars.ContextVar("automl_trial_device", default=None)


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


@contextlib.contextmanager
def using_device(device: str) -> Iterator[None]:
    """Within the block, :func:`trial_device` is ``device`` (the trial runner sets it from the trial's resources)."""
    token = _current.set(device)
    try:
        yield
    finally:
        _current.reset(token)


def trial_device() -> torch.device:
    """The torch device of the running trial, for plugins that run torch themselves (e.g. a featurizer encoding
    texts with a frozen network): what the backend gave the trial; outside a trial, a GPU if torch sees one."""
    import torch

    device = _current.get()
    if device is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)
