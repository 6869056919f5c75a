"""What a model costs to serve, as extra objectives of an accuracy-vs-cost search (``--objectives accuracy,latency``).

A multi-objective search maximizes (or minimizes) its metric and minimizes each cost; Optuna keeps the Pareto front.
The costs of a trial are measured on the model fitted on its first CV fold:

* ``latency``: milliseconds to predict a fixed batch of that fold's validation rows (the first
  :data:`LATENCY_ROWS`, raw rows in, outputs out, featurizer included), the median of :data:`LATENCY_RUNS` runs
  after a warm-up, on the trial's device and threads. It is a wall-clock time: on a busy machine it carries noise.
* ``size``: bytes of the files a model directory would hold for the model (:func:`automl.artifacts.model_files`).
* ``params``: numbers the model learned: a torch module's parameters; for a scikit-learn estimator, the elements of
  the NumPy arrays it holds after fitting (coefficients, tree nodes, stored neighbours). The featurizer's state
  (a vocabulary, category lists) is not counted; ``size`` counts it.

Pruning: Optuna's pruners work on single-objective studies only (``Trial.report`` refuses multi-objective ones), so a
multi-objective search reports no intermediate values and prunes nothing; every trial runs all its folds. An
explicit ``--pruner`` other than ``none`` is refused.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from automl.exceptions import ConfigError
from automl.metrics import METRICS

if TYPE_CHECKING:
    from automl.model import FittedModel

__all__ = ["COSTS", "LATENCY_ROWS", "LATENCY_RUNS", "UNITS", "latency_ms", "measure", "parse_objectives"]

#: The costs an objective list may name, each minimized.
COSTS = ("latency", "size", "params")
#: How each cost is stored and shown.
UNITS = {"latency": "ms", "size": "bytes", "params": "numbers"}
#: Rows of the latency batch, and the timed runs whose median is the latency.
LATENCY_ROWS, LATENCY_RUNS = 256, 5


def parse_objectives(objectives: Sequence[str] | None, metric: str | None) -> tuple[str | None, tuple[str, ...]]:
    """``(metric, costs)`` of an objective list such as ``["accuracy", "latency"]``: first the metric (it must
    agree with ``metric`` when that is given too), then one or more of :data:`COSTS`. ``None`` or an empty list is a
    single-objective search: ``(metric, ())``."""
    if not objectives:
        return metric, ()
    names = [name.strip() for name in objectives]
    first, costs = names[0], names[1:]
    if first in COSTS or first not in METRICS:
        raise ConfigError(f"objectives start with the metric (one of {', '.join(METRICS)}), then costs "
                          f"({', '.join(COSTS)}); got {','.join(names)}")
    if metric is not None and metric != first:
        raise ConfigError(f"metric {metric!r} and objectives {','.join(names)} disagree; give the metric once, "
                          "as the first objective")
    unknown = [name for name in costs if name not in COSTS]
    if unknown or not costs:
        raise ConfigError(f"after the metric, objectives are costs to minimize ({', '.join(COSTS)}); got "
                          f"{','.join(costs) or 'none'}")
    if len(set(costs)) != len(costs):
        raise ConfigError(f"objectives name a cost twice: {','.join(names)}")
    return first, tuple(costs)


def latency_ms(model: FittedModel, rows: Any, runs: int = LATENCY_RUNS) -> float:
    """Milliseconds ``model`` takes to predict ``rows`` (raw rows in, outputs out): the median of ``runs`` timed
    runs after a warm-up."""
    model.outputs(rows)  # warm-up
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        model.outputs(rows)
        times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times)


def _array_elements(obj: Any, seen: set[int]) -> int:
    """Elements of the NumPy arrays reachable from a fitted estimator's attributes."""
    if id(obj) in seen:
        return 0
    seen.add(id(obj))
    if isinstance(obj, np.ndarray):
        return int(obj.size) if obj.dtype != object else sum(_array_elements(item, seen) for item in obj.flat)
    if isinstance(obj, dict):
        return sum(_array_elements(value, seen) for value in obj.values())
    if isinstance(obj, (list, tuple)):
        return sum(_array_elements(item, seen) for item in obj)
    if hasattr(obj, "__dict__") and not isinstance(obj, type):
        return _array_elements(vars(obj), seen)
    return 0


def _params(model: FittedModel) -> int:
    if model.trained is not None:
        return sum(int(p.numel()) for p in model.trained.module.parameters())
    return _array_elements(model.estimator, set())


def measure(model: FittedModel, rows: Any, costs: Sequence[str]) -> dict[str, float]:
    """The ``costs`` of ``model``; ``rows`` (raw rows, at most :data:`LATENCY_ROWS`) is the latency batch."""
    measured: dict[str, float] = {}
    for cost in costs:
        if cost == "latency":
            measured[cost] = latency_ms(model, rows)
        elif cost == "size":
            from automl.artifacts import model_files

            measured[cost] = float(sum(len(content) for content in model_files(model).values()))
        else:
            measured[cost] = float(_params(model))
    return measured
