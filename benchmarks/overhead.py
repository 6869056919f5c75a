#!/usr/bin/env python
"""Per-trial overhead of ``automl.search`` against a plain Optuna loop doing the same work, side by side.

For each workload both sides run ``--trials`` trials of one built-in model with 5-fold CV on a fresh SQLite file:

* **plain**: ``optuna.create_study(storage=sqlite, sampler=RandomSampler(seed))`` and an objective that suggests
  the plugin's parameters (same names, ranges and order), builds the same featurizer and estimator as a
  ``Pipeline``, and scores it on the same ``StratifiedKFold(shuffle=True, random_state=seed)`` splits. It seeds
  the estimator of fold ``f`` of trial ``n`` with ``seed + 1000 * n + f``, as automl does.
* **automl**: ``automl.search(task, n_trials=N, folds=5, sampler="random", pruner="none", models=[name], ...)``.

With the same sampler seed and the same sequence of ``suggest_*`` calls, both sides draw identical parameters
(checked after each run), so their trial scores must match exactly; any difference is reported.

Per run the benchmark records the wall time of the whole call (``time.perf_counter``), the trial loop span
(first trial start to last trial end, from the stored trial timestamps), the time spent fitting and scoring
folds (inside the objective), and how much time the main thread spent in Optuna storage calls (outermost calls
only, counted by a thin wrapper applied to both sides alike) and how many SQL statements the storage ran.
It also times the fixed startup cost of ``automl.search`` when the study's ``n_trials`` is already met (a resume
that runs no trial), with its parts (dataset load, plugin discovery).

Usage: ``.venv/bin/python benchmarks/overhead.py [--trials N] [--nlp-trials N] [--repeats R] [--threads T]
[--db-dir DIR] [--workloads tabular,nlp] [--fold-check] [--profile]``
(defaults: 15 tabular trials, 4 nlp trials, 3 repeats, 1 thread; about 2.5 minutes on 2 busy cores).
Results and their reading: docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import functools
import os
import platform
import pstats
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# automl first: it loads torch before any scikit-learn module, as automl/__init__.py explains (sklearn.neighbors,
# which sklearn.ensemble pulls in, loaded before torch slows scikit-learn's OpenMP loops down many times over)
import automl  # isort: skip
import numpy as np
import optuna
import pandas as pd
from sklearn.compose import ColumnTransformer, make_column_selector
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score
from sklearn.model_selection import StratifiedKFold
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OrdinalEncoder
from sqlalchemy import event
from sqlalchemy.engine import Engine
from threadpoolctl import threadpool_limits

from automl.cv import cross_validate, make_splits
from automl.datasets import load_dataset
from automl.metrics import get_metric
from automl.registry import discover

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _docs import load_line, versions  # noqa: E402

FOLDS = 5


# -- the plain side: the plugins' spaces and models, written out in plain Optuna + scikit-learn ----------------


def hgb_space(trial: optuna.Trial) -> dict[str, Any]:
    """plugins/tabular/hist_gradient_boosting.py's space, same names (automl's namespaced ones) and order."""
    p = "model.hist_gradient_boosting."
    return {
        "learning_rate": trial.suggest_float(p + "learning_rate", 0.01, 0.3, log=True),
        "max_leaf_nodes": trial.suggest_int(p + "max_leaf_nodes", 8, 64, log=True),
        "min_samples_leaf": trial.suggest_int(p + "min_samples_leaf", 5, 50),
        "l2_regularization": trial.suggest_float(p + "l2_regularization", 1e-4, 10.0, log=True),
    }


def hgb_pipeline(params: dict[str, Any], random_state: int) -> Pipeline:
    """The plugin's featurizer (ordinal codes for categorical columns, numbers passed through) and estimator."""
    encoder = OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1, encoded_missing_value=-1)
    columns = ColumnTransformer(
        [("categorical", encoder, make_column_selector(dtype_include=["object", "category", "string", "bool"])),
         ("numeric", "passthrough", make_column_selector(dtype_include="number"))],
        verbose_feature_names_out=False)
    model = HistGradientBoostingClassifier(max_iter=300, early_stopping="auto", random_state=random_state, **params)
    return Pipeline([("features", columns), ("model", model)])


