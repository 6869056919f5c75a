"""automl: plugin-based hyperparameter search on Optuna, with k-fold CV trials and resumable RDB studies.

Notebook use::

    import automl
    result = automl.search(task="tabular", n_trials=20)
    result.best_value, result.best_params
    result.trials_dataframe()
    study = automl.load_study("tabular-breast_cancer")
"""

__version__ = "0.1.0"

import importlib
import sys
import types
from typing import TYPE_CHECKING, Any

from automl.exceptions import (
    AutomlError,
    ConfigError,
    DataError,
    PluginError,
    SearchSpaceError,
    StudyMismatchError,
)

if TYPE_CHECKING:
    from automl import report
    from automl.artifacts import load_model
    from automl.compare import Comparison, compare
    from automl.model import Model
    from automl.plots import plot
    from automl.refit import refit
    from automl.registry import Registry, discover
    from automl.search import SearchResult, load_study, search
    from automl.study import copy_study

#: Where each public name is defined, imported on first use (PEP 562) so that ``import automl`` stays light:
#: a command or a plugin listing pays for optuna, scikit-learn or torch only when it uses them.
_LAZY = {
    "Comparison": "automl.compare",
    "Model": "automl.model",
    "Registry": "automl.registry",
    "SearchResult": "automl.search",
    "compare": "automl.compare",
    "copy_study": "automl.study",
    "discover": "automl.registry",
    "load_model": "automl.artifacts",
    "load_study": "automl.search",
    "plot": "automl.plots",
    "refit": "automl.refit",
    "search": "automl.search",
}
#: Submodules reachable as attributes without an import statement (``automl.report.summarize``).
_SUBMODULES = frozenset({"report"})


def __getattr__(name: str) -> Any:
    if name in _SUBMODULES:
        return importlib.import_module(f"automl.{name}")
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value  # later look-ups skip this hook
        return value
    raise AttributeError(f"module 'automl' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})


class _Package(types.ModuleType):
    """The ``automl`` module, keeping ``automl.search`` (and ``refit``, ``compare``) the function of that name
    once its submodule is imported: the import system binds a submodule onto its package as an attribute."""

    def __setattr__(self, name: str, value: Any) -> None:
        if isinstance(value, types.ModuleType) and _LAZY.get(name) == value.__name__:
            value = getattr(value, name)
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package


__all__ = [
    "AutomlError",
    "Comparison",
    "ConfigError",
    "DataError",
    "Model",
    "PluginError",
    "Registry",
    "SearchResult",
    "SearchSpaceError",
    "StudyMismatchError",
    "__version__",
    "compare",
    "copy_study",
    "discover",
    "load_model",
    "load_study",
    "plot",
    "refit",
    "report",
    "search",
]
