from __future__ import annotations

import re
from pathlib import Path

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


def test_nothing_read_back_is_unpickled_by_automl_or_its_plugins() -> None:
    """automl's own code and the built-in plugins load no pickles (pickle, torch.load, joblib); the samplers
    offered by default store none in the study (only CMA-ES does, see automl/samplers.py)."""
    root = Path(__file__).resolve().parents[1]
    unpickling = re.compile(r"\b(pickle|cPickle|dill|joblib|torch)\.loads?\(|allow_pickle\s*=\s*True")
    for path in [*(root / "automl").rglob("*.py"), *(root / "plugins").rglob("*.py"), root / "cli.py"]:
        text = path.read_text(encoding="utf-8")
        assert not unpickling.search(text), f"{path.relative_to(root)} unpickles: {unpickling.search(text)[0]}"
    for name in ("tpe", "random", "gp"):
        study = optuna.create_study(sampler=make_sampler(name, 0))
        study.optimize(lambda t: t.suggest_float("x", 0, 1) + t.suggest_int("k", 1, 3), n_trials=4)
        for trial in study.trials:
            assert not any("optimizer" in key or "pickle" in key for key in trial.system_attrs), name
