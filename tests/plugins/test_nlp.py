"""The NLP model plugins: conformance, better-than-baseline accuracy on the default data, padding masks, features."""

from __future__ import annotations

from typing import Any

import numpy as np
import optuna
import pytest
from automl_plugins.nlp._tfidf import suggest_tfidf, tfidf_featurizer
from automl_plugins.nlp.tfidf_linear import TfidfLinear
from automl_plugins.nlp.tfidf_nb import TfidfNB
from automl_plugins.nlp.tfidf_svm import TfidfSVM

from automl.cv import FoldReporter, cross_validate, make_splits
from automl.datasets import Dataset, load_dataset, make_dataset
from automl.metrics import get_metric
from automl.protocols import ModelPlugin
from automl.registry import PluginRecord
from automl.space import Config
from automl.testing import check_plugin

PLUGINS = [TfidfLinear, TfidfSVM, TfidfNB]
MAJORITY = 0.578  # share of the larger class in the default NLP data

WORD = {"analyzer": "word", "ngram_max": 2, "min_df": 1, "sublinear_tf": True}
CHAR = {"analyzer": "char_wb", "char_ngram_max": 4, "min_df": 2, "sublinear_tf": True}
#: A reasonable fixed configuration of each plugin (the char analyzer is covered by tfidf_svm).
CONFIGS: list[tuple[type[ModelPlugin], dict[str, Any]]] = [
    (TfidfLinear, {**WORD, "C": 10.0}),
    (TfidfSVM, {**CHAR, "C": 0.3}),
    (TfidfNB, {**WORD, "alpha": 0.3}),
]


@pytest.mark.parametrize("plugin", PLUGINS, ids=lambda p: p.name)
def test_conformance(plugin: type[ModelPlugin]) -> None:
    check_plugin(plugin(), "model", n_samples=3)


@pytest.fixture(scope="module")
def reviews() -> Dataset:
    """A stratified 4,000-row sample of the default NLP data."""
    data = load_dataset("nlp")
    rows = np.sort(make_splits(data, 3, 0)[0][1][:4000])  # a validation fold is a stratified sample
    return make_dataset("reviews-4k", "nlp", data.X[rows], np.asarray(data.classes)[data.y[rows]], "builtin",
                        kind="classification")


def _config(plugin: ModelPlugin, params: dict[str, Any]) -> Config:
    return Config(model=PluginRecord("model", plugin.name, "x:y", "test", "1", plugin=plugin), model_params=params)


@pytest.mark.parametrize(("plugin", "params"), CONFIGS, ids=[p.name for p, _ in CONFIGS])
def test_beats_the_majority_baseline(reviews: Dataset, plugin: type[ModelPlugin], params: dict[str, Any]) -> None:
    metric = get_metric(None, "classification")
    trial = optuna.create_study(direction="maximize").ask()
    split = make_splits(reviews, 4, 0)[:1]  # one stratified 75/25 split
    result = cross_validate(_config(plugin(), params), reviews, split, metric, FoldReporter(trial, metric), seed=0)
    assert result.mean > 0.65 > MAJORITY


def test_char_analyzer_produces_character_ngrams() -> None:
    vectorizer = tfidf_featurizer({**CHAR, "char_ngram_max": 4, "min_df": 1}).fit(["good movie", "bad film"])
    terms = set(vectorizer.get_feature_names_out())
    assert {" go", "good", "ood ", "film", " bad"} <= terms
    assert all(2 <= len(term) <= 4 for term in terms)
    assert not any(" " in term.strip() for term in terms)  # char_wb: n-grams never cross a word boundary
    words = set(tfidf_featurizer({**WORD, "min_df": 1}).fit(["good movie", "bad film"]).get_feature_names_out())
    assert words == {"good", "movie", "good movie", "bad", "film", "bad film"}


class _Space:
    def __init__(self, trial: optuna.Trial) -> None:
        self.trial = trial

    def suggest_int(self, name: str, low: int, high: int, **kwargs: Any) -> int:
        return self.trial.suggest_int(name, low, high, **kwargs)

    def suggest_float(self, name: str, low: float, high: float, **kwargs: Any) -> float:
        return self.trial.suggest_float(name, low, high, **kwargs)

    def suggest_categorical(self, name: str, choices: Any) -> Any:
        return self.trial.suggest_categorical(name, choices)


def test_tfidf_models_share_one_featurizer_space() -> None:
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    seen = set()
    for _ in range(30):
        trial = study.ask()
        suggest_tfidf(_Space(trial))
        params = trial.params
        seen.add(params["analyzer"])
        ngram = "ngram_max" if params["analyzer"] == "word" else "char_ngram_max"
        assert set(params) == {"analyzer", ngram, "min_df", "sublinear_tf"}
        expected = tfidf_featurizer(params).get_params()
        for plugin in (TfidfLinear(), TfidfSVM(), TfidfNB()):
            assert plugin.featurizer({**params, "C": 1.0, "alpha": 1.0}).get_params() == expected
    assert seen == {"word", "char_wb"}
    assert tfidf_featurizer({"ngram_max": 2, "min_df": 1, "sublinear_tf": True}).analyzer == "word"  # older studies
