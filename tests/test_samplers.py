from __future__ import annotations

import optuna
import pytest

from automl.exceptions import ConfigError
from automl.samplers import PRUNERS, SAMPLERS, make_pruner, make_sampler


@pytest.mark.parametrize("name", [s for s in SAMPLERS if s != "cmaes"])
def test_samplers_are_seeded(name: str) -> None:
    def proposals(seed: int) -> list[float]:
        study = optuna.create_study(sampler=make_sampler(name, seed))
        study.optimize(lambda t: t.suggest_float("x", 0, 1) ** 2, n_trials=3)
        return [t.params["x"] for t in study.trials]

    assert proposals(1) == proposals(1)
    assert proposals(1) != proposals(2)


def test_tpe_groups_conditional_parameters() -> None:
    sampler = make_sampler("tpe", 0)
    assert isinstance(sampler, optuna.samplers.TPESampler) and sampler._group is True


def test_cmaes_needs_its_package() -> None:
    try:
        import cmaes  # noqa: F401
    except ImportError:
        with pytest.raises(ConfigError, match="pip install cmaes"):
            make_sampler("cmaes", 0)
    else:
        assert isinstance(make_sampler("cmaes", 0), optuna.samplers.CmaEsSampler)


@pytest.mark.parametrize(("name", "kind"), [("median", optuna.pruners.MedianPruner),
                                            ("percentile", optuna.pruners.PercentilePruner),
                                            ("none", optuna.pruners.NopPruner)])
def test_pruners(name: str, kind: type) -> None:
    assert name in PRUNERS and isinstance(make_pruner(name), kind)


@pytest.mark.parametrize(("factory", "name"), [(lambda n: make_sampler(n, 0), "grid"), (make_pruner, "hyperband")])
def test_unknown_names(factory, name: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ConfigError, match=f"unknown .* '{name}'"):
        factory(name)
