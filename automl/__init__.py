"""automl: plugin-based hyperparameter search on Optuna, with k-fold CV trials and resumable RDB studies.

Notebook use::

    import automl
    result = automl.search(task="tabular", n_trials=20)
    result.best_value, result.best_params
    result.trials_dataframe()
    study = automl.load_study("tabular-breast_cancer")
"""

__version__ = "0.1.0"

# torch is loaded before any scikit-learn module: when sklearn.neighbors (imported by sklearn.feature_selection,
# and by plugins using k-NN) is loaded before torch, every later OpenMP region of scikit-learn (e.g.
# HistGradientBoosting) runs ~20x slower on this project's CPU machines (two GNU OpenMP runtimes; see
# docs/benchmarks.md). Importing torch first avoids it.
import torch  # noqa: E402,F401  isort: skip

from automl.exceptions import (  # noqa: E402
    AutomlError,
    ConfigError,
    DataError,
    PluginError,
    SearchSpaceError,
    StudyMismatchError,
)
from automl import report  # noqa: E402
from automl.registry import Registry, discover  # noqa: E402
from automl.search import SearchResult, load_study, search  # noqa: E402

__all__ = [
    "AutomlError",
    "ConfigError",
    "DataError",
    "PluginError",
    "Registry",
    "SearchResult",
    "SearchSpaceError",
    "StudyMismatchError",
    "__version__",
    "discover",
    "load_study",
    "report",
    "search",
]
