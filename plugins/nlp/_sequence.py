"""What the sequence models (textcnn, rnn, transformer) share as plugins: base class, spaces, featurizer.

The featurizer is :class:`~._tokens.TokenIndexer` with word unigrams only (sequence models learn the n-grams
themselves), fitted per training fold. The networks and their padding-aware pieces live in :mod:`._networks`,
imported by the ``build`` hooks (snippets average ~20 words against the :data:`MAX_LEN` slots; every batch is cut
to its longest row): this module imports neither torch nor scikit-learn.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from automl.protocols import API_VERSION, ModelPlugin, ParamSpace, TrainSettings

if TYPE_CHECKING:
    from ._tokens import TokenIndexer

__all__ = [
    "SequenceModel",
    "MAX_LEN",
    "suggest_training",
    "suggest_vocabulary",
    "token_featurizer",
    "training_settings",
]

#: Token slots per text: the longest snippet of the default data has 53 words; longer texts are cut.
MAX_LEN = 128


def suggest_vocabulary(space: ParamSpace) -> None:
    """``max_vocab`` 2k-20k log: the default data's training folds hold ~17k distinct words, most seen once."""
    space.suggest_int("max_vocab", 2000, 20000, log=True)


def suggest_training(space: ParamSpace, epochs: tuple[int, int], batch_sizes: list[int]) -> None:
    """``epochs`` and ``batch_size`` of the training loop."""
    space.suggest_int("epochs", *epochs)
    space.suggest_categorical("batch_size", batch_sizes)


def training_settings(params: Mapping[str, Any]) -> TrainSettings:
    """The training loop's settings from the parameters :func:`suggest_training` drew."""
    return TrainSettings(epochs=params["epochs"], batch_size=params["batch_size"])


def token_featurizer(params: Mapping[str, Any]) -> TokenIndexer:
    """Word-unigram ids, ``MAX_LEN`` slots, the vocabulary capped at the drawn ``max_vocab``."""
    from ._tokens import TokenIndexer

    return TokenIndexer(max_vocab=params["max_vocab"], ngram=1, max_len=MAX_LEN)


class SequenceModel(ModelPlugin):
    """What the sequence models share: nlp classification in torch, heavy on a CPU (searched there only when
    named), word-id features from :func:`token_featurizer`, training settings from :func:`training_settings`.
    Subclasses set ``name`` and implement ``search_space`` (calling :func:`suggest_vocabulary` and
    :func:`suggest_training`) and ``build``."""

    api_version = API_VERSION
    tasks = frozenset({"nlp"})
    family = "torch"
    heavy = True

    def featurizer(self, params: Mapping[str, Any]) -> TokenIndexer:
        return token_featurizer(params)

    def training(self, params: Mapping[str, Any]) -> TrainSettings:
        return training_settings(params)
