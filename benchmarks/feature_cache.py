#!/usr/bin/env python
"""Wall time of a TF-IDF search with the featurization cache on and off, side by side in one run.

After a warm-up search (imports, first study), each repeat runs the same search twice on fresh SQLite files, once
with ``feature_cache_mb=0`` (off) and once with the default cache (on), in alternating order:
``automl.search("nlp", <rows of the default NLP data>, models=["tfidf_linear"], n_trials=N, folds=5,
sampler=S, pruner="none", seed=0)``. With the same seed both runs draw the same configurations (the scores they
sample on are equal), so every trial's fold scores must be equal (checked, and reported). Trials whose TF-IDF
settings (analyzer, n-grams, min_df, sublinear_tf) repeat an earlier trial's reuse its featurized folds; the hits
and misses are read from the trials' ``feature_cache`` attribute.

Usage: ``.venv/bin/python benchmarks/feature_cache.py [--rows R] [--trials N] [--repeats K] [--sampler S]``
(defaults: 1,500 rows, 12 trials, 2 repeats, tpe). Results: docs/benchmarks.md, "Featurization cache".
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

import automl
from automl.datasets import load_dataset
from automl.feature_cache import DEFAULT_FEATURE_CACHE_MB, FEATURE_CACHE_ATTR


def _sample(rows: int, folder: Path) -> Path:
    """``rows`` random rows of the default NLP data as a CSV (text, label)."""
    data = load_dataset("nlp")
    pick = np.sort(np.random.default_rng(0).choice(len(data), size=min(rows, len(data)), replace=False))
    path = folder / "reviews.csv"
    pd.DataFrame({"text": data.X[pick], "label": np.asarray(data.classes)[data.y[pick]]}).to_csv(path, index=False)
    return path


def _search(data: Path, trials: int, sampler: str, cache_mb: float,
            db: Path) -> tuple[float, list[list[float]], int, int]:
    """Seconds, each trial's fold scores, and the hits and misses of one search."""
    start = time.perf_counter()
    result = automl.search("nlp", data, text_column="text", target="label", models=["tfidf_linear"],
                           n_trials=trials, folds=5, sampler=sampler, pruner="none", seed=0,
                           storage=f"sqlite:///{db}", study="bench", feature_cache_mb=cache_mb)
    seconds = time.perf_counter() - start
    trials_ = sorted(result.study.trials, key=lambda t: t.number)
    counts = [t.user_attrs.get(FEATURE_CACHE_ATTR, {"hits": 0, "misses": 0}) for t in trials_]
    return (seconds, [t.user_attrs.get("fold_scores", []) for t in trials_], sum(c["hits"] for c in counts),
            sum(c["misses"] for c in counts))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1500)
    parser.add_argument("--trials", type=int, default=12)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--sampler", default="tpe")
    args = parser.parse_args()
    ratios = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        data = _sample(args.rows, folder)
        _search(data, 1, args.sampler, 0, folder / "warm-up.db")
        for repeat in range(args.repeats):
            order = [0, DEFAULT_FEATURE_CACHE_MB] if repeat % 2 == 0 else [DEFAULT_FEATURE_CACHE_MB, 0]
            runs = {mb: _search(data, args.trials, args.sampler, mb, folder / f"r{repeat}-{mb}.db") for mb in order}
            (off, off_scores, _, _), (on, on_scores, hits, misses) = runs[0], runs[DEFAULT_FEATURE_CACHE_MB]
            ratios.append(off / on)
            print(f"repeat {repeat + 1}: cache off {off:.1f} s, on {on:.1f} s, off/on {off / on:.2f}x; "
                  f"{hits} hits, {misses} misses of {hits + misses} folds; "
                  f"fold scores {'identical' if off_scores == on_scores else 'DIFFER'}", flush=True)
    print(f"off/on over {args.repeats} repeats: {min(ratios):.2f}-{max(ratios):.2f}x "
          f"(median {statistics.median(ratios):.2f}x); {args.rows} rows, {args.trials} trials, 5 folds, "
          f"sampler {args.sampler}")


if __name__ == "__main__":
    main()
