"""Conformance checks for plugins: what ``automl plugins check`` runs, importable by plugin authors' own tests.

Use it from pytest::

    from automl.testing import check_plugin

    def test_conformance():
        check_plugin(MyModel(), "model")      # raises PluginCheckError naming what failed

Each check validates the plugin's shape (as discovery does), that each of a model's ``starting_points`` is a draw of
its space, samples its search space several times through the same namespaced, validating view the engine uses, then
composes a real configuration with it and runs 2-fold cross-validation on a small generated dataset of every task
and problem kind it serves (torch models train with the built-in ``adamw``; optimizers are exercised on the built-in
``mlp``, regularizers on the built-in torch model of each task they apply to, every task when they declare none).
Before a regularizer's fit, its ``transform_batch`` gets the whole featurized dataset as one training batch and must
return a batch that keeps the contract of :func:`batch_error`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import optuna
import pandas as pd

from automl.cv import FoldReporter, cross_validate, make_splits
from automl.datasets import Dataset, make_dataset
from automl.exceptions import AutomlError, ConfigError, TrialStopped
from automl.features import fit_featurizer
from automl.metrics import get_metric
from automl.protocols import REGRESSION_TASKS, TASKS
from automl.quiet import quiet_optuna_logs
from automl.registry import PluginRecord, Registry, discover, shape_error
from automl.reporter import MemoryReporter
from automl.space import Candidates, Config, check_starting_points, compose
from automl.training import as_tensor

if TYPE_CHECKING:
    import torch

__all__ = ["CheckResult", "PluginCheckError", "batch_error", "check_plugin", "check_record", "synthetic_dataset"]

#: The built-in torch model a regularizer is exercised on, by task.
_TORCH_MODEL = {"tabular": "mlp", "vision": "small_cnn", "nlp": "bag_of_embeddings"}
#: The padding id of the built-in text models' token rows (``automl_plugins.nlp._tokens.PAD``).
PAD_ID = 0
_WORDS = ("good", "great", "fine", "bad", "awful", "poor", "movie", "plot", "actor", "scene")


class PluginCheckError(AutomlError, AssertionError):
    """A plugin failed a conformance check; the message says which and why."""


@dataclass(frozen=True)
class CheckResult:
    """Outcome of checking one plugin."""

    kind: str
    name: str
    origin: str
    ok: bool
    detail: str


def synthetic_dataset(task: str, kind: str = "classification", n: int = 60, seed: int = 0) -> Dataset:
    """A small learnable dataset of ``task`` (two classes, or a noisy linear target for regression); a
    :class:`ConfigError` for regression of a task whose data is always classification (nlp, vision)."""
    if kind == "regression" and task not in REGRESSION_TASKS:
        raise ConfigError(f"{task} data is always classification; only {'/'.join(REGRESSION_TASKS)} data can be "
                          "regression")
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 2
    if task == "nlp":
        texts = [" ".join([*rng.choice(_WORDS[:3] if label else _WORDS[3:6], 3), *rng.choice(_WORDS[6:], 3)])
                 for label in y]
        return make_dataset("synthetic", task, np.array(texts, dtype=object), np.where(y, "pos", "neg"), "builtin",
                            kind="classification")
    if task == "vision":
        X = rng.random((n, 1, 8, 8)).astype(np.float32) * 0.2
        X[y == 1, :, :4, :] += 0.8
        return make_dataset("synthetic", task, X, y, "builtin", kind="classification")
    X = rng.normal(size=(n, 4))
    target: Any = X @ np.array([1.0, -1.0, 0.5, 0.0]) + rng.normal(scale=0.1, size=n) if kind == "regression" else y
    if kind == "classification":
        X[:, 0] += 2.0 * y
    return make_dataset("synthetic", task, pd.DataFrame(X, columns=list("abcd")), target, "builtin", kind=kind)


def _record(plugin: Any, kind: str) -> PluginRecord:
    return PluginRecord(kind, getattr(plugin, "name", type(plugin).__name__), "", "(checked directly)", None,
                        plugin=plugin)


def _runs(record: PluginRecord, builtins: Registry) -> list[tuple[Dataset, Candidates, dict[str, Any]]]:
    """The (dataset, candidates, fixed params) combinations that exercise ``record``."""
    if record.kind == "model":
        plugin = record.plugin
        optimizers = (builtins.get("optimizer", "adamw"),) if plugin.family == "torch" else ()
        return [(synthetic_dataset(task, kind), Candidates((record,), optimizers, ()), {})
                for task in sorted(plugin.tasks) for kind in sorted(plugin.kinds)
                if kind == "classification" or task in REGRESSION_TASKS]
    adamw = builtins.get("optimizer", "adamw")
    if record.kind == "optimizer":
        return [(synthetic_dataset("tabular"), Candidates((builtins.get("model", "mlp"),), (record,), ()), {})]
    kind = "regression" if record.plugin.kinds is not None and set(record.plugin.kinds) == {"regression"} \
        else "classification"
    tasks = [task for task in sorted(record.plugin.tasks if record.plugin.tasks is not None else TASKS)
             if kind == "classification" or task in REGRESSION_TASKS]
    if not tasks:
        raise PluginCheckError(f"applies to no data a search can have: tasks {sorted(record.plugin.tasks or ())}, "
                               f"kinds {sorted(record.plugin.kinds or ())}")
    return [(synthetic_dataset(task, kind),
             Candidates((builtins.get("model", _TORCH_MODEL[task]),), (adamw,), (record,)),
             {f"regularizer.{record.name}": True}) for task in tasks]


def check_record(record: PluginRecord, n_samples: int = 5, seed: int = 0,
                 builtins: Registry | None = None) -> CheckResult:
    """Check one discovered plugin: shape, ``n_samples`` draws of its space, a tiny CV fit per task and kind."""
    if not record.ok:
        return CheckResult(record.kind, record.name, record.origin, False, f"broken: {record.error}")
    reason = shape_error(record)
    if reason is not None:
        return CheckResult(record.kind, record.name, record.origin, False, reason)
    builtins = builtins or discover()
    try:
        check_starting_points(record)
        runs = _runs(record, builtins)
        for data, cands, fixed in runs:
            # a classifier claiming class probabilities is scored by log loss, which needs them
            proba = data.kind == "classification" and record.kind == "model" and record.plugin.probabilities
            metric = get_metric("log_loss" if proba else None, data.kind)
            with quiet_optuna_logs():
                study = optuna.create_study(direction=metric.direction,
                                            sampler=optuna.samplers.RandomSampler(seed=seed))
            for sample in range(n_samples):
                if fixed:
                    study.enqueue_trial(fixed)
                trial = study.ask()
                config = compose(trial, cands)
                if sample < n_samples - 1:  # the last draw is also fitted
                    study.tell(trial, 0.0)
                    continue
                if record.kind == "regularizer":
                    _check_transform_batch(config, data, seed)
                result = cross_validate(config, data, make_splits(data, 2, seed), metric,
                                        FoldReporter(MemoryReporter(), metric), seed=seed,
                                        device=_cpu() if config.model.plugin.family == "torch" else None)
                if not math.isfinite(result.mean):
                    raise PluginCheckError(f"{data.task} {data.kind}: CV score is {result.mean}")
                study.tell(trial, result.mean)
    except (TrialStopped, optuna.TrialPruned):  # the check's reporter never stops, but a plugin may raise them
        return CheckResult(record.kind, record.name, record.origin, False, "stopped its trial during a check fit")
    except Exception as exc:  # a plugin check reports, it never crashes the host
        return CheckResult(record.kind, record.name, record.origin, False, f"{type(exc).__name__}: {exc}")
    tasks = ", ".join(f"{d.task}/{d.kind}" for d, _, _ in runs)
    return CheckResult(record.kind, record.name, record.origin, True, f"{n_samples} draws; fit {tasks}")


def batch_error(data: Dataset, X: torch.Tensor, Y: torch.Tensor, returned: Any) -> str | None:
    """Why what a regularizer's ``transform_batch`` returned for the training batch ``X``, ``Y`` of ``data`` breaks
    the batch contract, or ``None``: an ``(X, Y)`` pair of tensors of the shapes and dtypes it was given; ``Y``
    rows still class probabilities (classification); token-id rows (nlp, integer ``X``) with no negative id and
    their padding (:data:`PAD_ID`) at the end only, which is where the text models look for it."""
    import torch

    if not (isinstance(returned, tuple) and len(returned) == 2
            and all(isinstance(t, torch.Tensor) for t in returned)):
        return f"returned {type(returned).__name__}, not an (X, Y) pair of tensors"
    for name, given, new in (("X", X, returned[0]), ("Y", Y, returned[1])):
        if new.dtype != given.dtype or new.shape != given.shape:
            return (f"changed {name} from {given.dtype} {tuple(given.shape)} to {new.dtype} {tuple(new.shape)}; "
                    "keep its shape and dtype")
    if data.kind == "classification":
        rows = returned[1].float()
        if bool((rows < 0).any()) or not torch.allclose(rows.sum(dim=1), torch.ones(len(rows)), atol=1e-4):
            return "returned Y rows that are not class probabilities (non-negative, summing to 1)"
    ids = returned[0]
    if data.task == "nlp" and not ids.is_floating_point():
        if bool((ids < 0).any()):
            return "returned negative token ids"
        pad = ids == PAD_ID
        misplaced = (pad[:, :-1] & ~pad[:, 1:]).any(dim=1)
        if bool(misplaced.any()):
            return (f"put padding (id {PAD_ID}) before token ids in row {int(misplaced.nonzero()[0, 0])}: a token-id "
                    f"row holds its ids first and padding only at its end (a removed token shifts the rest left, "
                    f"or becomes the unknown id 1)")
    return None


def _check_transform_batch(config: Config, data: Dataset, seed: int) -> None:
    """Give the regularizer of ``config`` the whole featurized ``data`` as one training batch, built as the training
    loop builds it (``Y``: one-hot rows, or the standardized target), and raise :class:`PluginCheckError` when
    what ``transform_batch`` returns breaks the contract (:func:`batch_error`)."""
    import torch

    [(record, params)] = config.regularizers
    _, features = fit_featurizer(config.model.plugin.featurizer(config.model_params), data.X, data.y)
    X = as_tensor(features)
    if data.kind == "classification":
        Y = torch.nn.functional.one_hot(torch.as_tensor(data.y), data.n_outputs).float()
    else:
        Y = torch.as_tensor((data.y - data.y.mean()) / (data.y.std() or 1.0), dtype=torch.float32).reshape(-1, 1)
    returned = record.plugin.transform_batch(params, X.clone(), Y.clone(), torch.Generator().manual_seed(seed))
    reason = batch_error(data, X, Y, returned)
    if reason is not None:
        raise PluginCheckError(f"{data.task} {data.kind}: transform_batch {reason}")


def _cpu() -> Any:
    import torch

    return torch.device("cpu")


def check_plugin(plugin: Any, kind: str, n_samples: int = 5, seed: int = 0) -> CheckResult:
    """Check a plugin object of ``kind`` (``"model"``, ``"optimizer"``, ``"regularizer"``) as
    ``automl plugins check`` does; raise :class:`PluginCheckError` with the reason when it fails."""
    result = check_record(_record(plugin, kind), n_samples=n_samples, seed=seed)
    if not result.ok:
        raise PluginCheckError(f"{kind} plugin {result.name!r}: {result.detail}")
    return result
