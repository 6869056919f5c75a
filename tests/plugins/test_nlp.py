"""The NLP model plugins: conformance, better-than-baseline accuracy on the default data, padding masks, features."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import joblib
import numpy as np
import optuna
import pandas as pd
import pytest
import torch
from automl_plugins.nlp._tfidf import suggest_tfidf, tfidf_featurizer
from automl_plugins.nlp._tokens import PAD
from automl_plugins.nlp.bag_of_embeddings import BagOfEmbeddings
from automl_plugins.nlp.rnn import RNN
from automl_plugins.nlp.textcnn import TextCNN
from automl_plugins.nlp.tfidf_linear import TfidfLinear
from automl_plugins.nlp.tfidf_nb import TfidfNB
from automl_plugins.nlp.tfidf_svm import TfidfSVM
from automl_plugins.nlp.transformer import Transformer
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.pipeline import FeatureUnion
from torch import nn

import automl
from automl.cv import FoldReporter, cross_validate, make_splits
from automl.datasets import Dataset, load_dataset, make_dataset
from automl.features import featurize
from automl.metrics import get_metric
from automl.protocols import ModelPlugin, Problem
from automl.registry import PluginRecord
from automl.reporter import MemoryReporter
from automl.space import Config, check_starting_points
from automl.testing import check_plugin

PLUGINS = [TfidfLinear, TfidfSVM, TfidfNB, BagOfEmbeddings, TextCNN, RNN, Transformer]
MAJORITY = 0.578  # share of the larger class in the default NLP data

WORD = {"analyzer": "word", "ngram_max": 2, "min_df": 1, "sublinear_tf": True}
CHAR = {"analyzer": "char_wb", "char_ngram_max": 4, "min_df": 2, "sublinear_tf": True}
TRAIN = {"max_vocab": 8000, "epochs": 4, "batch_size": 64}
#: A reasonable fixed configuration of each plugin (the char analyzer is covered by tfidf_svm).
CONFIGS: list[tuple[type[ModelPlugin], dict[str, Any]]] = [
    (TfidfLinear, {**WORD, "C": 10.0}),
    (TfidfSVM, {**CHAR, "C": 0.3}),
    (TfidfNB, {**WORD, "alpha": 0.3}),
    (BagOfEmbeddings, {"ngram": 2, "max_vocab": 8000, "dim": 32, "epochs": 4, "batch_size": 128}),
    (TextCNN, {**TRAIN, "dim": 48, "kernels": "1-2-3", "filters": 48}),
    (RNN, {**TRAIN, "dim": 48, "cell": "lstm", "hidden": 32, "layers": 1, "pooling": "max"}),
    (Transformer, {**TRAIN, "d_model": 64, "heads": 4, "layers": 1, "ff_mult": 2, "positional": "learned",
                   "pooling": "mean"}),
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


#: AdamW's rate for the torch models: the mean of embeddings learns slowly at the sequence models' 3e-3 (0.60 on
#: this split against 0.68 at 1e-2).
LR = {"bag_of_embeddings": 1e-2}


def _config(plugin: ModelPlugin, params: dict[str, Any]) -> Config:
    record = PluginRecord("model", plugin.name, "x:y", "test", "1", plugin=plugin)
    if plugin.family == "sklearn":
        return Config(model=record, model_params=params)
    return Config(model=record, model_params=params, optimizer=automl.discover().get("optimizer", "adamw"),
                  optimizer_params={"lr": LR.get(plugin.name, 3e-3), "schedule": "constant"})


@pytest.mark.parametrize(("plugin", "params"), CONFIGS, ids=[p.name for p, _ in CONFIGS])
def test_beats_the_majority_baseline(reviews: Dataset, plugin: type[ModelPlugin], params: dict[str, Any]) -> None:
    torch.manual_seed(0)
    metric = get_metric(None, "classification")
    split = make_splits(reviews, 4, 0)[:1]  # one stratified 75/25 split
    result = cross_validate(_config(plugin(), params), reviews, split, metric, FoldReporter(MemoryReporter(), metric),
                            seed=0, device=torch.device("cpu"))
    assert result.mean > 0.65 > MAJORITY


def _module(plugin: ModelPlugin, params: dict[str, Any], texts: list[str]) -> tuple[nn.Module, Any]:
    indexer = plugin.featurizer(params).fit(texts)
    problem = Problem("nlp", "classification", 2, (indexer.max_len,), indexer, seed=0)
    torch.manual_seed(0)
    return plugin.build(params, problem).eval(), indexer


TEXTS = ["a gorgeous , witty , seductive movie .", "dull", "",
         "the plot is thin and the actors look bored , but the score is lovely and the ending works"]
PADDED = [
    (RNN(), {"max_vocab": 100, "dim": 8, "cell": "gru", "hidden": 8, "layers": 2, "pooling": "mean"}),
    (RNN(), {"max_vocab": 100, "dim": 8, "cell": "lstm", "hidden": 8, "layers": 1, "pooling": "mean"}),
    (RNN(), {"max_vocab": 100, "dim": 8, "cell": "gru", "hidden": 8, "layers": 1, "pooling": "max"}),
    (Transformer(), {"max_vocab": 100, "d_model": 16, "heads": 2, "layers": 2, "ff_mult": 2,
                     "positional": "learned", "pooling": "mean"}),
    (Transformer(), {"max_vocab": 100, "d_model": 16, "heads": 4, "layers": 1, "ff_mult": 1,
                     "positional": "sinusoidal", "pooling": "cls"}),
    (TextCNN(), {"max_vocab": 100, "dim": 8, "kernels": "3-4-5", "filters": 4}),
]


@pytest.mark.parametrize(("plugin", "params"), PADDED, ids=["rnn-gru-2layers-mean", "rnn-lstm-mean", "rnn-gru-max",
                                                             "transformer-mean", "transformer-cls", "textcnn"])
def test_padding_does_not_change_the_output(plugin: ModelPlugin, params: dict[str, Any]) -> None:
    module, indexer = _module(plugin, params, TEXTS)
    ids = torch.as_tensor(indexer.transform(TEXTS))
    assert (ids[:, -1] == PAD).all()  # every row carries padding
    with torch.no_grad():
        batched = module(ids)  # short texts padded up to the longest one of the batch, and beyond
        for row, text in enumerate(TEXTS):
            length = max(1, int((ids[row] != PAD).sum()))
            alone = module(ids[row : row + 1, :length])  # the same text, unpadded
            assert torch.allclose(batched[row], alone[0], atol=1e-5), text
    assert torch.isfinite(batched).all()  # an empty text too
    module.train()  # the training path (no fast paths) handles the empty text too
    assert torch.isfinite(module(ids)).all()


@pytest.mark.parametrize("plugin", [TextCNN, RNN, Transformer], ids=lambda p: p.name)
def test_dropout_layers_start_at_zero_for_the_regularizer(plugin: type[ModelPlugin]) -> None:
    params = next(p for cls, p in CONFIGS if cls is plugin)
    module, _ = _module(plugin(), params, TEXTS)
    rates = [m.p for m in module.modules() if isinstance(m, nn.Dropout)]
    assert rates and all(rate == 0.0 for rate in rates)
    dropout = automl.discover().get("regularizer", "dropout").plugin
    dropout.configure_module({"rate": 0.3}, module)
    assert all(m.p == 0.3 for m in module.modules() if isinstance(m, nn.Dropout))


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
        union = params.get("with_words", False)
        seen.add(params["analyzer"] + "+word" * union)
        ngrams = {"word": {"ngram_max"}, "char_wb": {"char_ngram_max", "with_words", *["ngram_max"] * union}}
        assert set(params) == {"analyzer", *ngrams[params["analyzer"]], "min_df", "sublinear_tf"}
        expected = joblib.hash(tfidf_featurizer(params))
        for plugin in (TfidfLinear(), TfidfSVM(), TfidfNB()):
            assert joblib.hash(plugin.featurizer({**params, "C": 1.0, "alpha": 1.0})) == expected
    assert seen == {"word", "char_wb", "char_wb+word"}
    assert tfidf_featurizer({"ngram_max": 2, "min_df": 1, "sublinear_tf": True}).analyzer == "word"  # older studies
    assert tfidf_featurizer({**CHAR, "char_ngram_max": 3}).analyzer == "char_wb"  # from before with_words


def test_words_and_chars_are_a_union_fitted_on_the_training_rows_only() -> None:
    train = ["a gorgeous witty movie", "dull and flat", "not good at all", "witty but dull"]
    valid = ["zany romp"]  # words and characters seen only here
    union = tfidf_featurizer({"analyzer": "char_wb", "char_ngram_max": 3, "with_words": True, "ngram_max": 2,
                              "min_df": 1, "sublinear_tf": True})
    fitted, F, F_valid = featurize(union, np.array(train, dtype=object), np.zeros(4), np.array(valid, dtype=object))
    assert isinstance(fitted, FeatureUnion) and [name for name, _ in fitted.transformer_list] == ["word", "char_wb"]
    words, chars = (set(vectorizer.get_feature_names_out()) for _, vectorizer in fitted.transformer_list)
    assert {"witty", "not good", "good at"} <= words and all(1 <= len(w.split()) <= 2 for w in words)
    assert all(2 <= len(c) <= 3 for c in chars) and {" wi", "ty "} <= chars
    assert not {"zany", "romp"} & words and not {"za", "zan", " z", "mp "} & chars  # nothing of the valid rows
    assert F.shape == (4, len(words) + len(chars)) and F_valid.shape == (1, F.shape[1])
    assert np.allclose(np.linalg.norm(F.toarray()[:, :len(words)], axis=1), 1.0)  # each half normalized alone
    assert np.allclose(np.linalg.norm(F.toarray()[:, len(words):], axis=1), 1.0)


@pytest.mark.parametrize("plugin", [TfidfLinear, TfidfSVM, TfidfNB], ids=lambda p: p.name)
def test_tfidf_starting_points_are_draws_of_their_space(plugin: type[ModelPlugin]) -> None:
    record = PluginRecord("model", plugin.name, "x:y", "test", "1", plugin=plugin())
    check_starting_points(record)  # raises when not
    assert plugin.starting_points and all(isinstance(plugin().featurizer(point), (TfidfVectorizer, FeatureUnion))
                                          for point in plugin.starting_points)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
@pytest.mark.parametrize(("plugin", "params"), [c for c in CONFIGS if c[0].family == "torch"],
                         ids=[p.name for p, _ in CONFIGS if p.family == "torch"])
def test_sequence_models_train_under_bf16_autocast_on_a_gpu(reviews: Dataset, plugin: type[ModelPlugin],
                                                            params: dict[str, Any]) -> None:
    metric = get_metric(None, "classification")
    result = cross_validate(_config(plugin(), params), reviews, make_splits(reviews, 4, 0)[:1], metric,
                            FoldReporter(MemoryReporter(), metric), seed=0, device=torch.device("cuda"))
    assert result.mean > 0.65


def test_a_words_and_chars_model_refits_saves_and_loads(tmp_path: Path) -> None:
    """The union starting point of tfidf_svm (the first trial of a new study) refits into a model directory whose
    skops file loads back (FeatureUnion is a trusted scikit-learn type) and predicts the same."""
    from automl.testing import synthetic_dataset

    data = synthetic_dataset("nlp", n=40)
    csv = tmp_path / "texts.csv"
    pd.DataFrame({"text": data.X, "label": np.asarray(data.classes)[data.y]}).to_csv(csv, index=False)
    result = automl.search("nlp", csv, models=["tfidf_svm"], n_trials=1, folds=2,
                           storage=f"sqlite:///{tmp_path}/s.db", study="s")
    assert result.best_params["model.tfidf_svm.with_words"] is True
    model = automl.refit(result.study, out=tmp_path / "model")
    assert isinstance(model.fitted.problem.featurizer, FeatureUnion)
    loaded = automl.load_model(tmp_path / "model")
    texts = list(data.X[:8])
    assert list(loaded.predict(texts)) == list(model.predict(texts))
