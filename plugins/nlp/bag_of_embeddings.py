"""A fastText-style classifier: the mean of learnt word (and word-bigram) embeddings, then a linear layer."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

from automl.protocols import API_VERSION, ModelPlugin, ParamSpace, Problem, TrainSettings

from ._tokens import PAD, TokenIndexer


class _MeanEmbedding(nn.Module):
    def __init__(self, vocabulary: int, dim: int, outputs: int) -> None:
        super().__init__()
        self.embedding = nn.EmbeddingBag(vocabulary, dim, mode="mean", padding_idx=PAD)
        self.dropout = nn.Dropout(0.0)  # rate set by the dropout regularizer
        self.head = nn.Linear(dim, outputs)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        return self.head(self.dropout(self.embedding(ids)))


class BagOfEmbeddings(ModelPlugin):
    """Mean of token embeddings (fastText-style); the vocabulary is fitted per training fold.

    Space: ``ngram`` 1-2 (bigrams as extra tokens), ``max_vocab`` 2k-10k log, ``dim`` 16-64 log (12k short
    snippets need few dimensions), ``epochs`` 2-6 and ``batch_size`` 128-512. Every step updates the whole
    embedding table (dense gradients, which AdamW needs), so table size and step count set a trial's cost: these
    ranges keep a 5-fold CPU trial within seconds.
    """

    name = "bag_of_embeddings"
    api_version = API_VERSION
    tasks = frozenset({"nlp"})
    family = "torch"

    def search_space(self, space: ParamSpace) -> None:
        space.suggest_int("ngram", 1, 2)
        space.suggest_int("max_vocab", 2000, 10000, log=True)
        space.suggest_int("dim", 16, 64, log=True)
        space.suggest_int("epochs", 2, 6)
        space.suggest_categorical("batch_size", [128, 256, 512])

    def featurizer(self, params: Mapping[str, Any]) -> TokenIndexer:
        return TokenIndexer(max_vocab=params["max_vocab"], ngram=params["ngram"], max_len=64 * params["ngram"])

    def build(self, params: Mapping[str, Any], problem: Problem) -> nn.Module:
        return _MeanEmbedding(problem.featurizer.vocabulary_size_, params["dim"], problem.n_outputs)

    def training(self, params: Mapping[str, Any]) -> TrainSettings:
        return TrainSettings(epochs=params["epochs"], batch_size=params["batch_size"])
