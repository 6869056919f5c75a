"""Featurized folds cached across trials: the same scores, hits when a featurizer repeats, LRU under a cap."""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path
from typing import Any

import numpy as np
import optuna
import pandas as pd
import pytest
import scipy.sparse as sp
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import FunctionTransformer, StandardScaler

import automl
from automl.cv import make_splits
from automl.datasets import Dataset, make_dataset
from automl.exceptions import ConfigError
from automl.feature_cache import FEATURE_CACHE_ATTR, CachedFeaturizing, FeatureCache, featurizer_key, rows_key, size_of
from automl.job import DataRef, SearchJob, Workload
from automl.metrics import get_metric
from automl.protocols import API_VERSION, ModelPlugin
from automl.registry import PluginRecord, Registry, discover
from automl.reporter import MemoryReporter
from automl.runner import Resources, TrialRunner
from automl.space import Candidates, Selection, candidates, compose
from automl.study import StudySpec

FOLDS = 3
CPU = Resources(device="cpu", threads=1)


@pytest.fixture(scope="module")
def reviews() -> Dataset:
    """240 short texts of two classes told apart by a few words (nlp classification)."""
    rng = np.random.default_rng(0)
    good, bad, filler = ["great", "lovely", "superb"], ["awful", "dull", "boring"], ["the", "plot", "cast", "film"]
    texts, labels = [], []
    for i in range(240):
        label = i % 2
        words = [*rng.choice(filler, 4), *rng.choice(good if label else bad, 2), str(rng.choice(good + bad))]
        texts.append(" ".join(rng.permutation(words)))
        labels.append("pos" if label else "neg")
    return make_dataset("reviews", "nlp", np.array(texts, dtype=object), np.array(labels), "builtin")


def _candidates(data: Dataset, model: str, registry: Registry | None = None) -> Candidates:
    return candidates(registry or discover(), data.task, data.kind, Selection((model,), None, None))


def _runner(data: Dataset, cands: Candidates, cache: FeatureCache | None, seed: int = 0) -> TrialRunner:
    return TrialRunner(data, make_splits(data, FOLDS, seed), get_metric(None, data.kind), cands, seed=0,
                       feature_cache=cache)


def _params(cands: Candidates, seed: int) -> dict[str, Any]:
    """A configuration of the candidates, as a random sampler draws it."""
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=seed))
    trial = study.ask()
    compose(trial, cands)
    return trial.params


def _run(runner: TrialRunner, params: dict[str, Any], number: int = 0) -> tuple[list[float], dict[str, Any]]:
    reporter = MemoryReporter()
    result = runner.run(params, reporter, CPU, number)
    return result.fold_scores, reporter.attrs


@pytest.mark.parametrize(("data", "model", "fixed"),
                         [("reviews", "tfidf_linear", {}), ("blobs", "linear", {}),
                          ("blobs", "mlp", {"model.mlp.epochs": 10})], ids=["tfidf", "sklearn-tabular", "torch"])
def test_cached_folds_score_exactly_as_fitted_ones(data: str, model: str, fixed: dict[str, Any],
                                                   request: pytest.FixtureRequest) -> None:
    dataset: Dataset = request.getfixturevalue(data)
    cands = _candidates(dataset, model)
    params = {**_params(cands, seed=3), **fixed}
    uncached, attrs = _run(_runner(dataset, cands, None), params)
    assert FEATURE_CACHE_ATTR not in attrs
    cached = _runner(dataset, cands, FeatureCache())
    first, first_attrs = _run(cached, params)
    again, again_attrs = _run(cached, params)  # the same trial seed: only the cache differs
    assert first_attrs[FEATURE_CACHE_ATTR] == {"hits": 0, "misses": FOLDS}
    assert again_attrs[FEATURE_CACHE_ATTR] == {"hits": FOLDS, "misses": 0}
    assert first == again == uncached


def test_trials_of_different_model_settings_share_the_featurized_folds(reviews: Dataset) -> None:
    cands = _candidates(reviews, "tfidf_linear")
    params = _params(cands, seed=1)
    runner = _runner(reviews, cands, FeatureCache())
    _run(runner, params)
    other_c = {**params, "model.tfidf_linear.C": params["model.tfidf_linear.C"] * 3}
    _, attrs = _run(runner, other_c, number=1)
    assert attrs[FEATURE_CACHE_ATTR] == {"hits": FOLDS, "misses": 0}
    other_featurizer = {**params, "model.tfidf_linear.min_df": params["model.tfidf_linear.min_df"] % 3 + 1}
    _, attrs = _run(runner, other_featurizer, number=2)
    assert attrs[FEATURE_CACHE_ATTR] == {"hits": 0, "misses": FOLDS}


