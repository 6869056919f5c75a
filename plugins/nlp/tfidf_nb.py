"""TF-IDF features and complement naive Bayes: the cheapest text classifier, strong on short texts."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from automl.protocols import API_VERSION, ModelPlugin, ParamSpace, Problem

from ._tfidf import WORDS_AND_CHARS, suggest_tfidf, tfidf_featurizer

if TYPE_CHECKING:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.naive_bayes import ComplementNB


class TfidfNB(ModelPlugin):
    """TF-IDF + ComplementNB (naive Bayes estimated on the complement of each class, which suits imbalanced
    classes better than multinomial NB).

    Space: the shared TF-IDF features (see :func:`automl_plugins.nlp._tfidf.suggest_tfidf`: ``analyzer`` word
    or char_wb, ``ngram_max`` 1-2 and/or ``char_ngram_max`` 3-5, ``with_words``, ``min_df`` 1-3,
    ``sublinear_tf``), and ``alpha``
    1e-2..1e1 log (additive smoothing of the term weights: TF-IDF weights per term are small, so useful values
    are around 0.1-1; below 1e-2 rare terms dominate). ComplementNB needs non-negative features, which TF-IDF is.

    Starts from word 1-2-grams beside char_wb 2-5-grams with alpha 0.3
    (:data:`~automl_plugins.nlp._tfidf.WORDS_AND_CHARS`): 0.7972 5-fold on the default data, the best TF-IDF model
    measured, in the cheapest fit (2-3 s for 5 folds, against 30-50 s for logistic regression).
    """

    name = "tfidf_nb"
    api_version = API_VERSION
    tasks = frozenset({"nlp"})
    family = "sklearn"
    starting_points = ({**WORDS_AND_CHARS, "alpha": 0.3},)

    def search_space(self, space: ParamSpace) -> None:
        suggest_tfidf(space)
        space.suggest_float("alpha", 1e-2, 1e1, log=True)

    def featurizer(self, params: Mapping[str, Any]) -> TfidfVectorizer:
        return tfidf_featurizer(params)

    def build(self, params: Mapping[str, Any], problem: Problem) -> ComplementNB:
        from sklearn.naive_bayes import ComplementNB

        return ComplementNB(alpha=params["alpha"])
