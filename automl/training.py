"""The training loop of torch-family models: one fold, one module, the chosen optimizer and regularizers.

Data is moved to the device once; batches are drawn on the device with a seeded generator; on CUDA the forward
pass runs under bf16 autocast. After every epoch the caller receives predictions on the fold's validation rows,
so it can report them to the trial (and prune).

Cost follows the data, not the model's settings alone: :func:`budgeted` fits the model's epochs and batch size to
the training fold's rows (fewer epochs on a big fold, larger batches within a step budget), and
:func:`default_threads` runs small trials on one thread.
"""

from __future__ import annotations

import copy
import dataclasses
import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from automl.exceptions import PluginError
from automl.protocols import EarlyStopping, Problem, TrainSettings

if TYPE_CHECKING:
    import torch

    from automl.space import Config

__all__ = ["SMALL_DATA", "EpochCallback", "Trained", "as_tensor", "budgeted", "default_threads", "fit_predict",
           "fold_settings", "train"]

#: Called after each epoch with ``(epoch, outputs on the validation rows)``; may raise ``TrialStopped``.
EpochCallback = Callable[[int, np.ndarray], None]

_PREDICT_BATCH = 2048

#: Training values (rows x values per row) up to which a torch trial whose resources name no thread count runs on
#: one thread. Small steps gain nothing from more threads, and torch's threads stall when another process holds
#: a core (a 1-hidden-layer MLP step: 12 ms on one thread, 425 ms on two, on 2 busy cores; docs/benchmarks.md).
SMALL_DATA = 1_000_000