def test_another_dataset_or_other_folds_never_hit(blobs: Dataset) -> None:
    cands = _candidates(blobs, "linear")
    params = _params(cands, seed=0)
    cache = FeatureCache()
    _run(_runner(blobs, cands, cache), params)
    changed = blobs.X.copy()
    changed.iloc[0, 0] += 1.0
    other_data = make_dataset("blobs", "tabular", changed, np.asarray(blobs.classes)[blobs.y], "builtin")
    for runner in (_runner(other_data, cands, cache), _runner(blobs, cands, cache, seed=1)):
        _, attrs = _run(runner, params)
        assert attrs[FEATURE_CACHE_ATTR] == {"hits": 0, "misses": FOLDS}
    assert len(cache) == 3 * FOLDS


def test_rows_key_tells_folds_and_data_apart() -> None:
    train, valid = np.array([0, 1, 2]), np.array([3, 4])
    key = rows_key("f", train, valid)
    assert key == rows_key("f", train.copy(), valid.copy())
    assert len({key, rows_key("g", train, valid), rows_key("f", valid, train),
                rows_key("f", np.array([0, 1]), np.array([2, 3, 4]))}) == 4


class _Spy(TransformerMixin, BaseEstimator):
    """Counts its fits (through the class: the engine fits clones); ``func`` makes it unhashable when a lambda."""

    fits = 0

    def __init__(self, func: Any = None) -> None:
        self.func = func

    def fit(self, X: Any, y: Any = None) -> _Spy:
        _Spy.fits += 1
        return self

    def transform(self, X: Any) -> np.ndarray:
        return np.asarray(X, dtype=float)


class _SpyModel(ModelPlugin):
    name = "spy"
    api_version = API_VERSION
    tasks = frozenset({"tabular"})
    family = "sklearn"
    func: Any = None

    def search_space(self, space: Any) -> None:
        space.suggest_float("C", 0.1, 10.0, log=True)

    def featurizer(self, params: Any) -> _Spy:
        return _Spy(self.func)

    def build(self, params: Any, problem: Any) -> LogisticRegression:
        return LogisticRegression(C=params["C"])


class _Unhashable(_SpyModel):
    func = staticmethod(lambda X: X)


def _spy_registry(plugin: ModelPlugin) -> Registry:
    return Registry([PluginRecord("model", "spy", "x:y", "d", "1", plugin=plugin)])


def test_an_unhashable_featurizer_is_fitted_every_time(blobs: Dataset) -> None:
    assert featurizer_key(_Spy(lambda X: X)) is None and featurizer_key(_Spy()) == featurizer_key(_Spy())
    cache = FeatureCache()
    runner = _runner(blobs, _candidates(blobs, "spy", _spy_registry(_Unhashable())), cache)
    _Spy.fits = 0
    scores = [_run(runner, {"model": "spy", "model.spy.C": 1.0}, number=n) for n in range(2)]
    assert _Spy.fits == 2 * FOLDS and len(cache) == 0
    assert scores[1][1][FEATURE_CACHE_ATTR] == {"hits": 0, "misses": FOLDS}
    assert scores[0][0] == scores[1][0]


def _arrays(n: int) -> tuple[None, np.ndarray, np.ndarray]:
    return None, np.zeros(n, dtype=np.uint8), np.zeros(0, dtype=np.uint8)


