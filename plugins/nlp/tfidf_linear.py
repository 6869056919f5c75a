"""TF-IDF features and a logistic regression: the strong, fast baseline of text classification."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression

from automl.protocols import API_VERSION, ModelPlugin, ParamSpace, Problem


class TfidfLinear(ModelPlugin):
    """TF-IDF + logistic regression.

    Space: ``ngram_max`` 1-2 (word bigrams help with negation), ``min_df`` 1-3 (drop typos), ``sublinear_tf``
    (damp repeated words), ``C`` 1e-2..1e2 log (inverse L2 strength; TF-IDF rows are unit-norm, so the useful
    range is wide).
    """

    name = "tfidf_linear"
    api_version = API_VERSION
    tasks = frozenset({"nlp"})
    family = "sklearn"

    def search_space(self, space: ParamSpace) -> None:
        space.suggest_int("ngram_max", 1, 2)
        space.suggest_int("min_df", 1, 3)
        space.suggest_categorical("sublinear_tf", [True, False])
        space.suggest_float("C", 1e-2, 1e2, log=True)

    def featurizer(self, params: Mapping[str, Any]) -> TfidfVectorizer:
        return TfidfVectorizer(ngram_range=(1, params["ngram_max"]), min_df=params["min_df"],
                               sublinear_tf=params["sublinear_tf"], dtype=np.float64)

    def build(self, params: Mapping[str, Any], problem: Problem) -> LogisticRegression:
        return LogisticRegression(C=params["C"], max_iter=2000)
