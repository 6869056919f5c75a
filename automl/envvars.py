"""Environment variables set for a block of code, then put back as they were."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Mapping

__all__ = ["environ"]


@contextlib.contextmanager
def environ(values: Mapping[str, str], restore: tuple[str, ...] = ()) -> Iterator[None]:
    """Set ``values`` in ``os.environ`` for the block (child processes started in it inherit them), then restore
    those variables, and also those named in ``restore`` (variables code in the block may set for itself)."""
    saved = {name: os.environ.get(name) for name in (*values, *restore)}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