def tfidf_space(trial: optuna.Trial) -> dict[str, Any]:
    """plugins/nlp/tfidf_linear.py's space (the shared TF-IDF space, then C), same names and order."""
    p = "model.tfidf_linear."
    params: dict[str, Any] = {"analyzer": trial.suggest_categorical(p + "analyzer", ["word", "char_wb"])}
    if params["analyzer"] == "word":
        params["ngram_max"] = trial.suggest_int(p + "ngram_max", 1, 2)
    else:
        params["char_ngram_max"] = trial.suggest_int(p + "char_ngram_max", 3, 5)
    params["min_df"] = trial.suggest_int(p + "min_df", 1, 3)
    params["sublinear_tf"] = trial.suggest_categorical(p + "sublinear_tf", [True, False])
    params["C"] = trial.suggest_float(p + "C", 1e-2, 1e2, log=True)
    return params


def tfidf_pipeline(params: dict[str, Any], random_state: int) -> Pipeline:
    """The plugin's TfidfVectorizer + LogisticRegression (deterministic: ``random_state`` is unused)."""
    word = params["analyzer"] == "word"
    features = TfidfVectorizer(analyzer=params["analyzer"],
                               ngram_range=(1, params["ngram_max"]) if word else (2, params["char_ngram_max"]),
                               min_df=params["min_df"], sublinear_tf=params["sublinear_tf"], max_features=200_000,
                               dtype=np.float64)
    return Pipeline([("features", features), ("model", LogisticRegression(C=params["C"], max_iter=2000))])


@dataclass(frozen=True)
class Workload:
    key: str
    task: str
    data: str
    model: str
    space: Callable[[optuna.Trial], dict[str, Any]]
    pipeline: Callable[[dict[str, Any], int], Pipeline]


WORKLOADS = (
    Workload("tabular", "tabular", "breast_cancer", "hist_gradient_boosting", hgb_space, hgb_pipeline),
    Workload("nlp", "nlp", "rotten_tomatoes", "tfidf_linear", tfidf_space, tfidf_pipeline),
)


def _take(X: Any, index: np.ndarray) -> Any:
    return X.iloc[index] if isinstance(X, pd.DataFrame) else X[index]


# -- instrumentation: storage calls (outermost, per thread) and SQL statements ------------------------------


