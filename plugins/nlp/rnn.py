"""A bidirectional recurrent text classifier (GRU or LSTM) with padding-aware pooling."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from automl.protocols import ParamSpace, Problem

from ._sequence import SequenceModel, suggest_training, suggest_vocabulary

if TYPE_CHECKING:
    from torch import nn

#: The recurrent cells searched (:class:`._networks.BiRNN` builds them).
CELLS = ("gru", "lstm")


class RNN(SequenceModel):
    """Word embeddings -> bidirectional GRU or LSTM (1-2 layers) -> mean or max over the valid positions -> linear.

    Cost: recurrent steps are sequential and the CPU GRU has no fused kernel, so this is the dearest NLP model.
    Measured 5-fold trials on the default 12.8k snippets, 2 shared CPU cores: LSTM, 1 layer, 3 epochs ~30 s;
    LSTM 2 layers ~60 s; GRU about 1.5x its LSTM. Space:

    * ``max_vocab`` 2k-20k log: vocabulary fitted per training fold (~17k distinct words per fold, most seen
      once).
    * ``dim`` 32-96 log: embedding size, trained from scratch on ~10k snippets.
    * ``cell`` gru / lstm: the two gated cells; GRU has fewer parameters, LSTM is faster on CPU.
    * ``hidden`` 32-64 log per direction: per-step overhead, not width, dominates the CPU cost at these sizes;
      wider states only overfit one-sentence snippets.
    * ``layers`` 1-2: a second layer rarely pays off on one-sentence snippets, and doubles the cost.
    * ``pooling`` mean / max over the non-padding positions (from the padding mask): mean is smoother, max picks
      the strongest sentiment cue wherever it sits.
    * ``epochs`` 2-3, ``batch_size`` 128 / 256: a bidirectional RNN fits 10k snippets in 2-3 epochs (5-fold
      accuracy 0.755-0.765 measured); larger batches amortize the per-step overhead.

    One ``nn.Dropout`` (rate 0.0 until the dropout regularizer sets it) acts on the embeddings, between layers
    and on the pooled features.
    """

    name = "rnn"

    def search_space(self, space: ParamSpace) -> None:
        suggest_vocabulary(space)
        space.suggest_int("dim", 32, 96, log=True)
        space.suggest_categorical("cell", list(CELLS))
        space.suggest_int("hidden", 32, 64, log=True)
        space.suggest_int("layers", 1, 2)
        space.suggest_categorical("pooling", ["mean", "max"])
        suggest_training(space, (2, 3), [128, 256])

    def build(self, params: Mapping[str, Any], problem: Problem) -> nn.Module:
        from ._networks import BiRNN

        return BiRNN(problem.featurizer.vocabulary_size_, params["dim"], params["cell"], params["hidden"],
                      params["layers"], params["pooling"], problem.n_outputs)
