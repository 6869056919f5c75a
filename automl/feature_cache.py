"""Featurized folds kept across trials: a fitted featurizer and its features are reused when they repeat.

A fold's features are a pure function of (the dataset, the fold's rows, the unfitted featurizer's parameters)
(:mod:`automl.features`), so trials whose featurizer configurations repeat (a TF-IDF setting tried with other
model parameters, every trial of a model whose featurizer has no parameters, two TF-IDF models with the same
featurizer) need fit it once per fold. A :class:`FeatureCache` keeps ``(fitted featurizer, training features,
validation features)`` under the key ``(dataset fingerprint and the fold's training and validation rows,
joblib.hash of the unfitted featurizer)``, in this process's memory, least recently used first out once its size
cap is reached. A featurizer joblib cannot hash is fitted every time, as without a cache.

What the cache returns is shared by the trials that hit it: models must not change the features or the fitted
featurizer they are given (none of the built-in ones writes to them: the scikit-learn estimators only read
their inputs, and torch training indexes new tensors out of the features).

There is no disk cache: a fitted featurizer is a Python object that only pickle stores whole, and automl never
unpickles files other processes could have written.
"""

from __future__ import annotations

import hashlib
import math
import sys
import threading
import types
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from automl.exceptions import ConfigError

if TYPE_CHECKING:  # scikit-learn and pandas load with the first fold, not with the search's options
    from automl.features import Featurize

__all__ = ["DEFAULT_FEATURE_CACHE_MB", "FEATURE_CACHE_ATTR", "CachedFeaturizing", "FeatureCache", "check_cache_mb",
           "featurizer_key", "rows_key", "size_of"]

#: Default size cap of a process's cache, in MiB: 1 GiB of a 24 GiB machine holds 20 to 50 TF-IDF folds of the
#: default NLP data (a fold with its vocabulary: 20 MiB for word 1-2-grams, 55 MiB for char_wb 2-5-grams).
DEFAULT_FEATURE_CACHE_MB = 1024
#: Trial attribute counting the folds whose features came from the cache (``hits``) or were fitted (``misses``).
FEATURE_CACHE_ATTR = "feature_cache"

_Featurized = tuple[Any, Any, Any]
#: Types counted by ``sys.getsizeof`` alone (a vocabulary's terms and their numpy integer ids).
_SCALARS = frozenset({str, bytes, int, float, complex, bool, *np.sctypeDict.values()})
#: Members of a container of such scalars counted one by one: beyond that, a sample's mean size.
_SAMPLE = 4096


def check_cache_mb(mb: float) -> None:
    """A cache's size cap is a finite number of MiB, 0 (no cache) or more."""
    if isinstance(mb, bool) or not isinstance(mb, (int, float)) or not (math.isfinite(mb) and mb >= 0):
        raise ConfigError(f"feature_cache_mb must be a number of MiB, 0 (no cache) or more, got {mb!r}")


def featurizer_key(featurizer: Any) -> str | None:
    """``joblib.hash`` of an unfitted featurizer (its class and parameters), or ``None`` when it cannot be hashed
    (an attribute pickle refuses, such as a lambda): such a featurizer is not cached."""
    import joblib

    try:
        return str(joblib.hash(featurizer))
    except Exception:  # whatever pickling the featurizer raises: it is simply fitted every time
        return None


def rows_key(fingerprint: str, train: np.ndarray, valid: np.ndarray) -> str:
    """A digest of a fold's rows: the dataset's fingerprint, the training rows and the validation rows."""
    digest = hashlib.sha256(fingerprint.encode())
    for rows in (train, valid):
        index = np.ascontiguousarray(rows, dtype=np.int64)
        digest.update(len(index).to_bytes(8, "little"))
        digest.update(index.tobytes())
    return digest.hexdigest()


