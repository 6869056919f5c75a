"""The TF-IDF featurizer shared by the sparse linear text models (tfidf_linear, tfidf_svm, tfidf_nb).

One search space and one builder, so every TF-IDF model searches the same features under the same parameter
names (``analyzer``, ``ngram_max`` or ``char_ngram_max``, ``min_df``, ``sublinear_tf``), and equal choices give
equal featurizer parameters (so featurized folds can be shared between these models).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer

from automl.protocols import ParamSpace

__all__ = ["CHAR_NGRAM_MIN", "MAX_FEATURES", "suggest_tfidf", "tfidf_featurizer"]

#: Cap on the vocabulary, whichever analyzer: keeps the cost of char n-grams (and of word bigrams on a large
#: corpus) bounded. On the default 12.8k snippets neither analyzer reaches it (word 1-2: ~120k terms per fold,
#: char_wb 2-5: ~100k).
MAX_FEATURES = 200_000
#: Shortest character n-gram: single characters carry next to no sentiment signal.
CHAR_NGRAM_MIN = 2


def suggest_tfidf(space: ParamSpace) -> None:
    """Suggest the featurizer parameters.

    * ``analyzer``: ``"word"`` or ``"char_wb"`` (character n-grams inside word boundaries: robust to typos,
      inflections and rare words, which matter on short snippets with a small training set).
    * ``ngram_max`` (word only): 1-2; word bigrams capture negation ("not good").
    * ``char_ngram_max`` (char_wb only): 3-5, n-grams from 2 characters up; longer n-grams add features and
      featurizing time (2-5 is ~3 s per fold of 10k snippets on one core) for little gain.
    * ``min_df``: 1-3, drops terms seen in fewer documents (typos, names).
    * ``sublinear_tf``: ``1 + log(tf)`` damps repeated terms.
    """
    if space.suggest_categorical("analyzer", ["word", "char_wb"]) == "word":
        space.suggest_int("ngram_max", 1, 2)
    else:
        space.suggest_int("char_ngram_max", 3, 5)
    space.suggest_int("min_df", 1, 3)
    space.suggest_categorical("sublinear_tf", [True, False])


def tfidf_featurizer(params: Mapping[str, Any]) -> TfidfVectorizer:
    """The unfitted vectorizer of ``params`` (as suggested by :func:`suggest_tfidf`).

    Parameters from before the analyzer was searchable (no ``analyzer``) mean word n-grams.
    """
    analyzer = params.get("analyzer", "word")
    if analyzer == "word":
        ngram_range = (1, params["ngram_max"])
    elif analyzer == "char_wb":
        ngram_range = (CHAR_NGRAM_MIN, params["char_ngram_max"])
    else:
        raise ValueError(f"unknown TF-IDF analyzer {analyzer!r}")
    return TfidfVectorizer(analyzer=analyzer, ngram_range=ngram_range, min_df=params["min_df"],
                           sublinear_tf=params["sublinear_tf"], max_features=MAX_FEATURES, dtype=np.float64)
