from __future__ import annotations

import re
from pathlib import Path

import optuna
import pytest

import automl
from automl.cv import FoldReporter, fold_end_step
from automl.exceptions import ConfigError, TrialStopped
from automl.metrics import get_metric
from automl.reporter import Reporting
from automl.samplers import PRUNERS, SAMPLERS, make_pruner, make_sampler, reporting


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


@pytest.mark.parametrize(("name", "kind", "reports"), [
    ("median", optuna.pruners.MedianPruner, Reporting.RUNNING),
    ("percentile", optuna.pruners.PercentilePruner, Reporting.RUNNING),
    ("wilcoxon", optuna.pruners.WilcoxonPruner, Reporting.PER_FOLD),
    ("hyperband", optuna.pruners.HyperbandPruner, Reporting.FOLDS),
    ("none", optuna.pruners.NopPruner, Reporting.FOLDS),
])
def test_pruners(name: str, kind: type, reports: Reporting) -> None:
    assert name in PRUNERS and isinstance(make_pruner(name), kind) and reporting(name) is reports


@pytest.mark.parametrize(("factory", "name"), [(lambda n: make_sampler(n, 0), "grid"), (make_pruner, "asha"),
                                               (reporting, "asha")])
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


def _trial(study: optuna.Study, pruner: str, fold_scores: list[float]) -> optuna.trial.FrozenTrial:
    """Report ``fold_scores`` one fold at a time as a trial of ``study`` does under ``pruner``; pruned or complete."""
    from automl.backends.optuna_backend import OptunaReporter

    trial = study.ask()
    folds = FoldReporter(OptunaReporter(trial), get_metric(None, "classification"), reporting(pruner))
    try:
        for fold, score in enumerate(fold_scores):
            folds.fold_done(fold, score)
    except TrialStopped:
        return study.tell(trial, state=optuna.trial.TrialState.PRUNED)
    return study.tell(trial, sum(fold_scores) / len(fold_scores))


def test_wilcoxon_pairs_fold_scores_with_the_best_trial_and_prunes_a_clearly_worse_one() -> None:
    study = optuna.create_study(direction="maximize", pruner=make_pruner("wilcoxon"))
    best = _trial(study, "wilcoxon", [0.90, 0.80, 0.95, 0.85, 0.90])
    assert best.intermediate_values == dict(enumerate([0.90, 0.80, 0.95, 0.85, 0.90]))  # step f: fold f's score
    close = _trial(study, "wilcoxon", [0.91, 0.79, 0.94, 0.86, 0.89])  # better on some folds: runs them all
    assert close.state == optuna.trial.TrialState.COMPLETE
    worse = _trial(study, "wilcoxon", [0.70, 0.60, 0.75, 0.65, 0.70])  # worse on every fold
    assert worse.state == optuna.trial.TrialState.PRUNED
    assert sorted(worse.intermediate_values) == [0, 1, 2]  # 3 folds all worse: p = 1/8 < WILCOXON_P


def test_hyperband_prunes_at_fold_ends_only() -> None:
    # Hyperband puts a trial in a bracket by a CRC of the study name and trial number: a fixed name fixes them
    study = optuna.create_study(study_name="hyperband", direction="maximize",
                                pruner=make_pruner("hyperband", folds=5))
    good = [_trial(study, "hyperband", [0.9] * 5) for _ in range(6)]
    assert all(t.state == optuna.trial.TrialState.COMPLETE for t in good)
    assert all(sorted(t.intermediate_values) == [fold_end_step(f) for f in range(5)] for t in good)
    bad = [_trial(study, "hyperband", [0.5] * 5) for _ in range(4)]
    assert all(t.state == optuna.trial.TrialState.PRUNED for t in bad)
    # rungs after 1 fold (first bracket) or 3 folds (second bracket): never after the 2nd, 4th or 5th
    assert {max(t.intermediate_values) for t in bad} <= {fold_end_step(0), fold_end_step(2)}


@pytest.mark.parametrize("pruner", ["wilcoxon", "hyperband"])
def test_a_search_records_the_right_fold_scores_under_each_pruner(blobs_csv: Path, storage: str, pruner: str) -> None:
    study = automl.search("tabular", blobs_csv, n_trials=8, folds=4, models=["linear", "k_neighbors"],
                          pruner=pruner, storage=storage, study="p").study
    for trial in study.trials:
        scores = trial.user_attrs["fold_scores"]
        if pruner == "wilcoxon":
            assert scores == [trial.intermediate_values[f] for f in range(len(scores))]
        else:
            means = [trial.intermediate_values[fold_end_step(f)] for f in range(len(scores))]
            assert means == pytest.approx([sum(scores[: f + 1]) / (f + 1) for f in range(len(scores))])
        if trial.state == optuna.trial.TrialState.COMPLETE:
            assert len(scores) == 4 and trial.value == pytest.approx(sum(scores) / 4)


@pytest.mark.parametrize("pruner", ["wilcoxon", "hyperband"])
def test_multi_objective_searches_still_refuse_the_new_pruners(blobs_csv: Path, storage: str, pruner: str) -> None:
    with pytest.raises(ConfigError, match="cannot prune a multi-objective search"):
        automl.search("tabular", blobs_csv, objectives=["accuracy", "latency"], n_trials=1, pruner=pruner,
                      storage=storage)
