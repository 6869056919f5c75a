from __future__ import annotations

import warnings
from typing import Any

import optuna
import pytest

from automl.exceptions import PluginError, PluginWarning, SearchSpaceError
from automl.protocols import ModelPlugin, OptimizerPlugin
from automl.registry import PluginRecord, Registry, discover
from automl.space import (
    Candidates,
    ScopedSpace,
    Selection,
    candidates,
    compose,
    configure,
    describe,
    explore,
    space_signature,
    starting_trials,
)


def _trial() -> optuna.Trial:
    return optuna.create_study().ask()


def test_scoped_space_prefixes_names_and_collects_local_params() -> None:
    trial = _trial()
    space = ScopedSpace(trial, "model.knn", "model plugin 'knn'")
    k = space.suggest_int("k", 1, 5)
    weights = space.suggest_categorical("weights", ["uniform", "distance"])
    assert space.params == {"k": k, "weights": weights}
    assert trial.params == {"model.knn.k": k, "model.knn.weights": weights}


@pytest.mark.parametrize(
    ("call", "args", "kwargs", "message"),
    [
        ("suggest_float", (1.0, 0.5), {}, "greater than"),
        ("suggest_float", (0.0, 1.0), {"log": True}, "low > 0"),
        ("suggest_float", (float("nan"), 1.0), {}, "finite"),
        ("suggest_int", (1, 10), {"step": 0}, "step must be positive"),
        ("suggest_int", (1.5, 10), {}, "integers"),
        ("suggest_categorical", ([],), {}, "non-empty"),
        ("suggest_categorical", ("abc",), {}, "non-empty sequence"),
    ],
)
def test_invalid_distributions_are_refused_with_the_plugin_name(call: str, args: tuple, kwargs: dict,
                                                                 message: str) -> None:
    space = ScopedSpace(_trial(), "model.bad", "model plugin 'bad' (thirdparty 1.0)")
    with pytest.raises(SearchSpaceError, match=message) as info:
        getattr(space, call)("x", *args, **kwargs)
    assert "model plugin 'bad' (thirdparty 1.0)" in str(info.value)


def test_same_name_with_another_distribution_is_a_search_space_error() -> None:
    space = ScopedSpace(_trial(), "model.bad", "model plugin 'bad'")
    space.suggest_int("x", 1, 3)
    with pytest.raises(SearchSpaceError, match="'x'"):
        space.suggest_float("x", 0.1, 0.2)


@pytest.mark.parametrize("name", ["", "a.b", 3])
def test_parameter_names_must_be_plain(name: Any) -> None:
    with pytest.raises(SearchSpaceError, match="parameter name"):
        ScopedSpace(_trial(), "p", "plugin").suggest_int(name, 1, 2)


@pytest.fixture(scope="module")
def registry() -> Registry:
    return discover()


def test_sklearn_model_gets_no_optimizer_or_regularizer_params(registry: Registry) -> None:
    cands = candidates(registry, "tabular", "classification", Selection(models=("hist_gradient_boosting",)))
    trial = _trial()
    config = compose(trial, cands)
    assert config.optimizer is None and config.regularizers == []
    assert set(trial.params) == {"model"} | {f"model.hist_gradient_boosting.{k}" for k in config.model_params}


def test_torch_model_composes_optimizer_and_switchable_regularizers(registry: Registry) -> None:
    cands = candidates(registry, "tabular", "classification", Selection(models=("mlp",)))
    seen_on: set[str] = set()
    for _ in range(12):
        trial = _trial()
        config = compose(trial, cands)
        assert config.optimizer is not None
        prefixes = {name.split(".")[0] for name in trial.params}
        assert prefixes <= {"model", "optimizer", "regularizer"}
        for record in cands.regularizers:
            switched_on = trial.params[f"regularizer.{record.name}"]
            params = [n for n in trial.params if n.startswith(f"regularizer.{record.name}.")]
            # conditional parameters appear exactly when their regularizer is on
            assert bool(params) == switched_on
            if switched_on:
                seen_on.add(record.name)
        assert all(n.startswith(f"optimizer.{config.optimizer.name}.") for n in trial.params
                   if n.startswith("optimizer."))
    assert seen_on, "12 random trials never switched a regularizer on"


def test_mixed_families_offer_every_light_model_of_the_task(registry: Registry) -> None:
    cands = candidates(registry, "tabular", "classification", Selection())
    tabular = {r.name for r in registry.models("tabular", "classification") if not r.plugin.heavy}
    assert tabular >= {"linear", "hist_gradient_boosting", "mlp"}
    assert {r.name for r in cands.models} == tabular
    assert cands.optimizers and cands.regularizers
    assert "augmentation" not in {r.name for r in cands.regularizers}  # images only
    signature = space_signature(cands)
    assert set(signature["models"]) == tabular
    assert all(origin.startswith("automl ") for origin in signature["models"].values())


