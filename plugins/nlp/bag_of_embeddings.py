"""A fastText-style classifier: the mean of learnt word (and word-bigram) embeddings, then a linear layer."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from automl.protocols import API_VERSION, ModelPlugin, ParamSpace, Problem, TrainSettings

if TYPE_CHECKING:
    from torch import nn

    from ._tokens import TokenIndexer


class BagOfEmbeddings(ModelPlugin):
    """Mean of token embeddings (fastText-style); the vocabulary is fitted per training fold.

    Space: ``ngram`` 1-2 (bigrams as extra tokens), ``max_vocab`` 2k-10k log, ``dim`` 16-64 log (12k short
    snippets need few dimensions), ``epochs`` 2-6 and ``batch_size`` 128-512. Every step updates the whole
    embedding table (dense gradients, which AdamW needs), so table size and step count set a trial's cost: these
    ranges keep a 5-fold CPU trial within seconds on idle cores.

    ``heavy``: on a shared CPU it is not. In the default search on 2 busy cores its trials took 98-139 s each and
    were pruned at 0.57-0.59 accuracy, a third of the search's time, while the TF-IDF models reached 0.78-0.79 in
    5-50 s a trial; so it joins a search that names no models only on a GPU.
    """

    name = "bag_of_embeddings"
    api_version = API_VERSION
    tasks = frozenset({"nlp"})
    family = "torch"
    heavy = True

    def search_space(self, space: ParamSpace) -> None:
        space.suggest_int("ngram", 1, 2)
        space.suggest_int("max_vocab", 2000, 10000, log=True)
        space.suggest_int("dim", 16, 64, log=True)
        space.suggest_int("epochs", 2, 6)
        space.suggest_categorical("batch_size", [128, 256, 512])

    def featurizer(self, params: Mapping[str, Any]) -> TokenIndexer:
        from ._tokens import TokenIndexer

        return TokenIndexer(max_vocab=params["max_vocab"], ngram=params["ngram"], max_len=64 * params["ngram"])

    def build(self, params: Mapping[str, Any], problem: Problem) -> nn.Module:
        from ._networks import MeanEmbedding

        return MeanEmbedding(problem.featurizer.vocabulary_size_, params["dim"], problem.n_outputs)

    def training(self, params: Mapping[str, Any]) -> TrainSettings:
        return TrainSettings(epochs=params["epochs"], batch_size=params["batch_size"])
