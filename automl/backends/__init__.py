"""Backends run a study's trials. The in-process Optuna backend is the default; see :class:`Backend`."""

from automl.backends.base import Backend
from automl.backends.optuna_backend import OptunaBackend

__all__ = ["Backend", "OptunaBackend", "get_backend"]

_BACKENDS: dict[str, type[Backend]] = {"optuna": OptunaBackend}


def get_backend(name: str) -> Backend:
    """The backend called ``name``."""
    from automl.exceptions import ConfigError

    if name not in _BACKENDS:
        raise ConfigError(f"unknown backend {name!r}; choose one of {', '.join(_BACKENDS)}")
    return _BACKENDS[name]()
