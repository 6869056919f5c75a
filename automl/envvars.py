"""Environment variables: on/off switches read one way everywhere, and values set for a block of code, then put
back as they were."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Mapping

__all__ = ["DEBUG_ENV", "OFF_VALUES", "debug", "environ", "switched_on"]

#: Set to show tracebacks instead of one-line errors, and Optuna's full report of a failed trial.
DEBUG_ENV = "AUTOML_DEBUG"
#: Values (any case, surrounding spaces ignored) that leave a switch off, like an unset variable.
OFF_VALUES = frozenset({"", "0", "false", "no", "off"})


def switched_on(name: str) -> bool:
    """Whether the environment variable ``name`` is set to something other than one of :data:`OFF_VALUES`."""
    return os.environ.get(name, "").strip().lower() not in OFF_VALUES


def debug() -> bool:
    """Whether debug output is on (``$AUTOML_DEBUG``, see :func:`switched_on`)."""
    return switched_on(DEBUG_ENV)


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