def budgeted(settings: TrainSettings, rows: int) -> TrainSettings:
    """``settings`` fitted to a training fold of ``rows`` rows: above ``settings.epoch_rows`` rows, epochs in
    proportion to them (rounded, at least one); then the batch size times the smallest whole factor that keeps
    ``epochs * ceil(rows / batch_size)`` optimizer steps within ``settings.max_steps`` (or one batch an epoch,
    with more epochs than that), and never more than ``rows``. Small data keeps its epochs and gets larger
    batches; big data gets fewer epochs and larger batches; the ranking of the model's epochs and (doubling)
    batch sizes is kept up to rounding."""
    epochs, batch_size = settings.epochs, settings.batch_size
    if settings.epoch_rows is not None and rows > settings.epoch_rows:
        epochs = max(1, round(epochs * settings.epoch_rows / rows))
    if settings.max_steps is not None:  # the smallest whole factor leaving each epoch its share of the steps
        batches_per_epoch = max(1, settings.max_steps // epochs)
        batch_size *= max(1, -(-rows // (batch_size * batches_per_epoch)))
    return dataclasses.replace(settings, epochs=epochs, batch_size=max(1, min(batch_size, rows)))


def fold_settings(config: Config, rows: int) -> TrainSettings:
    """The training loop's settings of ``config`` on a training fold of ``rows`` rows (:func:`budgeted`)."""
    return budgeted(config.model.plugin.training(config.model_params), rows)


def default_threads(X: Any, rows: int) -> int | None:
    """Torch threads of a trial on ``rows`` training rows of ``X`` (a dataset's rows) when its resources name
    none: 1 up to :data:`SMALL_DATA` values (rows x values per row; a text counts as one), else ``None`` (torch's
    default)."""
    per_row = math.prod(np.shape(X)[1:]) if np.ndim(X) > 1 else 1
    return 1 if rows * per_row <= SMALL_DATA else None


def as_tensor(X: Any) -> torch.Tensor:
    """Featurized rows as the module sees them: integer arrays (token ids) become ``long``, the rest
    ``float32``."""
    import torch

    if isinstance(X, pd.DataFrame):
        X = X.to_numpy(dtype=np.float32)
    elif sp.issparse(X):
        X = X.toarray()
    X = np.asarray(X)
    dtype = np.int64 if np.issubdtype(X.dtype, np.integer) else np.float32
    # read-only rows (a cached fold's features) are copied: torch may not share memory it must not write
    return torch.from_numpy(np.require(X, dtype=dtype, requirements=("C", "W")))


def _scale_lr(optimizer: torch.optim.Optimizer, config: Config) -> None:
    """Multiply every parameter group's learning rate by the model plugin's ``lr_scale(params)``."""
    scale = config.model.plugin.lr_scale(config.model_params)
    if isinstance(scale, bool) or not isinstance(scale, (int, float)) or not (math.isfinite(scale) and scale > 0):
        raise PluginError(f"model plugin {config.model.name!r}: lr_scale() returned {scale!r}, "
                          "not a positive finite number")
    if scale != 1:
        for group in optimizer.param_groups:
            group["lr"] = group["lr"] * scale


def _early_stopping(config: Config) -> EarlyStopping | None:
    policies = [p for record, params in config.regularizers if (p := record.plugin.early_stopping(params))]
    return min(policies, key=lambda p: p.patience) if policies else None


def _outputs(module: torch.nn.Module, X: torch.Tensor, device: torch.device) -> torch.Tensor:
    import torch

    module.eval()
    with torch.no_grad(), torch.autocast(device.type, dtype=torch.bfloat16, enabled=device.type == "cuda"):
        return torch.cat([module(X[i : i + _PREDICT_BATCH]).float() for i in range(0, len(X), _PREDICT_BATCH)])


@dataclasses.dataclass
class Trained:
    """A trained torch module and what turns its raw outputs into answers: the problem kind and, for regression,
    the target's mean and standard deviation (the module learns the standardized target)."""

    module: torch.nn.Module
    classification: bool
    y_mean: float = 0.0
    y_std: float = 1.0

    def outputs(self, X: Any, device: torch.device) -> np.ndarray:
        """Class probabilities ``(n, n_classes)`` or values ``(n,)`` for the featurized rows ``X``."""
        return _to_numpy(_outputs(self.module, as_tensor(X).to(device), device), self.classification, self.y_mean,
                         self.y_std)


def fit_predict(
    config: Config,
    problem: Problem,
    X_train: Any,
    y_train: np.ndarray,
    X_valid: Any,
    *,
    device: torch.device,
    on_epoch: EpochCallback | None = None,
    batch_size: int | None = None,
) -> np.ndarray:
    """Train ``config``'s module on one fold and return its outputs on ``X_valid``.

    Outputs are class probabilities ``(n, n_classes)`` for classification and values ``(n,)`` for regression.
    ``batch_size`` overrides the batch size of :func:`fold_settings` (the engine halves it after running out of
    memory).
    """
    trained = train(config, problem, X_train, y_train, device=device, X_valid=X_valid, on_epoch=on_epoch,
                    batch_size=batch_size)
    return trained.outputs(X_valid, device)


def train(
    config: Config,
    problem: Problem,
    X_train: Any,
    y_train: np.ndarray,
    *,
    device: torch.device,
    X_valid: Any = None,
    on_epoch: EpochCallback | None = None,
    batch_size: int | None = None,
) -> Trained:
    """Train ``config``'s module on ``X_train`` (featurized rows); after every epoch, ``on_epoch`` gets the outputs
    on ``X_valid`` when both are given. Epochs and batch size are the model's own fitted to the rows
    (:func:`fold_settings`); ``batch_size`` overrides the latter."""
    import torch

    params = config.model_params
    torch.manual_seed(problem.seed)
    generator = torch.Generator(device=device).manual_seed(problem.seed)
    module = config.model.plugin.build(params, problem)
    if not isinstance(module, torch.nn.Module):
        raise PluginError(f"model plugin {config.model.name!r}: build() returned {type(module).__name__}, "
                          "not nn.Module")
    for record, reg_params in config.regularizers:
        record.plugin.configure_module(reg_params, module)
    module.to(device)

    X = as_tensor(X_train).to(device)
    settings = fold_settings(config, len(X))
    if batch_size is not None:
        settings = dataclasses.replace(settings, batch_size=batch_size)
    Xv = as_tensor(X_valid).to(device) if X_valid is not None and on_epoch is not None else None
    classification = problem.kind == "classification"
    if classification:
        y = torch.as_tensor(y_train, dtype=torch.long, device=device)
        options: dict[str, Any] = {}
        for record, reg_params in config.regularizers:
            options.update(record.plugin.loss_options(reg_params))
        loss_fn: torch.nn.Module = torch.nn.CrossEntropyLoss(**options)
        y_mean, y_std = 0.0, 1.0
    else:  # regression: learn the standardized target, answer in the original units
        y_mean, y_std = float(np.mean(y_train)), float(np.std(y_train)) or 1.0
        y = torch.as_tensor((y_train - y_mean) / y_std, dtype=torch.float32, device=device).reshape(-1, 1)
        loss_fn = torch.nn.MSELoss()

    stopping = _early_stopping(config)
    if stopping is not None:  # hold out part of the training fold, never the CV validation rows
        order = torch.randperm(len(X), generator=generator, device=device)
        n_inner = max(1, int(len(X) * stopping.validation_fraction))
        X_inner, y_inner, X, y = X[order[:n_inner]], y[order[:n_inner]], X[order[n_inner:]], y[order[n_inner:]]

    overrides: dict[str, Any] = {}
    for record, reg_params in config.regularizers:
        overrides.update(record.plugin.optimizer_overrides(reg_params))
    total_steps = settings.epochs * -(-len(X) // settings.batch_size)
    if config.model.plugin.owns_optimizer:
        optimizer, scheduler = config.model.plugin.build_optimizer(config.model_params, module, overrides, total_steps)
    else:
        assert config.optimizer is not None, "torch models are composed with an optimizer unless they own one"
        optimizer = config.optimizer.plugin.build(config.optimizer_params, module.parameters(), overrides)
        _scale_lr(optimizer, config)  # before the scheduler, which starts from each group's lr
        scheduler = config.optimizer.plugin.scheduler(config.optimizer_params, optimizer, total_steps)
    autocast = torch.autocast(device.type, dtype=torch.bfloat16, enabled=device.type == "cuda")

    best_loss, best_state, stale = float("inf"), None, 0
    for epoch in range(1, settings.epochs + 1):
        module.train()
        order = torch.randperm(len(X), generator=generator, device=device)
        for start in range(0, len(X), settings.batch_size):
            batch = order[start : start + settings.batch_size]
            X_batch, Y_batch = X[batch], y[batch]
            if classification:  # class-probability rows, so batch transforms such as mixup can mix them
                Y_batch = torch.nn.functional.one_hot(Y_batch, problem.n_outputs).float()
            for record, reg_params in config.regularizers:
                X_batch, Y_batch = record.plugin.transform_batch(reg_params, X_batch, Y_batch, generator)
            with autocast:
                loss = loss_fn(module(X_batch).float(), Y_batch)
            for record, reg_params in config.regularizers:
                penalty = record.plugin.loss_penalty(reg_params, module)
                if penalty is not None:
                    loss = loss + penalty
            if not torch.isfinite(loss):
                raise FloatingPointError(f"training loss became {loss.item()} at epoch {epoch}")
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            for record, reg_params in config.regularizers:
                record.plugin.after_backward(reg_params, module)
            optimizer.step()
            if scheduler is not None:
                scheduler.step()
        if stopping is not None:
            inner_loss = float(loss_fn(_outputs(module, X_inner, device), y_inner))
            if inner_loss < best_loss:
                best_loss, best_state, stale = inner_loss, copy.deepcopy(module.state_dict()), 0
            else:
                stale += 1
        if on_epoch is not None and Xv is not None:
            on_epoch(epoch, _to_numpy(_outputs(module, Xv, device), classification, y_mean, y_std))
        if stopping is not None and stale >= stopping.patience:
            break
    if best_state is not None:
        module.load_state_dict(best_state)
    return Trained(module, classification, y_mean, y_std)


def _to_numpy(outputs: torch.Tensor, classification: bool, y_mean: float, y_std: float) -> np.ndarray:
    if classification:
        return outputs.softmax(dim=1).cpu().numpy()
    return outputs.reshape(-1).cpu().numpy() * y_std + y_mean
