"""TF-IDF features and a linear support-vector machine."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from automl.protocols import API_VERSION, ModelPlugin, ParamSpace, Problem

from ._tfidf import WORDS_AND_CHARS, suggest_tfidf, tfidf_featurizer

if TYPE_CHECKING:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.svm import LinearSVC


class TfidfSVM(ModelPlugin):
    """TF-IDF + LinearSVC (squared hinge loss, L2 penalty).

    Space: the shared TF-IDF features (see :func:`automl_plugins.nlp._tfidf.suggest_tfidf`: ``analyzer`` word
    or char_wb, ``ngram_max`` 1-2 and/or ``char_ngram_max`` 3-5, ``with_words``, ``min_df`` 1-3,
    ``sublinear_tf``), and ``C``
    1e-3..1e1 log. On unit-norm TF-IDF rows the hinge loss saturates sooner than the logistic loss, so the
    best C sits lower than logistic regression's (typically 0.1-1); above 10 liblinear converges slowly and
    overfits. Starts from word 1-2-grams beside char_wb 2-5-grams with C=0.3
    (:data:`~automl_plugins.nlp._tfidf.WORDS_AND_CHARS`: 0.7916 5-fold on the default data; its fit on those
    features takes about two thirds of logistic regression's).

    LinearSVC has no ``predict_proba`` (``probabilities = False``): a search scored by a probability metric (log
    loss, ROC AUC) leaves this model out; tfidf_linear serves there.
    """

    name = "tfidf_svm"
    api_version = API_VERSION
    tasks = frozenset({"nlp"})
    family = "sklearn"
    probabilities = False
    starting_points = ({**WORDS_AND_CHARS, "C": 0.3},)

    def search_space(self, space: ParamSpace) -> None:
        suggest_tfidf(space)
        space.suggest_float("C", 1e-3, 1e1, log=True)

    def featurizer(self, params: Mapping[str, Any]) -> TfidfVectorizer:
        return tfidf_featurizer(params)

    def build(self, params: Mapping[str, Any], problem: Problem) -> LinearSVC:
        from sklearn.svm import LinearSVC

        return LinearSVC(C=params["C"], max_iter=5000, random_state=problem.seed)
