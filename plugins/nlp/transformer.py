"""A small transformer encoder for text classification, trained from scratch."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

from automl.protocols import ParamSpace, Problem

from ._sequence import (
    EMBEDDING_STD,
    SequenceModel,
    embedding,
    masked_mean,
    suggest_training,
    suggest_vocabulary,
    trim,
)


def sinusoidal_encoding(positions: int, dim: int) -> torch.Tensor:
    """The fixed sine/cosine positional encoding of Vaswani et al., ``(positions, dim)``."""
    position = torch.arange(positions, dtype=torch.float32)[:, None]
    frequency = torch.exp(torch.arange(0, dim, 2, dtype=torch.float32) * (-math.log(10000.0) / dim))
    encoding = torch.zeros(positions, dim)
    encoding[:, 0::2] = torch.sin(position * frequency)
    encoding[:, 1::2] = torch.cos(position * frequency)[:, : dim // 2]
    return encoding


class _Transformer(nn.Module):
    def __init__(self, vocabulary: int, slots: int, d_model: int, heads: int, layers: int, ff: int,
                 positional: str, pooling: str, outputs: int) -> None:
        super().__init__()
        self.pooling = pooling
        self.embedding = embedding(vocabulary, d_model)
        positions = slots + 1  # one more for the CLS vector
        if positional == "learned":
            self.position = nn.Parameter(torch.randn(positions, d_model) * EMBEDDING_STD)
        else:  # on the scale of the word embeddings
            self.register_buffer("position", sinusoidal_encoding(positions, d_model) * EMBEDDING_STD)
        self.cls = nn.Parameter(torch.randn(d_model) * EMBEDDING_STD) if pooling == "cls" else None
        self.dropout = nn.Dropout(0.0)  # rates set by the dropout regularizer, as are the encoder layers' ones
        # pre-norm layers train stably from scratch without a warm-up; nested tensors (a fast path of eval mode)
        # do not apply to pre-norm layers, so they are off
        layer = nn.TransformerEncoderLayer(d_model, heads, ff, dropout=0.0, activation="gelu", batch_first=True,
                                           norm_first=True)
        self.encoder = nn.TransformerEncoder(layer, layers, norm=nn.LayerNorm(d_model), enable_nested_tensor=False)
        self.head = nn.Linear(d_model, outputs)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        ids, _, mask = trim(ids)
        x = self.embedding(ids)
        if self.cls is not None:  # prepend the CLS vector; it is never padding
            x = torch.cat([self.cls.expand(len(x), 1, -1), x], dim=1)
            mask = torch.cat([mask.new_ones(len(mask), 1), mask], dim=1)
        x = self.dropout(x + self.position[: x.shape[1]])
        h = self.encoder(x, src_key_padding_mask=~mask)  # True = padding, ignored as a key
        pooled = h[:, 0] if self.cls is not None else masked_mean(h, mask)
        return self.head(self.dropout(pooled))


class Transformer(SequenceModel):
    """Word embeddings + positional encoding -> ``nn.TransformerEncoder`` -> CLS vector or mean -> linear.

    Cost: a 5-fold trial on the default 12.8k snippets took 30-60 s on 2 shared CPU cores (random draws, up to
    6 epochs; accuracy 0.73-0.76, the CLS draws lowest). Attention over ~20-50 tokens is cheap; the
    feed-forward layers and the embedding table dominate. Space:

    * ``max_vocab`` 2k-20k log: vocabulary fitted per training fold (~17k distinct words per fold).
    * ``d_model`` 32 / 64: model width; from scratch on ~10k snippets, wider models only overfit and cost more.
    * ``heads`` 2 / 4 (both divide every d_model): heads of 8-32 dimensions.
    * ``layers`` 1-2: one sentence needs little depth; each layer adds about the cost of the first.
    * ``ff_mult`` 1 / 2 / 4: the feed-forward width in multiples of d_model (4 is the usual ratio, smaller is
      cheaper).
    * ``positional`` learned / sinusoidal: learned positions need data, fixed ones generalize to any length.
    * ``pooling`` cls / mean: a learned CLS vector prepended to every text (BERT-style) or the mean over the
      non-padding tokens.
    * ``epochs`` 2-4, ``batch_size`` 64 / 128 / 256: with AdamW at ~3e-3 the encoder fits 10k snippets within
      2-4 epochs; more passes overfit.

    The padding mask (ids equal to PAD) is the encoder's ``src_key_padding_mask``: padding is never attended to
    nor pooled, so the output does not depend on padding (an empty text pools its one padding slot). Pre-norm
    layers with GELU; the dropout layers (inputs, inside the encoder layers, pooled vector) start at 0.0 for
    the dropout regularizer to set.
    """

    name = "transformer"

    def search_space(self, space: ParamSpace) -> None:
        suggest_vocabulary(space)
        space.suggest_categorical("d_model", [32, 64])
        space.suggest_categorical("heads", [2, 4])
        space.suggest_int("layers", 1, 2)
        space.suggest_categorical("ff_mult", [1, 2, 4])
        space.suggest_categorical("positional", ["learned", "sinusoidal"])
        space.suggest_categorical("pooling", ["cls", "mean"])
        suggest_training(space, (2, 4), [64, 128, 256])

    def build(self, params: Mapping[str, Any], problem: Problem) -> nn.Module:
        d_model = params["d_model"]
        return _Transformer(problem.featurizer.vocabulary_size_, problem.input_shape[0], d_model, params["heads"],
                            params["layers"], params["ff_mult"] * d_model, params["positional"], params["pooling"],
                            problem.n_outputs)
