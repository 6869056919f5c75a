"""The ``automl`` package's public names (automl/__init__.py): importing the package is light, every name of
``__all__`` resolves on first use to the object its module defines, and ``automl.search`` stays the function."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys

import pytest

import automl


def run_fresh(code: str) -> dict:
    """Run ``code`` in a fresh interpreter; the JSON it printed last."""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.splitlines()[-1])


def test_import_automl_loads_no_optuna_scikit_learn_pandas_or_torch() -> None:
    found = run_fresh("import json, sys, automl; print(json.dumps([m for m in ('optuna', 'sklearn', 'scipy', "
                      "'pandas', 'torch', 'sqlalchemy') if m in sys.modules]))")
    assert found == []


@pytest.mark.parametrize("name", sorted(automl.__all__))
def test_every_public_name_is_the_object_its_module_defines(name: str) -> None:
    value = getattr(automl, name)
    if name == "__version__":
        assert isinstance(value, str)
    elif name == "report":
        assert value is importlib.import_module("automl.report")
    else:
        assert value is getattr(importlib.import_module(value.__module__), name)
    assert name in dir(automl)


def test_search_refit_and_compare_stay_functions_once_their_modules_are_imported() -> None:
    """Importing ``automl.search`` binds the submodule onto the package; the package keeps the function."""
    found = run_fresh("import json, automl.search, automl.refit, automl.compare, automl; "
                      "from automl import search; "
                      "print(json.dumps([callable(search) and search is automl.search, "
                      "type(automl.refit).__name__, type(automl.compare).__name__, type(automl.report).__name__]))")
    assert found == [True, "function", "function", "module"]


def test_an_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'nonexistent'"):
        automl.nonexistent  # noqa: B018
