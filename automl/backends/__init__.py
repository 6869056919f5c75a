"""Backends run a search's trials; see :class:`Backend`.

They are found like plugins, through the entry-point group :data:`GROUP`; the built-ins (``optuna``: this
process and worker processes; ``ray``: Ray Tune trials on a Ray cluster) register there too, in automl's own
``pyproject.toml``. A backend that fails to load or lacks the protocol's methods is a one-line
:class:`~automl.exceptions.ConfigError` naming its package, never a crash.
"""

from __future__ import annotations

import importlib.metadata as metadata
import inspect

from automl.backends.base import Backend, SearchOutcome
from automl.exceptions import ConfigError

__all__ = ["GROUP", "Backend", "SearchOutcome", "backend_names", "get_backend"]

#: Entry-point group of backends; the entry point's name is the backend's (``--backend NAME``).
GROUP = "automl.backends"
_METHODS = ("options", "accelerated", "run")


def _entry_points() -> dict[str, metadata.EntryPoint]:
    return {ep.name: ep for ep in metadata.entry_points(group=GROUP)}


def backend_names() -> list[str]:
    """Names of the installed backends (nothing is imported)."""
    return sorted(_entry_points())


def get_backend(name: str) -> Backend:
    """Load the backend ``name``: find its entry point, import it (an instance, or a class instantiated without
    arguments), and check its shape; every failure is a :class:`ConfigError`."""
    found = _entry_points()
    if name not in found:
        raise ConfigError(f"unknown backend {name!r}; choose one of {', '.join(sorted(found)) or 'none installed'}")
    ep = found[name]
    origin = f"{ep.dist.metadata['Name']} {ep.dist.version}" if ep.dist is not None else "?"
    try:
        obj = ep.load()
        backend = obj() if inspect.isclass(obj) else obj
    except Exception as exc:  # a broken backend package must not take the command down
        raise ConfigError(f"backend {name!r} ({origin}) failed to load: {type(exc).__name__}: {exc}") from exc
    missing = [method for method in _METHODS if not callable(getattr(backend, method, None))]
    if missing or getattr(backend, "name", None) != name:
        why = f"lacks {', '.join(missing)}()" if missing else f"is named {getattr(backend, 'name', None)!r}"
        raise ConfigError(f"backend {name!r} ({origin}) {why}; see automl.backends.Backend")
    return backend
