"""Backends are found through the ``automl.backends`` entry points, the built-ins too; failures are one line."""

from __future__ import annotations

import importlib.metadata as metadata

import pytest

from automl import backends
from automl.backends.optuna_backend import OptunaBackend
from automl.backends.ray_backend import RayBackend
from automl.exceptions import ConfigError


def test_the_builtin_backends_register_through_entry_points() -> None:
    assert backends.backend_names() == ["optuna", "ray"]
    assert isinstance(backends.get_backend("optuna"), OptunaBackend)
    assert isinstance(backends.get_backend("ray"), RayBackend)


class _Nameless:
    name = "other"

    def options(self) -> None: ...
    def accelerated(self) -> None: ...
    def run(self) -> None: ...


class _NoRun:
    name = "norun"

    def options(self) -> None: ...
    def accelerated(self) -> None: ...


@pytest.mark.parametrize(("entry", "message"), [
    (metadata.EntryPoint("broken", "automl_no_such_module:Backend", backends.GROUP),
     r"backend 'broken' \(\?\) failed to load: ModuleNotFoundError: No module named 'automl_no_such_module'"),
    (metadata.EntryPoint("nameless", f"{__name__}:_Nameless", backends.GROUP), "is named 'other'"),
    (metadata.EntryPoint("norun", f"{__name__}:_NoRun", backends.GROUP), r"lacks run\(\)"),
])
def test_a_broken_backend_is_one_clear_error(monkeypatch: pytest.MonkeyPatch, entry: metadata.EntryPoint,
                                             message: str) -> None:
    monkeypatch.setattr(backends, "_entry_points", lambda: {entry.name: entry})
    with pytest.raises(ConfigError, match=message):
        backends.get_backend(entry.name)


def test_an_unknown_backend_lists_the_installed_ones() -> None:
    with pytest.raises(ConfigError, match="unknown backend 'dask'; choose one of optuna, ray"):
        backends.get_backend("dask")
