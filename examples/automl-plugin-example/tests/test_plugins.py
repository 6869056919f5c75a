"""Tests of the example plugins. Run them against the installed package: ``pip install . && pytest``."""

from __future__ import annotations

from typing import Any

import pytest
import torch
from automl_plugin_example.model import TabularResNet
from automl_plugin_example.optimizer import NAdam
from automl_plugin_example.regularizer import InputNoise

import automl
from automl.protocols import Problem
from automl.testing import check_plugin, synthetic_dataset

DISTRIBUTION = "automl-plugin-example"
PLUGINS = [(TabularResNet, "model"), (NAdam, "optimizer"), (InputNoise, "regularizer")]


@pytest.mark.parametrize(("cls", "kind"), PLUGINS, ids=[kind for _, kind in PLUGINS])
def test_conformance(cls: type, kind: str) -> None:
    # what `automl plugins check <name>` runs: shape, 5 draws of the search space, a 2-fold fit on generated
    # data of every task and problem kind the plugin serves; raises PluginCheckError with the reason
    check_plugin(cls(), kind)


@pytest.mark.parametrize(("cls", "kind"), PLUGINS, ids=[kind for _, kind in PLUGINS])
def test_the_installed_entry_points_register_the_plugins(cls: type, kind: str) -> None:
    record = automl.discover().get(kind, cls.name)  # raises PluginError, with the reason, if it is broken
    assert (record.distribution, type(record.plugin)) == (DISTRIBUTION, cls)


def test_a_search_samples_all_three(tmp_path: Any) -> None:
    data = synthetic_dataset("tabular", "classification", n=100)  # a small learnable table: a fast search
    data.X.assign(label=data.y).to_csv(tmp_path / "data.csv", index=False)
    result = automl.search("tabular", str(tmp_path / "data.csv"), target="label", models=["tabular_resnet"],
                           optimizers=["nadam"], regularizers=["input_noise"], n_trials=3, folds=2,
                           sampler="random", pruner="none", threads=1, storage=f"sqlite:///{tmp_path / 'studies.db'}")
    trials = result.study.trials
    assert all(t.state.name == "COMPLETE" for t in trials), [t.user_attrs.get("fail_reason") for t in trials]
    for trial in trials:
        assert (trial.params["model"], trial.params["optimizer"]) == ("tabular_resnet", "nadam")
        assert {"model.tabular_resnet.blocks", "optimizer.nadam.lr"} <= set(trial.params)
        # the regularizer's switch is searched in every trial, its parameter only when it is on
        assert ("regularizer.input_noise.std" in trial.params) == trial.params["regularizer.input_noise"]
    assert any(t.params["regularizer.input_noise"] for t in trials)  # seed 0 switches it on at least once
    assert 0.7 < result.best_value <= 1.0  # accuracy


@pytest.mark.parametrize(("kind", "n_outputs"), [("classification", 3), ("regression", 1)])
def test_the_model_maps_rows_to_outputs(kind: str, n_outputs: int) -> None:
    params = {"blocks": 2, "width": 32, "expansion": 2, "epochs": 10, "batch_size": 32}
    module = TabularResNet().build(params, Problem("tabular", kind, n_outputs, (7,), None, seed=0))
    assert module(torch.zeros(5, 7)).shape == (5, n_outputs)
    assert sum(isinstance(m, torch.nn.Dropout) for m in module.modules()) == 4  # for the dropout regularizer


def test_nadam_applies_the_regularizers_weight_decay_and_its_schedule() -> None:
    weights = [torch.nn.Parameter(torch.ones(3))]
    optimizer = NAdam().build({"lr": 0.01, "schedule": "cosine"}, weights, {"weight_decay": 0.05})
    assert optimizer.param_groups[0]["weight_decay"] == 0.05
    schedule = NAdam().scheduler({"lr": 0.01, "schedule": "cosine"}, optimizer, total_steps=10)
    for _ in range(10):
        optimizer.step()
        schedule.step()
    assert optimizer.param_groups[0]["lr"] == pytest.approx(0.0, abs=1e-12)
    assert NAdam().scheduler({"lr": 0.01, "schedule": "constant"}, optimizer, total_steps=10) is None


def test_input_noise_perturbs_inputs_reproducibly_and_leaves_targets_alone() -> None:
    X, Y = torch.zeros(64, 4), torch.eye(2)[torch.arange(64) % 2]
    noisy = [InputNoise().transform_batch({"std": 0.1}, X, Y, torch.Generator().manual_seed(1)) for _ in range(2)]
    assert torch.equal(noisy[0][0], noisy[1][0]) and torch.equal(noisy[0][1], Y)
    assert 0.05 < float(noisy[0][0].std()) < 0.2
    with pytest.raises(TypeError, match="input_noise"):
        InputNoise().transform_batch({"std": 0.1}, torch.zeros(4, 3, dtype=torch.long), Y[:4], torch.Generator())
