"""Pieces shared by the sequence models (textcnn, rnn, transformer): token ids in, padding-aware pooling.

The featurizer is :class:`~._tokens.TokenIndexer` with word unigrams only (sequence models learn the n-grams
themselves), fitted per training fold. Rows are padded at the end with ``PAD`` (0); a row's valid tokens are its
leading non-``PAD`` ids. Every batch is cut to its longest row before the forward pass (snippets average ~20
words against the 128 slots), and every pooling ignores padding, so a text's output does not depend on how much
padding it carries or which other rows share its batch.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

from automl.protocols import API_VERSION, ModelPlugin, ParamSpace, TrainSettings

from ._tokens import PAD, TokenIndexer

__all__ = [
    "EMBEDDING_STD",
    "SequenceModel",
    "MAX_LEN",
    "embedding",
    "masked_max",
    "masked_mean",
    "suggest_training",
    "suggest_vocabulary",
    "token_featurizer",
    "training_settings",
    "trim",
]

#: Token slots per text: the longest snippet of the default data has 53 words; longer texts are cut.
MAX_LEN = 128
#: Standard deviation of the initial word embeddings. PyTorch's default, 1.0, makes the first layers' inputs
#: large and trains worse from scratch: on one fold of the default data textcnn scored 0.68 with it, 0.75 with
#: 0.1 (rnn 0.72 -> 0.75).
EMBEDDING_STD = 0.1


def embedding(vocabulary: int, dim: int) -> nn.Embedding:
    """A word-embedding table drawn from N(0, EMBEDDING_STD^2), its ``PAD`` row zero (and never updated)."""
    table = nn.Embedding(vocabulary, dim, padding_idx=PAD)
    nn.init.normal_(table.weight, std=EMBEDDING_STD)
    with torch.no_grad():
        table.weight[PAD].zero_()
    return table


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
    return TokenIndexer(max_vocab=params["max_vocab"], ngram=1, max_len=MAX_LEN)


def trim(ids: torch.Tensor, min_len: int = 1) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Cut ``ids`` ``(batch, slots)`` to the batch's longest row (at least ``min_len`` slots, padding if needed).

    Returns ``(ids, lengths, mask)``: ``lengths`` counts each row's valid tokens, at least 1 (an empty text
    counts its first, padding, slot, so no row pools over nothing); ``mask`` is ``(batch, length)``, True on
    the valid positions.
    """
    lengths = (ids != PAD).sum(dim=1).clamp(min=1)
    length = max(int(lengths.max()), min_len) if len(ids) else min_len
    if length > ids.shape[1]:
        ids = torch.nn.functional.pad(ids, (0, length - ids.shape[1]), value=PAD)
    ids = ids[:, :length]
    mask = torch.arange(length, device=ids.device)[None, :] < lengths[:, None]
    return ids, lengths, mask


def masked_mean(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean of ``x`` ``(batch, length, dim)`` over the positions where ``mask`` ``(batch, length)`` is True."""
    weights = mask.unsqueeze(-1).to(x.dtype)
    return (x * weights).sum(dim=1) / weights.sum(dim=1).clamp(min=1.0)


def masked_max(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Maximum of ``x`` ``(batch, length, dim)`` over the positions where ``mask`` ``(batch, length)`` is True."""
    return x.masked_fill(~mask.unsqueeze(-1), torch.finfo(x.dtype).min).amax(dim=1)


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