def test_least_recently_used_folds_go_first_under_the_cap() -> None:
    entry = size_of(_arrays(1000))
    cache = FeatureCache(max_bytes=2 * entry + entry // 2)  # room for two entries
    cache.put(("r", "a"), _arrays(1000))
    cache.put(("r", "b"), _arrays(1000))
    assert cache.get(("r", "a")) is not None  # a is now the most recently used
    cache.put(("r", "c"), _arrays(1000))
    assert cache.get(("r", "b")) is None and cache.get(("r", "a")) is not None and cache.get(("r", "c")) is not None
    assert len(cache) == 2 and cache.nbytes == 2 * entry <= cache.max_bytes
    cache.put(("r", "huge"), _arrays(10_000))  # larger than the cap: not kept, nothing evicted for it
    assert cache.get(("r", "huge")) is None and len(cache) == 2


def test_a_tiny_cap_keeps_nothing_and_changes_no_score(blobs: Dataset) -> None:
    cands = _candidates(blobs, "linear")
    params = _params(cands, seed=0)
    cache = FeatureCache(max_bytes=1000)  # a fold of blobs is larger
    scores = [_run(_runner(blobs, cands, cache), params)[0] for _ in range(2)]
    assert len(cache) == 0 and scores[0] == scores[1] == _run(_runner(blobs, cands, None), params)[0]


def test_size_counts_sparse_buffers_arrays_frames_and_a_fitted_vocabulary() -> None:
    matrix = sp.random(50, 40, density=0.1, format="csr", random_state=0)
    assert size_of(matrix) == matrix.data.nbytes + matrix.indices.nbytes + matrix.indptr.nbytes
    frame = pd.DataFrame({"a": np.arange(10.0), "b": ["x"] * 10})
    assert size_of(frame) == frame.memory_usage(deep=True).sum()
    dense = np.ones((20, 5))
    held_twice = (None, dense, dense)
    assert size_of(held_twice) == dense.nbytes + sys.getsizeof(held_twice)  # counted once
    small, large = (FunctionTransformer().fit(np.ones((2, 2))) for _ in range(2))
    large.vocabulary_ = {f"term{i}": np.int64(i) for i in range(50_000)}
    assert size_of(large) - size_of(small) > 50_000 * len("term00000")


def test_a_search_scores_the_same_with_and_without_the_cache_and_records_hits(blobs_csv: Path, tmp_path: Path) -> None:
    registry = _spy_registry(_SpyModel())  # one featurizer configuration: every trial after the first hits
    runs = {mb: automl.search("tabular", blobs_csv, models=["spy"], registry=registry, n_trials=4, folds=FOLDS,
                              sampler="random", pruner="none", storage=f"sqlite:///{tmp_path / f'{mb}.db'}",
                              study="s", feature_cache_mb=mb).study.trials for mb in (0, 64)}
    assert [t.user_attrs["fold_scores"] for t in runs[0]] == [t.user_attrs["fold_scores"] for t in runs[64]]
    assert all(FEATURE_CACHE_ATTR not in t.user_attrs for t in runs[0])
    assert [t.user_attrs[FEATURE_CACHE_ATTR] for t in runs[64]] == [
        {"hits": 0, "misses": FOLDS}] + [{"hits": FOLDS, "misses": 0}] * 3


@pytest.mark.parametrize("mb", [-1, float("nan"), float("inf"), True, "64"])
def test_a_bad_cache_size_is_refused_before_touching_the_storage(blobs_csv: Path, tmp_path: Path, mb: Any) -> None:
    db = tmp_path / "untouched.db"
    with pytest.raises(ConfigError, match="feature_cache_mb must be a number of MiB"):
        automl.search("tabular", blobs_csv, models=["linear"], n_trials=1, storage=f"sqlite:///{db}",
                      feature_cache_mb=mb)
    assert not db.exists()


def test_workers_get_the_size_from_the_job_and_share_one_cache(blobs_csv: Path, blobs: Dataset) -> None:
    cands = _candidates(blobs, "linear")
    workload, _ = Workload.prepare(blobs, get_metric(None, blobs.kind), cands, FOLDS, 0, None)
    identity = StudySpec("tabular", "blobs", "builtin", blobs.fingerprint, blobs.kind, "accuracy", "maximize", FOLDS,
                         0, "")
    job = SearchJob(study="s", storage="sqlite:///x.db", data=DataRef.of("tabular", blobs_csv, None, None),
                    metric="accuracy", identity=identity, models=("linear",), optimizers=(), regularizers=(),
                    n_trials=1, feature_cache_mb=2)
    assert SearchJob.from_json(job.to_json()).feature_cache_mb == 2
    first, second = workload.runner(job), workload.runner(job)
    assert first.feature_cache is second.feature_cache and first.feature_cache.max_bytes == 2 * 2**20
    assert workload.runner(dataclasses.replace(job, feature_cache_mb=0)).feature_cache is None


def test_cached_featurizing_passes_a_model_without_featurizer_through(blobs: Dataset) -> None:
    tally = CachedFeaturizing(FeatureCache())
    train, valid = make_splits(blobs, FOLDS, 0)[0]
    fitted, F, F_valid = tally.fold(blobs.fingerprint, train, valid)(None, blobs.X, blobs.y, blobs.X)
    assert fitted is None and F is blobs.X and F_valid is blobs.X
    assert tally.counts() == {"hits": 0, "misses": 0} and len(tally.cache) == 0
    scaled = tally.fold(blobs.fingerprint, train, valid)(StandardScaler(), blobs.X, blobs.y, blobs.X)
    assert tally.counts() == {"hits": 0, "misses": 1} and np.allclose(scaled[1].mean(axis=0), 0)


def test_the_command_line_passes_the_size_on_and_refuses_a_bad_one(blobs_csv: Path, tmp_path: Path) -> None:
    from cli_support import assert_one_error_line, invoke

    db = tmp_path / "untouched.db"
    result = invoke("search", "--task", "tabular", "--data", str(blobs_csv), "--models", "linear",
                    "--storage", f"sqlite:///{db}", "--feature-cache-mb", "-5", "--quiet")
    assert_one_error_line(result, "feature_cache_mb must be a number of MiB", "-5")
    assert not db.exists()
    result = invoke("search", "--task", "tabular", "--data", str(blobs_csv), "--models", "linear", "--n-trials", "2",
                    "--folds", "2", "--storage", f"sqlite:///{db}", "--study", "s", "--feature-cache-mb", "0",
                    "--quiet")
    assert result.exit_code == 0, result.output
    trials = automl.load_study("s", f"sqlite:///{db}").trials
    assert trials and all(FEATURE_CACHE_ATTR not in t.user_attrs for t in trials)
