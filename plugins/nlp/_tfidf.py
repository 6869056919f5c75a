"""The TF-IDF featurizer shared by the sparse linear text models (tfidf_linear, tfidf_svm, tfidf_nb).

One search space and one builder, so every TF-IDF model searches the same features under the same parameter
names (``analyzer``, ``ngram_max`` and/or ``char_ngram_max``, ``with_words``, ``min_df``, ``sublinear_tf``), and
equal choices give equal featurizer parameters (so featurized folds can be shared between these models).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from automl.protocols import ParamSpace

if TYPE_CHECKING:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.pipeline import FeatureUnion

__all__ = ["CHAR_NGRAM_MIN", "MAX_FEATURES", "WORDS_AND_CHARS", "suggest_tfidf", "tfidf_featurizer"]

#: Cap on the vocabulary, whichever analyzer: keeps the cost of char n-grams (and of word bigrams on a large
#: corpus) bounded. On the default 12.8k snippets neither analyzer reaches it (word 1-2: ~120k terms per fold,
#: char_wb 2-5: ~100k).
MAX_FEATURES = 200_000
#: Shortest character n-gram: single characters carry next to no sentiment signal.
CHAR_NGRAM_MIN = 2
#: Word 1-2-grams beside char_wb 2-5-grams, terms seen in 2+ snippets, raw term counts: the union a user would
#: write by hand (which keeps every term: ``min_df`` 1) made cheaper and better for naive Bayes. The strongest
#: features of this space measured on the default data, 5-fold on the study's splits: ComplementNB alpha 0.3 0.7972
#: (0.7801 at ``min_df`` 1), LinearSVC C=0.3 0.7916, logistic regression C=4 0.7907 (0.7914 at ``min_df`` 1: the
#: hand-written pipeline); word 1-2-grams alone reached 0.785. The TF-IDF models start a search from it (their
#: ``starting_points``), all three on the same features, which a featurization cache fits once per fold.
WORDS_AND_CHARS: Mapping[str, Any] = {"analyzer": "char_wb", "char_ngram_max": 5, "with_words": True,
                                      "ngram_max": 2, "min_df": 2, "sublinear_tf": False}


def suggest_tfidf(space: ParamSpace) -> None:
    """Suggest the featurizer parameters.

    * ``analyzer``: ``"word"`` or ``"char_wb"`` (character n-grams inside word boundaries: robust to typos,
      inflections and rare words, which matter on short snippets with a small training set).
    * ``char_ngram_max`` (char_wb only): 3-5, n-grams from 2 characters up; longer n-grams add features and
      featurizing time (2-5 is ~3 s per fold of 10k snippets on one core) for little gain.
    * ``with_words`` (char_wb only): also word n-grams, a second vectorizer beside the character one (a
      ``FeatureUnion``; each half is L2-normalized on its own): characters catch inflections and typos, words
      negation and phrases. A parameter of its own rather than a third ``analyzer`` choice, so that studies made
      before it existed (whose ``analyzer`` has two choices) still resume.
    * ``ngram_max`` (word, or char_wb with words): 1-2; word bigrams capture negation ("not good").
    * ``min_df``: 1-3, drops terms seen in fewer documents (typos, names).
    * ``sublinear_tf``: ``1 + log(tf)`` damps repeated terms.
    """
    if space.suggest_categorical("analyzer", ["word", "char_wb"]) == "word":
        space.suggest_int("ngram_max", 1, 2)
    else:
        space.suggest_int("char_ngram_max", 3, 5)
        if space.suggest_categorical("with_words", [False, True]):
            space.suggest_int("ngram_max", 1, 2)
    space.suggest_int("min_df", 1, 3)
    space.suggest_categorical("sublinear_tf", [True, False])


def tfidf_featurizer(params: Mapping[str, Any]) -> TfidfVectorizer | FeatureUnion:
    """The unfitted vectorizer of ``params`` (as suggested by :func:`suggest_tfidf`): a ``FeatureUnion`` of a
    ``word`` and a ``char_wb`` vectorizer (in that order) when ``with_words`` is on.

    Parameters from before the analyzer was searchable (no ``analyzer``) mean word n-grams; from before
    ``with_words`` existed, characters alone.
    """
    analyzer = params.get("analyzer", "word")
    if analyzer == "word":
        return _vectorizer("word", (1, params["ngram_max"]), params)
    if analyzer != "char_wb":
        raise ValueError(f"unknown TF-IDF analyzer {analyzer!r}")
    chars = _vectorizer("char_wb", (CHAR_NGRAM_MIN, params["char_ngram_max"]), params)
    if not params.get("with_words", False):
        return chars
    from sklearn.pipeline import FeatureUnion

    return FeatureUnion([("word", _vectorizer("word", (1, params["ngram_max"]), params)), ("char_wb", chars)])


def _vectorizer(analyzer: str, ngram_range: tuple[int, int], params: Mapping[str, Any]) -> TfidfVectorizer:
    import numpy as np
    from sklearn.feature_extraction.text import TfidfVectorizer

    return TfidfVectorizer(analyzer=analyzer, ngram_range=ngram_range, min_df=params["min_df"],
                           sublinear_tf=params["sublinear_tf"], max_features=MAX_FEATURES, dtype=np.float64)