def test_selection_restricts_choices(registry: Registry) -> None:
    cands = candidates(registry, "nlp", "classification",
                       Selection(models=("bag_of_embeddings",), optimizers=("sgd",), regularizers=("dropout",)))
    trial = _trial()
    compose(trial, cands)
    assert trial.params["model"] == "bag_of_embeddings"
    assert trial.params["optimizer"] == "sgd"
    assert "regularizer.weight_decay" not in trial.params


def test_sklearn_only_selection_offers_no_torch_regularizers(registry: Registry) -> None:
    cands = candidates(registry, "nlp", "classification", Selection(models=("tfidf_linear",)))
    assert cands.optimizers == () and cands.regularizers == ()


@pytest.mark.parametrize(
    ("selection", "message"),
    [
        (Selection(models=("nope",)), "unknown model plugin 'nope'; installed:"),
        (Selection(models=("small_cnn",)), "does not apply to nlp"),
        (Selection(optimizers=("lbfgs",)), "unknown optimizer plugin 'lbfgs'"),
    ],
)
def test_bad_selection_names_the_problem(registry: Registry, selection: Selection, message: str) -> None:
    with pytest.raises(PluginError, match=message):
        candidates(registry, "nlp", "classification", selection)


def test_no_model_for_regression_text(registry: Registry) -> None:
    with pytest.raises(PluginError, match="no working model plugin serves task 'nlp' \\(regression\\)"):
        candidates(registry, "nlp", "regression", Selection())


class _Raising(ModelPlugin):
    name = "raising"
    tasks = frozenset({"tabular"})
    family = "sklearn"
    kinds = frozenset({"classification"})
    api_version = 1

    def search_space(self, space: Any) -> None:
        raise RuntimeError("boom")

    def build(self, params: Any, problem: Any) -> None:
        return None


def test_exception_in_search_space_is_a_plugin_error_naming_the_plugin() -> None:
    record = PluginRecord("model", "raising", "x:y", "thirdparty", "2.0", plugin=_Raising())
    cands = Candidates((record,), (), ())  # as if it had passed the pre-flight draws, then raised in a trial
    with pytest.raises(PluginError, match=r"model plugin 'raising' \(thirdparty 2.0\): search_space\(\) raised "
                                          r"RuntimeError: boom"):
        compose(_trial(), cands)


def test_heavy_models_join_only_on_a_gpu_or_when_named(registry: Registry) -> None:
    heavy = {r.name for r in registry.models("nlp") if r.plugin.heavy}
    assert {"textcnn", "rnn", "transformer"} <= heavy
    on_cpu = {r.name for r in candidates(registry, "nlp", "classification", Selection()).models}
    on_gpu = {r.name for r in candidates(registry, "nlp", "classification", Selection(), accelerated=True).models}
    assert not on_cpu & heavy and on_gpu == on_cpu | heavy
    named = candidates(registry, "nlp", "classification", Selection(models=("rnn", "tfidf_nb")))
    assert [r.name for r in named.models] == ["rnn", "tfidf_nb"] and named.optimizers


def test_a_search_over_more_rows_than_a_models_max_search_rows_leaves_it_out_with_a_note(registry: Registry) -> None:
    knn = registry.get("model", "k_neighbors").plugin
    limit = knn.max_search_rows
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        at_limit = {r.name for r in candidates(registry, "tabular", "classification", Selection(),
                                               n_rows=limit).models}
        above = {r.name for r in candidates(registry, "tabular", "classification", Selection(),
                                            n_rows=limit + 1).models}
    assert "k_neighbors" in at_limit and above == at_limit - {"k_neighbors"}
    notes = [str(w.message) for w in caught if issubclass(w.category, PluginWarning)]
    assert notes == [f"model 'k_neighbors' left out of this search: the data has {limit + 1:,} rows, more than its "
                     f"max_search_rows ({limit:,}); name it in --models (models=[...]) to search it anyway (fitted "
                     f"on at most {knn.max_train_rows:,} training rows)"]


def test_a_named_model_is_searched_whatever_the_rows(registry: Registry) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # and without a note
        named = candidates(registry, "tabular", "classification", Selection(models=("k_neighbors", "linear")),
                           n_rows=10**7)
    assert [r.name for r in named.models] == ["k_neighbors", "linear"]


