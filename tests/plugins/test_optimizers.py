"""Built-in optimizers: conformance, the shared schedule choice (space and LR trajectories), weight decay."""

from __future__ import annotations

import math
from typing import Any

import optuna
import pytest
import torch
from automl_plugins.optimizers import SCHEDULES, SGD, Adagrad, Adam, AdamW, RMSprop
from torch import nn

from automl.space import ScopedSpace
from automl.testing import check_plugin

NEW = [Adam, Adagrad, RMSprop]
ALL = [SGD, AdamW, *NEW]
#: One value for every parameter any optimizer or schedule may suggest (inside every range).
FIXED = {"lr": 1e-2, "momentum": 0.5, "nesterov": True, "beta2": 0.99, "alpha": 0.95, "step_fraction": 0.25,
         "step_gamma": 0.5, "final_ratio": 0.01, "warmup_fraction": 0.1}


def _space(plugin: Any, schedule: str) -> dict[str, Any]:
    """The parameters ``plugin`` suggests when ``schedule`` is chosen, through the engine's validating view."""
    name = plugin.name
    trial = optuna.trial.FixedTrial({f"optimizer.{name}.{k}": v for k, v in {**FIXED, "schedule": schedule}.items()})
    space = ScopedSpace(trial, f"optimizer.{name}", name)
    plugin.search_space(space)
    return space.params


def _lrs(schedule: str, total: int, steps: int | None = None, **params: Any) -> list[float]:
    """The learning rate used at each of ``steps`` (default ``total``) batches, base rate 1, when the scheduler
    is built for ``total`` steps and steps after each batch."""
    plugin = SGD()
    params = {"lr": 1.0, "momentum": 0.0, "nesterov": False, "schedule": schedule, **params}
    optimizer = plugin.build(params, nn.Linear(2, 1).parameters(), {})
    scheduler = plugin.scheduler(params, optimizer, total)
    if schedule == "constant":
        assert scheduler is None
    rates = []
    for _ in range(total if steps is None else steps):
        rates.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        if scheduler is not None:
            scheduler.step()
    return rates


@pytest.mark.parametrize("plugin", NEW, ids=lambda p: p.name)
def test_conformance(plugin: type) -> None:
    check_plugin(plugin(), "optimizer", n_samples=3)


def test_plugin_names_are_distinct() -> None:
    assert len({p.name for p in ALL}) == len(ALL) == 5
    assert {p.name for p in NEW} == {"adam", "adagrad", "rmsprop"}


@pytest.mark.parametrize("plugin", ALL, ids=lambda p: p.name)
def test_schedule_parameters_exist_only_when_their_schedule_is_chosen(plugin: type) -> None:
    own = set(_space(plugin(), "constant")) - {"schedule"}
    extra = {"constant": set(), "cosine": set(), "step": {"step_fraction", "step_gamma"},
             "exponential": {"final_ratio"}, "warmup_cosine": {"warmup_fraction"}}
    assert set(extra) == set(SCHEDULES)
    for schedule in SCHEDULES:
        assert set(_space(plugin(), schedule)) == own | {"schedule"} | extra[schedule]


def test_constant_schedule_keeps_the_rate() -> None:
    assert _lrs("constant", 20) == [1.0] * 20


def test_step_schedule_decays_by_gamma_every_step_fraction() -> None:
    rates = _lrs("step", 20, step_fraction=0.25, step_gamma=0.5)  # every 5 steps
    assert rates == pytest.approx([1.0] * 5 + [0.5] * 5 + [0.25] * 5 + [0.125] * 5)


def test_exponential_schedule_reaches_the_final_ratio_after_all_steps() -> None:
    total = 50
    rates = _lrs("exponential", total, steps=total + 1, final_ratio=0.01)  # and the rate after the last step
    assert rates == pytest.approx([0.01 ** (k / total) for k in range(total + 1)])
    assert rates[total] == pytest.approx(0.01)


def test_cosine_schedule_anneals_to_zero() -> None:
    rates = _lrs("cosine", 100)
    assert rates[0] == 1.0
    assert all(a >= b for a, b in zip(rates, rates[1:], strict=False))
    assert rates[50] == pytest.approx(0.5)
    assert rates[-1] < 1e-3


def test_warmup_cosine_rises_linearly_then_anneals_to_zero() -> None:
    rates = _lrs("warmup_cosine", 100, warmup_fraction=0.1)  # 10 warm-up steps
    assert rates[:11] == pytest.approx([(k + 1) / 11 for k in range(11)])
    assert max(rates) == pytest.approx(1.0) and rates.index(max(rates)) == 10
    assert all(a >= b for a, b in zip(rates[10:], rates[11:], strict=False))
    assert rates[10 + 45] == pytest.approx(0.5)
    assert rates[-1] < 1e-3


@pytest.mark.parametrize("schedule", SCHEDULES)
@pytest.mark.parametrize("total", [1, 3])
def test_schedules_handle_very_short_training(schedule: str, total: int) -> None:
    rates = _lrs(schedule, total, **FIXED)
    assert len(rates) == total and all(math.isfinite(r) and r > 0 for r in rates)


@pytest.mark.parametrize("plugin", ALL, ids=lambda p: p.name)
@pytest.mark.parametrize("schedule", SCHEDULES)
def test_every_optimizer_trains_with_every_schedule(plugin: type, schedule: str) -> None:
    torch.manual_seed(0)
    params = _space(plugin(), schedule)
    params["lr"] = 1e-2
    module = nn.Linear(3, 1)
    X, y = torch.randn(32, 3), torch.randn(32, 1)
    optimizer = plugin().build(params, module.parameters(), {})
    scheduler = plugin().scheduler(params, optimizer, 20)
    losses = []
    for _ in range(20):
        loss = nn.functional.mse_loss(module(X), y)
        losses.append(loss.item())
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if scheduler is not None:
            scheduler.step()
    assert losses[-1] < losses[0]


@pytest.mark.parametrize("plugin", ALL, ids=lambda p: p.name)
def test_weight_decay_comes_from_the_overrides_only(plugin: type) -> None:
    params = _space(plugin(), "constant")
    assert "weight_decay" not in params
    assert plugin().build(params, nn.Linear(2, 1).parameters(), {}).param_groups[0]["weight_decay"] == 0.0
    decayed = plugin().build(params, nn.Linear(2, 1).parameters(), {"weight_decay": 0.03})
    assert decayed.param_groups[0]["weight_decay"] == 0.03
