"""Samplers and pruners by name.

Untrusted databases: automl never unpickles anything it reads from a study (attributes are JSON). Optuna's
CMA-ES sampler does: it stores its optimizer state as a pickle in trial system attributes and unpickles it on the
next trial, so whoever can write to the database can run code in every ``--sampler cmaes`` worker. Use ``cmaes``
only with a database only you can write to (docs/reliability.md); the default ``tpe`` and the others keep no
pickles.
"""

from __future__ import annotations

import optuna

from automl.exceptions import ConfigError
from automl.quiet import no_experimental_warnings

__all__ = ["PRUNERS", "SAMPLERS", "make_pruner", "make_sampler"]

SAMPLERS = ("tpe", "random", "cmaes", "gp")
PRUNERS = ("median", "percentile", "none")


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


def make_pruner(name: str) -> optuna.pruners.BasePruner:
    """A pruner comparing a trial's running CV estimate with other trials' at the same fold or epoch."""
    if name == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=5)
    if name == "percentile":
        return optuna.pruners.PercentilePruner(25.0, n_startup_trials=5)
    if name == "none":
        return optuna.pruners.NopPruner()
    raise ConfigError(f"unknown pruner {name!r}; choose one of {', '.join(PRUNERS)}")
