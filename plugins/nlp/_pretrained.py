"""The heavy half of the pretrained-transformer plugins (:mod:`.pretrained`): tokenizers, encoders and the
fine-tuned network (torch, ``transformers``), the featurizers (scikit-learn) and the in-process embedding cache.
Imported by the plugins' hooks, so listing the plugins imports none of them."""

from __future__ import annotations

import copy
import json
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import torch
from sklearn.base import BaseEstimator, TransformerMixin
from torch import nn
from torch.optim import lr_scheduler

from automl.devices import trial_device
from automl.exceptions import PluginError

from .pretrained import FINETUNE_MAX_LEN, PACKAGED, checkpoint_dir

__all__ = [
    "CACHE_LIMIT",
    "MeanPooledEncoder",
    "SentenceEncoder",
    "TokenIds",
    "clear_embedding_cache",
    "encode",
    "linear_warmup_decay",
    "n_layers",
    "pristine_encoder",
    "sentence_max_len",
]

#: Texts whose embeddings the in-process cache keeps, over all checkpoints (about 1.5 KB each at width 384, so
#: 200k is ~300 MB). Once it is full, further texts are encoded every time they are seen, without evicting the
#: cached ones: a dataset larger than the cache then still reuses the part that fits, where an LRU would miss on
#: every text of a fold-by-fold scan.
CACHE_LIMIT = 200_000


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
def pristine_encoder(checkpoint: str) -> nn.Module:
    """The checkpoint's encoder as loaded (CPU, eval mode); callers copy it before changing anything."""
    path = checkpoint_dir(checkpoint)
    with _loading(path, "weights") as transformers:
        encoder = transformers.AutoModel.from_pretrained(str(path), local_files_only=True)
    # float32 whatever the checkpoint was saved in (transformers 5 keeps fp16/bf16 weights as they are): the head
    # is float32, and AdamW steps of 1e-5 vanish in half-precision weights; autocast does bf16 compute on CUDA
    return encoder.float().eval()


def n_layers(checkpoint: str) -> int:
    config = _config(checkpoint)
    n = getattr(config, "num_hidden_layers", None)
    if not isinstance(n, int) or n < 1:
        raise PluginError(f"pretrained checkpoint {checkpoint!r}: its config names no num_hidden_layers")
    return n


def sentence_max_len(checkpoint: str) -> int:
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
    encoder = pristine_encoder(checkpoint)
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
