"""TF-IDF features and a logistic regression: the strong, fast baseline of text classification."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from automl.protocols import API_VERSION, ModelPlugin, ParamSpace, Problem

from ._tfidf import WORDS_AND_CHARS, suggest_tfidf, tfidf_featurizer

if TYPE_CHECKING:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression


class TfidfLinear(ModelPlugin):
    """TF-IDF + logistic regression.

    Space: the shared TF-IDF features (see :func:`automl_plugins.nlp._tfidf.suggest_tfidf`: ``analyzer`` word
    or char_wb, ``ngram_max`` 1-2 and/or ``char_ngram_max`` 3-5, ``with_words``, ``min_df`` 1-3,
    ``sublinear_tf``), and ``C``
    1e-2..1e2 log (inverse L2 strength; TF-IDF rows are unit-norm, so the useful range is wide).

    Starts from word 1-2-grams beside char_wb 2-5-grams with C=4 (:data:`~automl_plugins.nlp._tfidf.WORDS_AND_CHARS`:
    the pipeline a user would write by hand, less the terms of a single snippet; 0.7907 5-fold on the default data).
    """

    name = "tfidf_linear"
    api_version = API_VERSION
    tasks = frozenset({"nlp"})
    family = "sklearn"
    starting_points = ({**WORDS_AND_CHARS, "C": 4.0},)

    def search_space(self, space: ParamSpace) -> None:
        suggest_tfidf(space)
        space.suggest_float("C", 1e-2, 1e2, log=True)

    def featurizer(self, params: Mapping[str, Any]) -> TfidfVectorizer:
        return tfidf_featurizer(params)

    def build(self, params: Mapping[str, Any], problem: Problem) -> LogisticRegression:
        from sklearn.linear_model import LogisticRegression

        return LogisticRegression(C=params["C"], max_iter=2000)
