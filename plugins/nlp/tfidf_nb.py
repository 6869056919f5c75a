"""TF-IDF features and complement naive Bayes: the cheapest text classifier, strong on short texts."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.naive_bayes import ComplementNB

from automl.protocols import API_VERSION, ModelPlugin, ParamSpace, Problem

from ._tfidf import suggest_tfidf, tfidf_featurizer


class TfidfNB(ModelPlugin):
    """TF-IDF + ComplementNB (naive Bayes estimated on the complement of each class, which suits imbalanced
    classes better than multinomial NB).

    Space: the shared TF-IDF features (see :func:`automl_plugins.nlp._tfidf.suggest_tfidf`: ``analyzer`` word
    or char_wb, ``ngram_max`` 1-2 or ``char_ngram_max`` 3-5, ``min_df`` 1-3, ``sublinear_tf``), and ``alpha``
    1e-2..1e1 log (additive smoothing of the term weights: TF-IDF weights per term are small, so useful values
    are around 0.1-1; below 1e-2 rare terms dominate). ComplementNB needs non-negative features, which TF-IDF is.
    """

    name = "tfidf_nb"
    api_version = API_VERSION
    tasks = frozenset({"nlp"})
    family = "sklearn"

    def search_space(self, space: ParamSpace) -> None:
        suggest_tfidf(space)
        space.suggest_float("alpha", 1e-2, 1e1, log=True)

    def featurizer(self, params: Mapping[str, Any]) -> TfidfVectorizer:
        return tfidf_featurizer(params)

    def build(self, params: Mapping[str, Any], problem: Problem) -> ComplementNB:
        return ComplementNB(alpha=params["alpha"])
