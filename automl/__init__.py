"""automl: plugin-based hyperparameter search on Optuna, with k-fold CV trials and resumable RDB studies.

Notebook use::

    import automl
    result = automl.search(task="tabular", n_trials=20)
    result.best_value, result.best_params
    result.trials_dataframe()
    study = automl.load_study("tabular-breast_cancer")
"""

__version__ = "0.1.0"

from automl import report  # noqa: E402
from automl.artifacts import load_model  # noqa: E402
from automl.compare import Comparison, compare  # noqa: E402
from automl.exceptions import (  # noqa: E402
    AutomlError,
    ConfigError,
    DataError,
    PluginError,
    SearchSpaceError,
    StudyMismatchError,
)
from automl.model import Model  # noqa: E402
from automl.plots import plot  # noqa: E402
from automl.refit import refit  # noqa: E402
from automl.registry import Registry, discover  # noqa: E402
from automl.search import SearchResult, load_study, search  # noqa: E402
from automl.study import copy_study  # noqa: E402

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
