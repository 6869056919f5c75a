from __future__ import annotations

from dataclasses import asdict, replace

import optuna
import pytest

from automl.costs import COSTS
from automl.exceptions import ConfigError, StudyMismatchError
from automl.storage import open_storage
from automl.study import (
    ATTR,
    COST_NAMES,
    StudySpec,
    check_compatible,
    metric_names,
    open_study,
    spec_of,
    validate_study_name,
)

SPEC = StudySpec(task="nlp", dataset="d", source="builtin", fingerprint="f" * 16, kind="classification",
                 metric="accuracy", direction="maximize", folds=5, seed=0, splits="s" * 16,
                 space={"models": {"a": "x 1"}, "optimizers": {}, "regularizers": {}}, automl_version="0.1.0")


@pytest.mark.parametrize("name", ["nlp-rotten_tomatoes", "a", "A.b_c-9", "x" * 128])
def test_valid_study_names(name: str) -> None:
    assert validate_study_name(name) == name


@pytest.mark.parametrize("name", ["", "../x", "a/b", "a\\b", "a\x00b", "x" * 129, "x" * 500, "a'; DROP TABLE",
                                  "-leading", " spaced", "é"])
def test_invalid_study_names(name: str) -> None:
    with pytest.raises(ConfigError, match="invalid study name"):
        validate_study_name(name)


def test_a_study_written_before_the_schema_was_recorded_still_opens() -> None:
    stored = {k: v for k, v in asdict(SPEC).items() if k != "storage_schema"}  # as automl 0.1.0 wrote it
    check_compatible("s", stored, replace(SPEC, automl_version="0.2.0", storage_schema="v3.2.0.a"))


def test_a_study_made_before_holdouts_and_objectives_resumes_with_neither() -> None:
    stored = {k: v for k, v in asdict(SPEC).items() if k not in ("holdout", "data", "costs")}
    check_compatible("s", stored, SPEC)
    with pytest.raises(StudyMismatchError, match=r"holdout '' \(this run: '0.2:abc'\)"):
        check_compatible("s", stored, replace(SPEC, holdout="0.2:abc"))
    with pytest.raises(StudyMismatchError, match=r"costs \[\] \(this run: \['size'\]\).*they were: no --objectives"):
        check_compatible("s", stored, replace(SPEC, costs=["size"]))


def test_same_spec_is_compatible_and_version_changes_do_not_matter() -> None:
    stored = asdict(SPEC)
    check_compatible("s", stored, replace(SPEC, automl_version="9.9",
                                          space={"models": {"a": "x 2"}, "optimizers": {}, "regularizers": {}}))


@pytest.mark.parametrize(("change", "words"), [
    ({"fingerprint": "g" * 16}, ["dataset 'd' from 'builtin'", "fingerprint"]),
    ({"task": "vision"}, ["task 'nlp' (this run: 'vision')"]),
    ({"metric": "f1_macro"}, ["metric 'accuracy' (this run: 'f1_macro')"]),
    ({"space": {"models": {"b": "y 1"}, "optimizers": {}, "regularizers": {}}},
     ["models ['a'] (this run: ['b'])", "(they were: --models a)"]),
])
def test_mismatches_are_named(change: dict, words: list[str]) -> None:
    with pytest.raises(StudyMismatchError) as info:
        check_compatible("s", asdict(SPEC), replace(SPEC, **change))
    for word in words:
        assert word in str(info.value)
    assert "Use another --study name" in str(info.value)


def test_open_study_records_then_checks_the_spec(storage: str) -> None:
    rdb = open_storage(storage)
    study = open_study(rdb, "s", SPEC, optuna.samplers.RandomSampler(), optuna.pruners.NopPruner())
    assert spec_of(study) == asdict(SPEC)
    assert open_study(rdb, "s", SPEC, optuna.samplers.RandomSampler(), optuna.pruners.NopPruner()).study_name == "s"
    with pytest.raises(StudyMismatchError):
        open_study(rdb, "s", replace(SPEC, folds=3), optuna.samplers.RandomSampler(), optuna.pruners.NopPruner())


def test_foreign_study_with_trials_is_not_taken_over(storage: str) -> None:
    rdb = open_storage(storage)
    foreign = optuna.create_study(storage=rdb, study_name="theirs", direction="maximize")
    foreign.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=1)
    with pytest.raises(StudyMismatchError, match="not created by automl"):
        open_study(rdb, "theirs", SPEC, optuna.samplers.RandomSampler(), optuna.pruners.NopPruner())
    assert ATTR not in optuna.load_study(study_name="theirs", storage=storage).user_attrs


def _open(rdb: optuna.storages.BaseStorage, name: str, spec: StudySpec = SPEC) -> optuna.Study:
    return open_study(rdb, name, spec, optuna.samplers.RandomSampler(), optuna.pruners.NopPruner())


def test_open_study_names_the_objectives_after_the_metric_and_costs(storage: str) -> None:
    rdb = open_storage(storage)
    assert _open(rdb, "one").metric_names == ["accuracy"]
    costs = replace(SPEC, costs=["latency", "size", "params"])
    assert _open(rdb, "many", costs).metric_names == ["accuracy", "latency_ms", "size_bytes", "params"]
    assert set(COST_NAMES) == set(COSTS)  # every cost has a name
    assert metric_names(replace(SPEC, metric="rmse", costs=["size"])) == ["rmse", "size_bytes"]
    # the names are what the trials' table and optuna-dashboard read
    study = optuna.load_study(study_name="one", storage=storage)
    study.add_trial(optuna.trial.create_trial(value=0.5))
    assert "value_accuracy" in study.trials_dataframe()


def test_reopening_a_named_study_writes_nothing(storage: str, monkeypatch: pytest.MonkeyPatch) -> None:
    rdb = open_storage(storage)
    _open(rdb, "s")

    def refuse(*args: object) -> None:
        raise AssertionError(f"unexpected write of a study attribute {args}")

    monkeypatch.setattr(rdb, "set_study_system_attr", refuse)
    monkeypatch.setattr(rdb, "set_study_user_attr", refuse)
    assert _open(rdb, "s").metric_names == ["accuracy"]


def test_an_older_study_gets_its_objectives_named_when_it_is_opened(storage: str) -> None:
    rdb = open_storage(storage)
    older = optuna.create_study(storage=rdb, study_name="old", direction="maximize")
    older.set_user_attr(ATTR, asdict(SPEC))  # as automl wrote a study before it named objectives
    older.add_trial(optuna.trial.create_trial(value=0.5))
    assert older.metric_names is None
    _open(rdb, "old")
    assert optuna.load_study(study_name="old", storage=storage).metric_names == ["accuracy"]


def test_a_refused_study_keeps_its_objective_names(storage: str) -> None:
    rdb = open_storage(storage)
    _open(rdb, "s")
    with pytest.raises(StudyMismatchError):
        _open(rdb, "s", replace(SPEC, metric="f1_macro"))
    assert optuna.load_study(study_name="s", storage=storage).metric_names == ["accuracy"]
