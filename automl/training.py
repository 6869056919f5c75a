"""The training loop of torch-family models: one fold, one module, the chosen optimizer and regularizers.

Data is moved to the device once; batches are drawn on the device with a seeded generator; on CUDA the forward
pass runs under bf16 autocast. After every epoch the caller receives predictions on the fold's validation rows,
so it can report them to the trial (and prune).
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
from automl.protocols import EarlyStopping, Problem

if TYPE_CHECKING:
    import torch

    from automl.space import Config

__all__ = ["EpochCallback", "Trained", "as_tensor", "fit_predict", "train"]

#: Called after each epoch with ``(epoch, outputs on the validation rows)``; may raise ``TrialStopped``.
EpochCallback = Callable[[int, np.ndarray], None]

_PREDICT_BATCH = 2048


def as_tensor(X: Any) -> torch.Tensor:
    """Featurized rows as the module sees them: integer arrays (token ids) become ``long``, the rest
    ``float32``."""
    import torch

    if isinstance(X, pd.DataFrame):
        X = X.to_numpy(dtype=np.float32)
    elif sp.issparse(X):
        X = X.toarray()
    X = np.asarray(X)
    return torch.as_tensor(X, dtype=torch.long if np.issubdtype(X.dtype, np.integer) else torch.float32)


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
    ``batch_size`` overrides the model's own (the engine halves it after running out of memory).
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
    on ``X_valid`` when both are given. ``batch_size`` overrides the model's own."""
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
    settings = config.model.plugin.training(params)
    if batch_size is not None:
        settings = dataclasses.replace(settings, batch_size=batch_size)

    X = as_tensor(X_train).to(device)
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