def test_a_probability_metric_leaves_out_models_without_probabilities(registry: Registry) -> None:
    models = {r.name for r in candidates(registry, "nlp", "classification", Selection(), needs_proba=True).models}
    assert "tfidf_svm" not in models and {"tfidf_linear", "tfidf_nb"} <= models
    vision = {r.name for r in candidates(registry, "vision", "classification", Selection(), needs_proba=True).models}
    assert "pixel_svc" not in vision and "small_cnn" in vision
    with pytest.raises(PluginError, match="'tfidf_svm' does not apply to nlp classification scored by class prob"):
        candidates(registry, "nlp", "classification", Selection(models=("tfidf_svm",)), needs_proba=True)


def test_regularizers_are_offered_only_for_their_problem_kinds(registry: Registry) -> None:
    def offered(kind: str) -> set[str]:
        return {r.name for r in candidates(registry, "tabular", kind, Selection(models=("mlp",))).regularizers}

    assert "label_smoothing" in offered("classification") and "label_smoothing" not in offered("regression")
    assert {"weight_decay", "dropout", "mixup"} <= offered("regression")


class _OwnsOptimizer(ModelPlugin):
    name = "finetuned"
    api_version = 1
    tasks = frozenset({"tabular"})
    family = "torch"
    owns_optimizer = True

    def search_space(self, space: Any) -> None:
        space.suggest_float("lr", 1e-5, 1e-4, log=True)

    def build(self, params: Any, problem: Any) -> Any:
        raise NotImplementedError


def test_a_model_owning_its_optimizer_is_composed_without_one(registry: Registry) -> None:
    owner = PluginRecord("model", "finetuned", "x:y", "thirdparty", "1.0", plugin=_OwnsOptimizer())
    mixed = Registry([*registry.records, owner])
    cands = candidates(mixed, "tabular", "classification", Selection(models=("finetuned", "mlp")))
    assert cands.optimizers and cands.regularizers  # mlp still needs an optimizer
    seen = set()
    for _ in range(20):
        trial = _trial()
        config = compose(trial, cands)
        seen.add(config.model.name)
        if config.model.name == "finetuned":
            assert config.optimizer is None and "optimizer" not in trial.params
            assert "model.finetuned.lr" in trial.params
    assert seen == {"finetuned", "mlp"}
    alone = candidates(Registry([owner]), "tabular", "classification", Selection())
    assert alone.models == (owner,) and alone.optimizers == ()  # no optimizer plugin needed at all


def test_explore_finds_conditional_parameters_and_describe_prints_ranges(registry: Registry) -> None:
    found = explore(registry.get("optimizer", "sgd"), n_draws=64)
    assert {"lr", "momentum", "nesterov", "schedule", "warmup_fraction", "step_gamma"} <= set(found)
    assert describe(found["lr"]) == "0.01..0.5 log"
    assert describe(found["nesterov"]) == "False / True"
    assert describe(optuna.distributions.IntDistribution(2, 10, step=2)) == "2..10 step 2"
    assert describe(optuna.distributions.CategoricalDistribution(["/some/path"])) == "(fixed)"


def test_explore_reports_an_invalid_space_with_the_plugin_name() -> None:
    record = PluginRecord("model", "raising", "x:y", "thirdparty", "1.0", plugin=_Raising())
    with pytest.raises(PluginError, match="model plugin 'raising' \\(thirdparty 1.0\\): search_space\\(\\) raised"):
        explore(record, n_draws=2)


class _BadLogRange(_Raising):
    name = "bad_log"

    def search_space(self, space: Any) -> None:
        space.suggest_float("scale", 0.0, 1.0, log=True)


class _Started(_Raising):
    """A model with a conditional space: ``kind`` a or b; ``depth`` 1-3 only with b."""

    name = "started"
    starting_points = ({"kind": "a"}, {"kind": "b", "depth": 2})

    def search_space(self, space: Any) -> None:
        if space.suggest_categorical("kind", ["a", "b"]) == "b":
            space.suggest_int("depth", 1, 3)


@pytest.mark.parametrize(("points", "expected"), [
    (({"kind": "b"},), r"starting_points\[0\] is not a draw of its space: it names kind; the space suggests depth, "
                       r"kind with those values"),
    (({"kind": "a", "depth": 2},), r"it names depth, kind; the space suggests kind with those values"),
    (({"kind": "b", "depth": 7},), r"starting_points\[0\]: depth=7 is outside its range 1\.\.3"),
    (({"kind": "c"},), r"parameter 'kind'.*\(starting_points\[0\]\)"),
], ids=["lacks-a-parameter", "names-one-not-suggested", "out-of-range", "not-a-choice"])
def test_starting_points_that_are_no_draw_of_the_space_are_caught_before_any_trial(
        registry: Registry, points: tuple, expected: str) -> None:
    started = _Started()
    started.starting_points = points
    record = PluginRecord("model", "started", "x:y", "thirdparty", "1.0", plugin=started)
    mixed = Registry([*registry.records, record])
    with pytest.warns(PluginWarning, match=expected):
        cands = candidates(mixed, "tabular", "classification", Selection())
    assert "started" not in {r.name for r in cands.models}
    with pytest.raises(SearchSpaceError, match=expected):
        candidates(mixed, "tabular", "classification", Selection(models=("started",)))


