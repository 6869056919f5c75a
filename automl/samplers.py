"""Samplers and pruners by name.

Untrusted databases: automl never unpickles anything it reads from a study (attributes are JSON). Optuna's
CMA-ES sampler does: it stores its optimizer state as a pickle in trial system attributes and unpickles it on the
next trial, so whoever can write to the database can run code in every ``--sampler cmaes`` worker. Use ``cmaes``
only with a database only you can write to (docs/reliability.md); the default ``tpe`` and the others keep no
pickles.

Pruners and what trials report to them (:func:`reporting`, steps in :mod:`automl.cv`):

* ``median``, ``percentile``: compare a trial's running CV mean with other trials' at the same step (after each
  fold, and after torch epochs 1, 2, 4, 8, ... within a fold);
* ``wilcoxon``: Optuna's ``WilcoxonPruner``, made for k-fold CV: each fold's own score at step ``f``, paired
  with the best trial's same fold by a one-sided Wilcoxon signed-rank test. With ``n`` folds all worse than the
  best trial's, the exact p-value is ``2 ** -n``: 0.125 after 3 folds, 0.0625 after 4. Optuna's default threshold,
  0.1, could prune a 5-fold trial only after its 4th fold (saving one fold in five); :data:`WILCOXON_P` = 0.15
  prunes a trial worse than the best on each of its first 3 folds (saving two). It never prunes a trial whose
  mean so far beats the best trial's (Optuna's own safeguard), nor before 2 paired folds;
* ``hyperband``: Optuna's ``HyperbandPruner`` (asynchronous successive halving in brackets) with the number of
  folds done as the resource: rungs after 1 and 3 folds (reduction factor 3; 5 folds give 2 brackets). Epochs are
  not a resource here: a rung would compare partly trained torch models with fully fitted scikit-learn ones, and
  models report at different epochs, so only fold ends, which every trial reaches, are rungs;
* ``none``: prunes nothing (fold ends are still reported, for the record).
"""

from __future__ import annotations

import optuna

from automl.cv import STEP_STRIDE, fold_end_step
from automl.exceptions import ConfigError
from automl.quiet import no_experimental_warnings
from automl.reporter import Reporting

__all__ = ["PRUNERS", "SAMPLERS", "WILCOXON_P", "make_pruner", "make_sampler", "reporting"]

SAMPLERS = ("tpe", "random", "cmaes", "gp")
PRUNERS = ("median", "percentile", "wilcoxon", "hyperband", "none")
#: p-value below which ``wilcoxon`` prunes (see the module docstring).
WILCOXON_P = 0.15
#: What trials report under each pruner.
_REPORTING = {"median": Reporting.RUNNING, "percentile": Reporting.RUNNING, "wilcoxon": Reporting.PER_FOLD,
              "hyperband": Reporting.FOLDS, "none": Reporting.FOLDS}


def make_sampler(name: str, seed: int) -> optuna.samplers.BaseSampler:
    """A seeded sampler. TPE groups the conditional parameters of each chosen plugin (``group=True``, which needs
    the multivariate TPE: Optuna's default for one objective, said explicitly so that multi-objective studies get
    it too)."""
    if name == "tpe":
        with no_experimental_warnings():
            return optuna.samplers.TPESampler(seed=seed, group=True, multivariate=True)
    if name == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    if name == "cmaes":
        try:
            import cmaes  # noqa: F401  (optuna imports it lazily; fail here with the install hint)
        except ImportError as exc:
            raise ConfigError("sampler 'cmaes' needs the cmaes package: pip install cmaes") from exc
        return optuna.samplers.CmaEsSampler(seed=seed, warn_independent_sampling=False)
    if name == "gp":
        return optuna.samplers.GPSampler(seed=seed)
    raise ConfigError(f"unknown sampler {name!r}; choose one of {', '.join(SAMPLERS)}")


def _check_pruner(name: str) -> None:
    if name not in PRUNERS:
        raise ConfigError(f"unknown pruner {name!r}; choose one of {', '.join(PRUNERS)}")


def reporting(name: str) -> Reporting:
    """What the trials of a study pruned by ``name`` report (see the module docstring)."""
    _check_pruner(name)
    return _REPORTING[name]


def make_pruner(name: str, folds: int = 5) -> optuna.pruners.BasePruner:
    """The pruner ``name`` of a study cross-validating on ``folds`` folds (see the module docstring)."""
    _check_pruner(name)
    if name == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=5)
    if name == "percentile":
        return optuna.pruners.PercentilePruner(25.0, n_startup_trials=5)
    if name == "wilcoxon":
        with no_experimental_warnings():
            return optuna.pruners.WilcoxonPruner(p_threshold=WILCOXON_P, n_startup_steps=2)
    if name == "hyperband":  # resource: fold-end steps, so the first rung is the end of fold 0
        return optuna.pruners.HyperbandPruner(min_resource=fold_end_step(0), max_resource=folds * STEP_STRIDE,
                                              reduction_factor=3)
    return optuna.pruners.NopPruner()
