"""A small transformer encoder for text classification, trained from scratch."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from automl.protocols import ParamSpace, Problem

from ._sequence import SequenceModel, suggest_training, suggest_vocabulary

if TYPE_CHECKING:
    from torch import nn


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
        from ._networks import TransformerNet

        d_model = params["d_model"]
        return TransformerNet(problem.featurizer.vocabulary_size_, problem.input_shape[0], d_model, params["heads"],
                            params["layers"], params["ff_mult"] * d_model, params["positional"], params["pooling"],
                            problem.n_outputs)