def test_starting_trials_are_the_candidates_points_as_trial_parameters(registry: Registry) -> None:
    record = PluginRecord("model", "started", "x:y", "thirdparty", "1.0", plugin=_Started())
    cands = candidates(Registry([*registry.records, record]), "tabular", "classification",
                       Selection(models=("linear", "started")))
    assert starting_trials(cands) == [{"model": "started", "model.started.kind": "a"},
                                      {"model": "started", "model.started.kind": "b", "model.started.depth": 2}]
    for params in starting_trials(cands):  # each one composes to exactly those parameters
        study = optuna.create_study()
        study.enqueue_trial(params)
        trial = study.ask()
        compose(trial, cands)
        assert trial.params == params


def test_a_plugin_with_an_invalid_space_is_left_out_before_any_trial(registry: Registry) -> None:
    bad = PluginRecord("model", "bad_log", "x:y", "thirdparty", "1.0", plugin=_BadLogRange())
    mixed = Registry([*registry.records, bad])
    with pytest.warns(PluginWarning, match="model plugin 'bad_log' \\(thirdparty 1.0\\): parameter 'scale': a log "
                                           "range needs low > 0.*left out of this search"):
        cands = candidates(mixed, "tabular", "classification", Selection())
    assert "bad_log" not in {r.name for r in cands.models} and "linear" in {r.name for r in cands.models}
    with pytest.raises(SearchSpaceError, match="model plugin 'bad_log' \\(thirdparty 1.0\\): parameter 'scale'"):
        candidates(mixed, "tabular", "classification", Selection(models=("bad_log", "linear")))


def test_the_order_models_are_named_in_does_not_change_the_space(registry: Registry) -> None:
    one = candidates(registry, "nlp", "classification", Selection(models=("tfidf_nb", "bag_of_embeddings")))
    other = candidates(registry, "nlp", "classification", Selection(models=("bag_of_embeddings", "tfidf_nb")))
    assert one == other  # so a study resumed with --models b,a gets the same choice distribution as a,b
    trials = [_trial(), _trial()]
    compose(trials[0], one), compose(trials[1], other)
    assert trials[0].distributions["model"] == trials[1].distributions["model"]


class _BadOptimizer(OptimizerPlugin):
    name = "bad_opt"
    api_version = 1

    def search_space(self, space: Any) -> None:
        space.suggest_float("lr", 1.0, 0.1)

    def build(self, params: Any, parameters: Any, overrides: Any) -> Any:
        raise NotImplementedError


def test_pre_flight_draws_only_the_plugins_a_search_can_use(registry: Registry) -> None:
    bad = PluginRecord("optimizer", "bad_opt", "x:y", "thirdparty", "1.0", plugin=_BadOptimizer())
    mixed = Registry([*registry.records, bad])
    with warnings.catch_warnings():
        warnings.simplefilter("error", PluginWarning)  # no torch model: the optimizer is never drawn
        cands = candidates(mixed, "tabular", "classification", Selection(models=("linear",)))
    assert cands.optimizers == ()
    with pytest.warns(PluginWarning, match="optimizer plugin 'bad_opt'"):
        cands = candidates(mixed, "tabular", "classification", Selection(models=("mlp",)))
    assert "bad_opt" not in {r.name for r in cands.optimizers}


def test_configure_rebuilds_exactly_what_compose_drew(registry: Registry) -> None:
    """Only the flat parameter dict crosses from the sampler to a worker: it must stand for the same config."""
    cands = candidates(registry, "tabular", "classification", Selection())
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=1))
    families = set()
    for _ in range(40):
        trial = study.ask()
        drawn = compose(trial, cands)
        rebuilt = configure(trial.params, cands)
        assert (rebuilt.model, rebuilt.model_params, rebuilt.optimizer, rebuilt.optimizer_params) == (
            drawn.model, drawn.model_params, drawn.optimizer, drawn.optimizer_params)
        assert rebuilt.regularizers == drawn.regularizers
        families.add(drawn.model.plugin.family)
        study.tell(trial, 0.0)
    assert families == {"sklearn", "torch"}  # both shapes of configuration were drawn
    with pytest.raises(SearchSpaceError, match="choose model 'gone', which is not among this search's candidates"):
        configure({"model": "gone"}, cands)
