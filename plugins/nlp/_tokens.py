"""Turning texts into padded token-id arrays, with a vocabulary learnt from the training fold only."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin

PAD, UNKNOWN = 0, 1
_WORD = re.compile(r"\w+(?:'\w+)*")  # Unicode words, keeping inner apostrophes (don't, l'été)


def _tokens(text: str, ngram: int) -> list[str]:
    words = _WORD.findall(text.lower())
    grams = list(words)
    for n in range(2, ngram + 1):
        grams += [" ".join(words[i : i + n]) for i in range(len(words) - n + 1)]
    return grams


class TokenIndexer(TransformerMixin, BaseEstimator):
    """Lower-cased word (and word n-gram) ids, padded or cut to ``max_len``; 0 pads, 1 is out-of-vocabulary.

    Fitted state: ``vocabulary_`` (token -> id) of the ``max_vocab`` most frequent tokens, ``vocabulary_size_``.
    """

    def __init__(self, max_vocab: int = 20000, ngram: int = 1, max_len: int = 64) -> None:
        self.max_vocab = max_vocab
        self.ngram = ngram
        self.max_len = max_len

    def fit(self, X: Iterable[str], y: object = None) -> TokenIndexer:
        counts = Counter(token for text in X for token in _tokens(text, self.ngram))
        ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))[: self.max_vocab]
        self.vocabulary_ = {token: i + 2 for i, (token, _) in enumerate(ranked)}
        self.vocabulary_size_ = len(self.vocabulary_) + 2
        return self

    def transform(self, X: Iterable[str]) -> np.ndarray:
        texts = list(X)
        ids = np.full((len(texts), self.max_len), PAD, dtype=np.int64)
        for row, text in enumerate(texts):
            found = [self.vocabulary_.get(token, UNKNOWN) for token in _tokens(text, self.ngram)][: self.max_len]
            ids[row, : len(found)] = found
        return ids