def size_of(value: Any) -> int:
    """An estimate of the bytes ``value`` holds: arrays by their ``nbytes``, sparse matrices by their data and index
    arrays, DataFrames by ``memory_usage(deep=True)``; containers and objects' attributes (a fitted vocabulary)
    by what they hold, each object counted once (strings and numbers in containers each time they appear, and
    estimated from a sample of a large container of them)."""
    seen: dict[int, Any] = {}  # (holding each object, so that no id is reused while counting)
    pending = [value]
    total = 0

    def members(items: Iterable[Any]) -> int:
        items = list(items)
        sample = items[:: max(1, len(items) // _SAMPLE)]  # a vocabulary has 100,000s of terms
        if all(type(item) in _SCALARS for item in sample):
            return sum(map(sys.getsizeof, sample)) * len(items) // max(1, len(sample))
        pending.extend(item for item in items if type(item) not in _SCALARS)
        return sum(sys.getsizeof(item) for item in items if type(item) in _SCALARS)

    while pending:
        item = pending.pop()
        if item is None or id(item) in seen:
            continue
        seen[id(item)] = item
        if isinstance(item, np.ndarray):
            total += item.nbytes + (members(item.ravel().tolist()) if item.dtype == object else 0)
        elif hasattr(item, "memory_usage") and hasattr(item, "columns"):  # a DataFrame
            total += int(item.memory_usage(deep=True).sum())
        elif hasattr(item, "tocsr") and hasattr(item, "nnz"):  # a scipy sparse matrix or array
            pending.extend(getattr(item, name, None) for name in ("data", "indices", "indptr", "row", "col"))
        elif hasattr(item, "element_size") and hasattr(item, "nelement"):  # a torch tensor
            total += item.element_size() * item.nelement()
        elif isinstance(item, types.ModuleType):  # shared, not the featurizer's own
            continue
        elif isinstance(item, dict):
            total += sys.getsizeof(item) + members(item.keys()) + members(item.values())
        elif isinstance(item, (list, tuple, set, frozenset)):
            total += sys.getsizeof(item) + members(item)
        else:
            total += sys.getsizeof(item)
            pending.append(getattr(item, "__dict__", None))
    return total


@dataclass(frozen=True)
class _Entry:
    value: _Featurized
    nbytes: int


class FeatureCache:
    """Featurized folds of one process, at most ``max_bytes`` of them (:func:`size_of`), least recently used
    evicted first; an entry larger than the cap is not kept. Safe to share between threads."""

    def __init__(self, max_bytes: int = DEFAULT_FEATURE_CACHE_MB * 2**20) -> None:
        self.max_bytes = max_bytes
        self._entries: OrderedDict[tuple[str, str], _Entry] = OrderedDict()
        self._nbytes = 0
        self._lock = threading.Lock()

    @property
    def nbytes(self) -> int:
        """The estimated size of what the cache holds."""
        return self._nbytes

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: tuple[str, str]) -> _Featurized | None:
        """The featurized fold under ``key`` (now the most recently used), or ``None``."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            self._entries.move_to_end(key)
            return entry.value

    def put(self, key: tuple[str, str], value: _Featurized) -> None:
        """Keep ``value`` under ``key``, evicting the least recently used entries to stay within the cap."""
        nbytes = size_of(value)
        if nbytes > self.max_bytes:
            return
        with self._lock:
            previous = self._entries.pop(key, None)
            self._nbytes -= previous.nbytes if previous else 0
            while self._entries and self._nbytes + nbytes > self.max_bytes:
                _, evicted = self._entries.popitem(last=False)
                self._nbytes -= evicted.nbytes
            self._entries[key] = _Entry(value, nbytes)
            self._nbytes += nbytes


@dataclass
class CachedFeaturizing:
    """One trial's featurizing through a :class:`FeatureCache`, counting its ``hits`` and ``misses`` (folds fitted,
    cacheable or not; a model without a featurizer counts neither)."""

    cache: FeatureCache
    hits: int = 0
    misses: int = 0

    def fold(self, fingerprint: str, train: np.ndarray, valid: np.ndarray) -> Featurize:
        """The :data:`~automl.features.Featurize` function of the fold of these rows of the dataset with
        ``fingerprint``."""
        from automl.features import featurize

        rows = rows_key(fingerprint, train, valid)

        def featurizing(featurizer: Any, X: Any, y: np.ndarray, X_valid: Any) -> _Featurized:
            if featurizer is None:
                return featurize(None, X, y, X_valid)
            unfitted = featurizer_key(featurizer)
            key = None if unfitted is None else (rows, unfitted)
            found = None if key is None else self.cache.get(key)
            if found is not None:
                self.hits += 1
                return found
            self.misses += 1
            value = featurize(featurizer, X, y, X_valid)
            if key is not None:
                self.cache.put(key, value)
            return value

        return featurizing

    def counts(self) -> dict[str, int]:
        """``{"hits": ..., "misses": ...}``: the trial's :data:`FEATURE_CACHE_ATTR`."""
        return {"hits": self.hits, "misses": self.misses}