class StorageMeter:
    """Counts and times the outermost Optuna storage calls of the main thread, and SQL statements run."""

    def __init__(self) -> None:
        self.local = threading.local()
        self.main = threading.main_thread()
        self.reset()

    def reset(self) -> None:
        self.calls: dict[str, int] = {}
        self.seconds = 0.0
        self.other_thread_calls = 0
        self.sql = 0
        self.commits = 0

    def snapshot(self) -> dict[str, Any]:
        return {"seconds": self.seconds, "calls": dict(self.calls), "other_thread_calls": self.other_thread_calls,
                "sql": self.sql, "commits": self.commits}

    def wrap(self, cls: type) -> None:
        for name, member in list(vars(cls).items()):
            if name.startswith("_") or not callable(member) or isinstance(member, (staticmethod, classmethod)):
                continue
            setattr(cls, name, self._timed(name, member))

    def _timed(self, name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        meter = self

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            depth = getattr(meter.local, "depth", 0)
            if depth:
                return fn(*args, **kwargs)
            meter.local.depth = 1
            start = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                elapsed = time.perf_counter() - start
                meter.local.depth = 0
                if threading.current_thread() is meter.main:
                    meter.seconds += elapsed
                    meter.calls[name] = meter.calls.get(name, 0) + 1
                else:
                    meter.other_thread_calls += 1

        return wrapper

    def install(self) -> None:
        from optuna.storages._cached_storage import _CachedStorage

        for cls in (_CachedStorage, optuna.storages.RDBStorage):
            self.wrap(cls)

        @event.listens_for(Engine, "before_cursor_execute")
        def _count_sql(*_: Any) -> None:
            self.sql += 1

        @event.listens_for(Engine, "commit")
        def _count_commit(*_: Any) -> None:
            self.commits += 1


METER = StorageMeter()


# -- one run of each side ------------------------------------------------------------------------------------


@dataclass
class Run:
    side: str
    total: float  # wall seconds of the whole call
    loop: float  # first trial start .. last trial end (stored timestamps)
    work: float  # seconds fitting and scoring folds (inside the objective)
    storage: float  # main-thread seconds in outermost storage calls
    storage_calls: dict[str, int]
    other_thread_calls: int
    sql: int
    commits: int
    values: list[float]
    params: list[dict[str, Any]]
    n: int = 0


def _loop_span(trials: list[optuna.trial.FrozenTrial]) -> float:
    start = min(t.datetime_start for t in trials)
    end = max(t.datetime_complete for t in trials)
    return (end - start).total_seconds()


def _finish(side: str, total: float, work: float, trials: list[optuna.trial.FrozenTrial],
            meter: dict[str, Any]) -> Run:
    done = [t for t in trials if t.state == optuna.trial.TrialState.COMPLETE]
    if len(done) != len(trials):
        reasons = {t.number: t.user_attrs.get("fail_reason") for t in trials if t not in done}
        raise RuntimeError(f"{side}: not every trial completed: {reasons}")
    params = [{k: v for k, v in t.params.items() if k != "model"} for t in done]
    return Run(side, total, _loop_span(done), work, meter["seconds"], meter["calls"], meter["other_thread_calls"],
               meter["sql"], meter["commits"], [float(t.value) for t in done], params, len(done))


def run_plain(w: Workload, X: Any, y: np.ndarray, n_trials: int, seed: int, url: str, threads: int | None) -> Run:
    work = [0.0]

    def objective(trial: optuna.Trial) -> float:
        params = w.space(trial)
        scores = []
        with threadpool_limits(limits=threads):  # as automl's objective does with its `threads`
            for fold, (train, valid) in enumerate(splits):
                start = time.perf_counter()
                pipe = w.pipeline(params, seed + 1000 * trial.number + fold)
                pipe.fit(_take(X, train), y[train])
                scores.append(float(accuracy_score(y[valid], pipe.predict(_take(X, valid)))))
                work[0] += time.perf_counter() - start
        return float(np.mean(scores))

    METER.reset()
    start = time.perf_counter()
    splits = list(StratifiedKFold(n_splits=FOLDS, shuffle=True, random_state=seed).split(np.zeros(len(y)), y))
    study = optuna.create_study(storage=url, study_name="bench", direction="maximize",
                                sampler=optuna.samplers.RandomSampler(seed=seed))
    study.optimize(objective, n_trials=n_trials)
    total = time.perf_counter() - start
    meter = METER.snapshot()
    return _finish("plain", total, work[0], study.get_trials(deepcopy=False), meter)


def run_automl(w: Workload, n_trials: int, seed: int, url: str, threads: int | None) -> tuple[Run, float]:
    kwargs = dict(data=w.data, n_trials=n_trials, folds=FOLDS, sampler="random", pruner="none", models=[w.model],
                  storage=url, study="bench", seed=seed, threads=threads)
    METER.reset()
    start = time.perf_counter()
    result = automl.search(w.task, **kwargs)
    total = time.perf_counter() - start
    meter = METER.snapshot()
    trials = result.study.get_trials(deepcopy=False)
    work = sum(sum(t.user_attrs.get("fit_seconds", [])) for t in trials)
    run = _finish("automl", total, work, trials, meter)
    # the same call again: n_trials is met, so it only starts up (loads data and plugins, opens the study)
    start = time.perf_counter()
    again = automl.search(w.task, **kwargs)
    resume = time.perf_counter() - start
    if len(again.study.trials) != n_trials:
        raise RuntimeError(f"the resume ran trials: {len(again.study.trials)} != {n_trials}")
    return run, resume


# -- report ----------------------------------------------------------------------------------------------------


def machine_facts() -> list[str]:
    try:
        model = next(line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                     if line.startswith("model name"))
    except (OSError, StopIteration):
        model = platform.processor() or "?"
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else "?"
    return [
        f"cpu: {os.cpu_count()} logical CPUs (usable: {usable}), {model}",
        f"python {platform.python_version()} on {platform.platform()}",
        "versions: " + versions(("automl", "optuna", "scikit-learn", "torch", "numpy", "SQLAlchemy")),
        f"automl imported from {Path(automl.__file__).parent}",
    ]


def _fs_type(folder: str) -> str:
    """The filesystem type of ``folder`` (from /proc/mounts: the longest mount point above it)."""
    try:
        mounts = [line.split()[1:3] for line in Path("/proc/mounts").read_text().splitlines()]
    except OSError:
        return "?"
    path = str(Path(folder).resolve())
    best = max((m for m in mounts if path == m[0] or path.startswith(m[0].rstrip("/") + "/")),
               key=lambda m: len(m[0]), default=("", "?"))
    return best[1]


def med(xs: list[float]) -> float:
    return statistics.median(xs)


def table(rows: list[list[str]]) -> str:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    out = []
    for k, r in enumerate(rows):
        out.append("| " + " | ".join(c.ljust(widths[i]) if i == 0 else c.rjust(widths[i]) for i, c in enumerate(r))
                   + " |")
        if k == 0:
            out.append("|" + "|".join("-" * (w + 2) if i == 0 else "-" * (w + 1) + ":" for i, w in enumerate(widths))
                       + "|")
    return "\n".join(out)


def summarize(w: Workload, n: int, plain: list[Run], auto: list[Run], resumes: list[float]) -> tuple[list[str], str]:
    p_tot, a_tot = med([r.total for r in plain]), med([r.total for r in auto])
    p_loop, a_loop = med([r.loop / r.n for r in plain]), med([r.loop / r.n for r in auto])
    p_work, a_work = med([r.work / r.n for r in plain]), med([r.work / r.n for r in auto])
    p_over, a_over = med([(r.loop - r.work) / r.n for r in plain]), med([(r.loop - r.work) / r.n for r in auto])
    p_fix, a_fix = med([r.total - r.loop for r in plain]), med([r.total - r.loop for r in auto])
    p_sto, a_sto = med([r.storage / r.n for r in plain]), med([r.storage / r.n for r in auto])
    p_calls, a_calls = med([sum(r.storage_calls.values()) / r.n for r in plain]), \
        med([sum(r.storage_calls.values()) / r.n for r in auto])
    p_sql, a_sql = med([r.sql / r.n for r in plain]), med([r.sql / r.n for r in auto])
    p_com, a_com = med([r.commits / r.n for r in plain]), med([r.commits / r.n for r in auto])
    # mean over all trials of all repeats (each repeat draws the same parameters: same seed)
    p_mean = float(np.mean([v for r in plain for v in r.values]))
    a_mean = float(np.mean([v for r in auto for v in r.values]))
    same_params = all(p.params == a.params for p, a in zip(plain, auto))
    max_diff = max(max(abs(u - v) for u, v in zip(p.values, a.values)) for p, a in zip(plain, auto))
    row = [f"{w.key} ({w.data}, {w.model})", str(n),
           f"{p_tot:.2f}", f"{a_tot:.2f}", f"{p_tot / n:.3f}", f"{a_tot / n:.3f}", f"{a_tot / p_tot:.3f}",
           f"{a_over - p_over:+.3f}", f"{p_mean:.4f}", f"{a_mean:.4f}"]
    detail = [
        ["", "plain", "automl", "automl - plain"],
        ["whole call, s", f"{p_tot:.3f}", f"{a_tot:.3f}", f"{a_tot - p_tot:+.3f}"],
        ["fixed (whole call - trial loop), s", f"{p_fix:.3f}", f"{a_fix:.3f}", f"{a_fix - p_fix:+.3f}"],
        ["trial loop, s/trial", f"{p_loop:.4f}", f"{a_loop:.4f}", f"{a_loop - p_loop:+.4f}"],
        ["  fit+score folds, s/trial", f"{p_work:.4f}", f"{a_work:.4f}", f"{a_work - p_work:+.4f}"],
        ["  rest of the loop, s/trial", f"{p_over:.4f}", f"{a_over:.4f}", f"{a_over - p_over:+.4f}"],
        ["storage calls (main thread, whole call) / trial, s", f"{p_sto:.4f}", f"{a_sto:.4f}",
         f"{a_sto - p_sto:+.4f}"],
        ["storage calls (main thread, whole call) / trial", f"{p_calls:.1f}", f"{a_calls:.1f}",
         f"{a_calls - p_calls:+.1f}"],
        ["SQL statements (all threads) / trial", f"{p_sql:.1f}", f"{a_sql:.1f}", f"{a_sql - p_sql:+.1f}"],
        ["commits (all threads) / trial", f"{p_com:.1f}", f"{a_com:.1f}", f"{a_com - p_com:+.1f}"],
        ["automl.search resume with n_trials met, s", "", f"{med(resumes):.3f}", ""],
    ]
    calls = {}
    for r in auto:
        for k, v in r.storage_calls.items():
            calls.setdefault(k, []).append(v / r.n)
    pcalls = {}
    for r in plain:
        for k, v in r.storage_calls.items():
            pcalls.setdefault(k, []).append(v / r.n)
    names = sorted(set(calls) | set(pcalls), key=lambda k: -med(calls.get(k, [0])))
    by_name = ", ".join(f"{k} {med(pcalls.get(k, [0])):.1f}/{med(calls.get(k, [0])):.1f}" for k in names)
    text = [
        f"### {w.key}: {w.data} / {w.model}, {n} trials x {FOLDS} folds, median of {len(plain)} runs",
        "",
        table(detail),
        "",
        f"storage calls per trial by method (plain/automl): {by_name}",
        "storage calls from other threads (heartbeats), whole run: "
        f"plain {med([r.other_thread_calls for r in plain])}, automl {med([r.other_thread_calls for r in auto])}",
        f"identical parameters drawn on both sides in every repeat: {'yes' if same_params else 'NO'}; "
        f"largest |trial score difference|: {max_diff:.2e}",
        "per-run whole-call seconds: plain " + ", ".join(f"{r.total:.2f}" for r in plain)
        + "; automl " + ", ".join(f"{r.total:.2f}" for r in auto)
        + "; resume " + ", ".join(f"{s:.3f}" for s in resumes),
    ]
    return row, "\n".join(text)


def startup_parts(w: Workload, repeats: int) -> str:
    """Time the pieces of automl.search's fixed cost that do not touch the study."""
    load, disc = [], []
    for _ in range(max(repeats, 3)):
        start = time.perf_counter()
        dataset = load_dataset(w.task, w.data)
        load.append(time.perf_counter() - start)
        start = time.perf_counter()
        discover()
        disc.append(time.perf_counter() - start)
    start = time.perf_counter()
    make_splits(dataset, FOLDS, 0)
    splits = time.perf_counter() - start
    return (f"{w.key}: load_dataset {med(load):.3f} s, discover() {med(disc):.3f} s, make_splits {splits:.4f} s "
            f"(medians of {len(load)})")


#: A mid-range parameter set per workload, for --fold-check.
FIXED_PARAMS = {
    "tabular": {"learning_rate": 0.05, "max_leaf_nodes": 16, "min_samples_leaf": 10, "l2_regularization": 0.1},
    "nlp": {"ngram_max": 2, "min_df": 2, "sublinear_tf": True, "C": 1.0},
}


class _NoReporter:
    """Stands in for automl's FoldReporter: no trial, no storage."""

    def fold_done(self, fold: int, score: float) -> None:
        pass

    def epoch(self, fold: int, epoch: int, score: float) -> None:
        pass


def fold_check(w: Workload, repeats: int, seed: int, threads: int | None) -> str:
    """automl's own fold loop (automl.cv.cross_validate: clone + featurize + fit + predict_proba + score) against
    the plain Pipeline fold loop, same parameters, no Optuna at all: is there overhead in the fold work itself?"""
    from automl.space import Config

    record = next(r for r in discover().models(w.task, "classification") if r.name == w.model)
    dataset = load_dataset(w.task, w.data)
    splits = make_splits(dataset, FOLDS, seed)
    metric = get_metric(None, dataset.kind)
    params = FIXED_PARAMS[w.key]

    def ours() -> list[float]:
        reporter: Any = _NoReporter()
        return cross_validate(Config(record, dict(params)), dataset, splits, metric, reporter, seed=seed).fold_scores

    def plain() -> list[float]:
        scores = []
        for fold, (train, valid) in enumerate(splits):
            pipe = w.pipeline(dict(params), seed + fold)
            pipe.fit(_take(dataset.X, train), dataset.y[train])
            scores.append(float(accuracy_score(dataset.y[valid], pipe.predict(_take(dataset.X, valid)))))
        return scores

    times: dict[str, list[float]] = {"automl": [], "plain": []}
    results = {}
    with threadpool_limits(limits=threads):
        for rep in range(repeats):
            sides = (("automl", ours), ("plain", plain))
            for name, fn in sides if rep % 2 == 0 else sides[::-1]:
                start = time.perf_counter()
                results[name] = fn()
                times[name].append(time.perf_counter() - start)
    a, p = med(times["automl"]), med(times["plain"])
    same = "yes" if results["automl"] == results["plain"] else "NO"
    return (f"{w.key}: {FOLDS} folds, median of {repeats}: automl.cv.cross_validate {a:.3f} s, plain Pipeline loop "
            f"{p:.3f} s, ratio {a / p:.3f}; identical fold scores: {same}")


def profile_automl(w: Workload, n_trials: int, seed: int, tmp: Path, threads: int | None) -> str:
    """cProfile one automl.search run; list the automl/optuna/sklearn calls with most cumulative time."""
    url = f"sqlite:///{tmp / 'profile.db'}"
    prof = cProfile.Profile()
    prof.enable()
    automl.search(w.task, data=w.data, n_trials=n_trials, folds=FOLDS, sampler="random", pruner="none",
                  models=[w.model], storage=url, study="bench", seed=seed, threads=threads)
    prof.disable()
    stats = pstats.Stats(prof)
    wanted = [
        ("automl/search.py", "search"), ("optuna/study/_optimize.py", "_run_trial"),
        ("automl/objective.py", "__call__"), ("automl/cv.py", "cross_validate"), ("automl/cv.py", "_fit_fold"),
        ("automl/features.py", "featurize"), ("sklearn/base.py", "clone"), ("automl/space.py", "compose"),
        ("automl/resume.py", "record_worker"), ("automl/cv.py", "fold_done"), ("optuna/trial/_trial.py", "report"),
        ("optuna/trial/_trial.py", "should_prune"), ("optuna/trial/_trial.py", "set_user_attr"),
        ("optuna/study/_optimize.py", "_optimize_sequential"),
        ("optuna/storages/_heartbeat.py", "fail_stale_trials"), ("optuna/study/study.py", "_tell"),
        ("optuna/study/_tell.py", "_tell_with_warning"), ("optuna/study/study.py", "ask"),
        ("optuna/study/_optimize.py", "_run_callbacks"), ("optuna/study/study.py", "get_trials"),
        ("automl/resume.py", "counted_trials"), ("optuna/storages/_heartbeat.py", "get_heartbeat_thread"),
        ("automl/cv.py", "_sklearn_outputs"),
    ]
    rows = [["function", "calls", "cumulative s", "s/trial"]]
    for (file, _line, func), (_cc, nc, _tt, ct, _callers) in sorted(stats.stats.items(), key=lambda kv: -kv[1][3]):
        for suffix, name in wanted:
            if func == name and file.replace(os.sep, "/").endswith(suffix):
                rows.append([f"{suffix}:{func}", str(nc), f"{ct:.3f}", f"{ct / n_trials:.4f}"])
    return table(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, default=15, help="trials per tabular run (default 15)")
    parser.add_argument("--nlp-trials", type=int, default=4,
                        help="trials per nlp run (default 4: an nlp trial takes ~3 s on 2 busy cores)")
    parser.add_argument("--repeats", type=int, default=3,
                        help="runs of each side per workload, alternating which goes first; medians reported "
                             "(default 3)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workloads", default="tabular,nlp", help="comma-separated: tabular, nlp")
    parser.add_argument("--threads", type=int, default=1,
                        help="BLAS/OpenMP threads while fitting, both sides (automl's threads=; 0: no limit). "
                             "Default 1: OpenMP models slow down many times over on a busy 2-core machine")
    parser.add_argument("--db-dir", default=None,
                        help="folder for the temporary SQLite files (default: the system temp folder)")
    parser.add_argument("--fold-check", action="store_true",
                        help="also time automl's fold loop (automl.cv.cross_validate) against the plain Pipeline loop "
                             "with no Optuna involved, 2 x --repeats alternating runs per workload")
    parser.add_argument("--profile", action="store_true",
                        help="also cProfile one extra automl run per workload and list where its time goes")
    args = parser.parse_args()
    threads = args.threads or None
    if min(args.trials, args.nlp_trials, args.repeats) < 1:
        parser.error("--trials, --nlp-trials and --repeats must be positive")
    nlp_trials = args.nlp_trials
    chosen = [w for w in WORKLOADS if w.key in args.workloads.split(",")]

    optuna.logging.set_verbosity(optuna.logging.WARNING)  # both sides equally quiet (automl leaves it as is)
    METER.install()
    began = time.perf_counter()
    print("# automl per-trial overhead vs a plain Optuna loop")
    print()
    print("command: " + " ".join([Path(sys.executable).name, *sys.argv]))
    for line in machine_facts():
        print(line)
    print(f"fit threads: {threads or 'no limit'}; SQLite files in: {args.db_dir or tempfile.gettempdir()} "
          f"({_fs_type(args.db_dir or tempfile.gettempdir())})")
    print(f"load before: {load_line()}")
    print()

    # warm-up outside the timings: import every plugin, load each dataset once (file cache, lazy imports)
    discover()
    data = {w.key: load_dataset(w.task, w.data) for w in chosen}
    for w in chosen:
        ds = data[w.key]
        ours = list(StratifiedKFold(n_splits=FOLDS, shuffle=True, random_state=args.seed)
                    .split(np.zeros(len(ds)), ds.y))
        theirs = make_splits(ds, FOLDS, args.seed)
        assert all(np.array_equal(a[1], b[1]) for a, b in zip(ours, theirs)), "the plain splits differ from automl's"

    rows = [["workload", "trials", "plain s", "automl s", "plain s/trial", "automl s/trial", "automl/plain",
             "automl extra non-fit s/trial", "plain mean CV acc", "automl mean CV acc"]]
    details, parts = [], []
    with tempfile.TemporaryDirectory(prefix="automl-bench-", dir=args.db_dir) as tmpdir:
        tmp = Path(tmpdir)
        for w in chosen:
            n = nlp_trials if w.key == "nlp" else args.trials
            ds = data[w.key]
            plain, auto, resumes = [], [], []
            for rep in range(args.repeats):
                order = ("plain", "automl") if rep % 2 == 0 else ("automl", "plain")  # alternate to spread drift
                for side in order:
                    url = f"sqlite:///{tmp / f'{w.key}-{rep}-{side}.db'}"
                    if side == "plain":
                        plain.append(run_plain(w, ds.X, ds.y, n, args.seed, url, threads))
                    else:
                        run, resume = run_automl(w, n, args.seed, url, threads)
                        auto.append(run)
                        resumes.append(resume)
                print(f"  {w.key} repeat {rep + 1}/{args.repeats}: plain {plain[-1].total:.2f} s, "
                      f"automl {auto[-1].total:.2f} s, resume {resumes[-1]:.3f} s  [{load_line()}]",
                      file=sys.stderr, flush=True)
            row, detail = summarize(w, n, plain, auto, resumes)
            rows.append(row)
            details.append(detail)
            parts.append(startup_parts(w, args.repeats))
        checks = [fold_check(w, 2 * args.repeats, args.seed, threads) for w in chosen] if args.fold_check else []
        profiles = []
        if args.profile:
            for w in chosen:
                n = nlp_trials if w.key == "nlp" else args.trials
                (tmp / w.key).mkdir()
                profiles.append(f"### cProfile of one automl.search run: {w.key}, {n} trials\n\n"
                                + profile_automl(w, n, args.seed, tmp / w.key, threads))

    print("## Summary (medians)")
    print()
    print(table(rows))
    print()
    for d in details:
        print(d)
        print()
    print("### Fixed startup parts of automl.search (no study involved)")
    print()
    for p in parts:
        print(p)
    print()
    if checks:
        print("### Fold work alone, no Optuna (--fold-check)")
        print()
        for c in checks:
            print(c)
        print()
    for p in profiles:
        print(p)
        print()
    print(f"load after: {load_line()}")
    print(f"benchmark wall time: {time.perf_counter() - began:.1f} s")


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        main()
