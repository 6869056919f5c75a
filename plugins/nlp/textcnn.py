"""A convolutional text classifier (Kim, 2014): parallel n-gram filters over word embeddings, max over time."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from automl.protocols import ParamSpace, Problem

from ._sequence import SequenceModel, suggest_training, suggest_vocabulary

if TYPE_CHECKING:
    from torch import nn

#: The searchable sets of kernel sizes (strings, since a search-space choice must be a plain value).
KERNEL_SETS = ("1-2-3", "2-3-4", "3-4-5")


def kernel_sizes(choice: str) -> tuple[int, ...]:
    """The kernel widths of a ``KERNEL_SETS`` choice: ``"2-3-4"`` -> ``(2, 3, 4)``."""
    return tuple(int(k) for k in choice.split("-"))


class TextCNN(SequenceModel):
    """Word embeddings -> parallel Conv1d filters of several widths -> ReLU -> max over time -> linear.

    Cost: a 5-fold trial on the default 12.8k snippets took 13-33 s on 2 otherwise idle CPU cores (random draws
    of this space, 5-fold accuracy 0.757-0.761), but 7 minutes for one trial when two other processes shared
    those cores, so on a CPU it is searched only when named. Space:

    * ``max_vocab`` 2k-20k log: vocabulary fitted per training fold; training folds hold ~17k distinct
      words, most seen once, so the cap drops mostly noise.
    * ``dim`` 32-96 log: embedding size, trained from scratch on ~10k snippets; every step updates the whole
      table (dense gradients for AdamW), so larger tables cost time and overfit.
    * ``kernels`` ``1-2-3`` / ``2-3-4`` / ``3-4-5``: filter widths, the word n-grams the filters detect
      (short snippets favour short n-grams; Kim used 3-4-5).
    * ``filters`` 32-96 log per width: around Kim's 100; the convolutions dominate the CPU cost.
    * ``epochs`` 2-5, ``batch_size`` 64 / 128 / 256: the model fits ~10k snippets within a few epochs
      (further epochs mostly overfit unless the dropout regularizer is on).

    Max over time takes only the windows inside the text (ReLU outputs are non-negative, so padding windows
    are set to 0), so the output does not depend on padding. Dropout layers (embeddings, pooled features)
    start at 0.0 for the dropout regularizer to set.
    """

    name = "textcnn"

    def search_space(self, space: ParamSpace) -> None:
        suggest_vocabulary(space)
        space.suggest_int("dim", 32, 96, log=True)
        space.suggest_categorical("kernels", list(KERNEL_SETS))
        space.suggest_int("filters", 32, 96, log=True)
        suggest_training(space, (2, 5), [64, 128, 256])

    def build(self, params: Mapping[str, Any], problem: Problem) -> nn.Module:
        from ._networks import TextCNNNet

        return TextCNNNet(problem.featurizer.vocabulary_size_, params["dim"], params["filters"],
                        kernel_sizes(params["kernels"]), problem.n_outputs)
