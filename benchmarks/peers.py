#!/usr/bin/env python
"""automl side by side with its peers at equal wall budgets: FLAML on tables, a plain Optuna objective on texts.

Pairs, each run at every budget (``--budgets``, seconds of wall time per tool):

* **flaml**: automl vs FLAML (``flaml.AutoML``) on the built-in tabular datasets (``--datasets``);
* **optuna**: automl vs the plain Optuna + scikit-learn objective a user would write on the NLP default
  (rotten_tomatoes): TF-IDF (word, ``char_wb`` or their union) + LogisticRegression or LinearSVC, a few suggested
  parameters, 5-fold stratified CV, TPE sampler, no storage.

For every pair the data is split once (80/20, stratified, seeded: the split ``automl.search(holdout=0.2)`` makes);
each tool searches on the train rows within its budget: ``automl.search(timeout=B, n_trials=large, holdout=0.2)``
(its held-out score is the study's own: the best trial refitted on all train rows, scored on the test rows),
``AutoML().fit(time_budget=B, eval_method="cv", n_splits=5)`` (its final model is refitted on all train rows),
``study.optimize(objective, timeout=B)`` then the best pipeline refitted on all train rows. Reported: best 5-fold
CV score on the train rows, test score, the wall time the tool actually took (search and final refit), the time
each tool found its own final best, and *time to target*: when automl first reached the peer's final best CV score
(from its trials' completion times, counted from the call's start; "not reached" if never). Everything runs in
this one process, one thread per trial on both sides (automl ``threads=1``; FLAML ``n_jobs=1``; the Optuna side
under ``threadpool_limits(1)``), on the CPU.

Each finished pair is stored at once in ``--results`` (JSON; default ``studies/peers-results.json``): a re-run
skips pairs already there (``--fresh`` runs them again), so an interrupted run resumes where it stopped, and
``--only flaml`` / ``--only optuna`` runs one section. ``--write`` (re)writes the "Side by side: FLAML and plain
Optuna" section of docs/benchmarks.md from all stored pairs; hand-written text after its generated part is kept.

FLAML is a benchmark-only extra, not part of the setup: ``.venv/bin/pip install -c constraints.txt -e '.[bench]'``.

Usage: ``.venv/bin/python benchmarks/peers.py [--budgets 30,120] [--datasets breast_cancer,wine,diabetes]
[--only flaml|optuna] [--seed 0] [--results FILE] [--fresh] [--write]`` (about 2 x (sum of budgets) x
(datasets + 1) seconds plus start-ups and refits: 22-25 minutes with the defaults on 2 loaded cores).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import statistics
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

# automl first: it loads torch before any scikit-learn module (see automl/__init__.py and benchmarks/overhead.py)
import automl  # isort: skip
import numpy as np
import optuna
from optuna.trial import TrialState
from threadpoolctl import threadpool_limits

from automl.datasets import BUILTINS, Dataset, load_dataset
from automl.holdout import ATTR as HOLDOUT_ATTR
from automl.holdout import split_holdout
from automl.metrics import Metric, get_metric

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _docs import DOCS, load_line, machine_line, write_generated  # noqa: E402

FOLDS = 5
TEST_FRACTION = 0.2
#: States of the trials that ran (a trial stopped at the time limit is failed, and its configuration queued
#: again as a new, waiting trial).
RAN = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL)
#: automl's trial budget when the wall budget is what ends the run.
MANY_TRIALS = 100_000
SECTIONS = ("flaml", "optuna")
DEFAULT_DATASETS = ("breast_cancer", "wine", "diabetes")
NLP_DATASET = "rotten_tomatoes"
HEADING = "## Side by side: FLAML and plain Optuna"
MARKERS = ("<!-- peers.py: generated, from here -->", "<!-- peers.py: generated, to here -->")
#: The versions its machine line names.
DISTS = ("automl", "optuna", "scikit-learn", "flaml", "lightgbm", "xgboost")
#: Width of the prose lines written to the docs (tables stay one row a line).
WIDTH = 116
INSTALL_HINT = "FLAML is not installed: .venv/bin/pip install -c constraints.txt -e '.[bench]'"


@dataclass
class Side:
    """What one tool got in one pair."""

    tool: str
    best_cv: float | None
    test: float | None
    wall: float  # seconds: the whole call (search and final refit)
    own_best_at: float | None  # seconds from the start until the tool found its final best
    trials: int
    #: per model: trials, complete, pruned, failed, median seconds a trial, best CV (automl); trials, best CV (peers)
    models: dict[str, dict[str, Any]] = field(default_factory=dict)
    best_model: str = ""


@dataclass
class Pair:
    """One comparison: automl and a peer on one dataset at one budget."""

    section: str
    dataset: str
    budget: float
    seed: int
    metric: str
    direction: str
    train_rows: int
    test_rows: int
    automl: Side
    peer: Side
    time_to_target: float | None  # when automl first reached the peer's final best CV; None: never
    when: str
    command: str
    load_before: str

    @property
    def key(self) -> str:
        return pair_key(self.section, self.dataset, self.budget, self.seed)


def pair_key(section: str, dataset: str, budget: float, seed: int) -> str:
    return f"{section}/{dataset}/{budget:g}/{seed}"


# -- measures ----------------------------------------------------------------------------------------------------


def time_to_target(timeline: Sequence[tuple[float, float]], target: float, direction: str) -> float | None:
    """The first time in ``timeline`` (``(seconds from the start, score)`` of each finished trial, any order) at
    which a score reached ``target`` (``>=`` when maximizing, ``<=`` when minimizing); ``None`` if none did."""
    reached = [t for t, score in timeline if (score >= target if direction == "maximize" else score <= target)]
    return min(reached) if reached else None


def split_rows(dataset: Dataset, seed: int) -> tuple[Dataset, Dataset]:
    """``(train, test)``: the rows ``automl.search(holdout=TEST_FRACTION, seed=seed)`` searches on and holds out."""
    train, test, _ = split_holdout(dataset, TEST_FRACTION, seed)
    return train, test


def _score(metric: Metric, y: np.ndarray, prediction: np.ndarray) -> float:
    return float(metric.score(y, np.asarray(prediction)))


def _seconds(since: datetime, moment: datetime | None) -> float | None:
    return None if moment is None else (moment - since).total_seconds()


def automl_models(trials: Sequence[optuna.trial.FrozenTrial], direction: str) -> dict[str, dict[str, Any]]:
    """Per model of an automl study: trials, complete, pruned, failed, median seconds a trial, best CV."""
    out: dict[str, dict[str, Any]] = {}
    pick = max if direction == "maximize" else min
    for name in sorted({str(t.params.get("model", "?")) for t in trials}):
        mine = [t for t in trials if str(t.params.get("model", "?")) == name]
        done = [t for t in mine if t.state == TrialState.COMPLETE]
        spans = [(t.datetime_complete - t.datetime_start).total_seconds() for t in mine
                 if t.datetime_complete is not None and t.datetime_start is not None]
        out[name] = {"trials": len(mine), "complete": len(done),
                     "pruned": sum(t.state == TrialState.PRUNED for t in mine),
                     "failed": sum(t.state == TrialState.FAIL for t in mine),
                     "median_s": round(statistics.median(spans), 2) if spans else None,
                     "best_cv": pick(float(t.value) for t in done) if done else None}
    return out


# -- the three tools ---------------------------------------------------------------------------------------------


def run_automl(task: str, data: str, budget: float, seed: int, workdir: Path,
               models: Sequence[str] | None = None) -> tuple[Side, list[tuple[float, float]]]:
    """``automl.search`` on ``data`` with a wall budget, one thread a trial, the test rows held out; the side and
    the ``(seconds from the call's start, CV score)`` of each complete trial."""
    began, start = datetime.now(), time.perf_counter()  # (Optuna's trial times are local, naive datetimes)
    result = automl.search(task, data=data, timeout=budget, n_trials=MANY_TRIALS, folds=FOLDS, seed=seed,
                           holdout=TEST_FRACTION, threads=1, device="cpu", models=models,
                           storage=f"sqlite:///{workdir / 'automl.db'}", study="peers")
    wall = time.perf_counter() - start
    study = result.study
    trials = study.get_trials(deepcopy=False, states=RAN)  # not the configurations queued for a next run
    done = [t for t in trials if t.state == TrialState.COMPLETE]
    timeline = [(_seconds(began, t.datetime_complete), float(t.value)) for t in done]
    held_out = study.user_attrs.get(HOLDOUT_ATTR) or {}
    best = result.best_trial if done else None
    side = Side("automl", None if best is None else float(best.value), held_out.get("score"), wall,
                None if best is None else _seconds(began, best.datetime_complete), len(trials),
                automl_models(trials, study.direction.name.lower()),
                "" if best is None else str(best.params.get("model", "?")))
    return side, timeline


def run_flaml(train: Dataset, test: Dataset, metric: Metric, budget: float, seed: int) -> Side:
    """FLAML's ``AutoML().fit`` on the train rows: 5-fold CV, one job, the same wall budget; scored on the test
    rows by its final model (refitted on all train rows)."""
    from flaml import AutoML

    task = "classification" if train.kind == "classification" else "regression"
    flaml_metric = {"accuracy": "accuracy", "rmse": "rmse"}[metric.name]
    tool = AutoML()
    start = time.perf_counter()
    with threadpool_limits(limits=1):
        tool.fit(train.X, train.y, task=task, metric=flaml_metric, time_budget=budget, eval_method="cv",
                 n_splits=FOLDS, seed=seed, n_jobs=1, verbose=0)
        test_score = _score(metric, test.y, tool.predict(test.X))
    wall = time.perf_counter() - start
    # FLAML minimizes a loss: 1 - accuracy, or the rmse itself
    to_score = (lambda loss: 1.0 - loss) if flaml_metric == "accuracy" else (lambda loss: loss)
    per_learner = getattr(tool, "_iter_per_learner", {})  # trials per learner (FLAML keeps no public count)
    models = {name: {"trials": int(per_learner.get(name, 0)), "best_cv": to_score(loss)}
              for name, loss in tool.best_loss_per_estimator.items() if np.isfinite(loss)}
    return Side("flaml", to_score(tool.best_loss), test_score, wall, float(tool.time_to_find_best_model),
                int(sum(per_learner.values())), models, str(tool.best_estimator))


def text_space(trial: optuna.Trial) -> dict[str, Any]:
    """The plain side's search space: what a user would try for TF-IDF + a linear model."""
    params: dict[str, Any] = {"features": trial.suggest_categorical("features", ["word", "char_wb", "word+char_wb"]),
                              "word_ngram_max": trial.suggest_int("word_ngram_max", 1, 2),
                              "min_df": trial.suggest_int("min_df", 1, 3),
                              "sublinear_tf": trial.suggest_categorical("sublinear_tf", [True, False]),
                              "classifier": trial.suggest_categorical("classifier", ["logreg", "linear_svc"])}
    params["C"] = trial.suggest_float("C", 1e-2, 1e2, log=True)
    return params


def text_pipeline(params: dict[str, Any]) -> Any:
    """The plain side's pipeline for ``params`` (see :func:`text_space`)."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import FeatureUnion, make_pipeline
    from sklearn.svm import LinearSVC

    common = {"min_df": params["min_df"], "sublinear_tf": params["sublinear_tf"]}
    parts = []
    if "word" in params["features"].split("+"):
        parts.append(("word", TfidfVectorizer(ngram_range=(1, params["word_ngram_max"]), **common)))
    if "char_wb" in params["features"].split("+"):
        parts.append(("char", TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), **common)))
    model = (LogisticRegression(C=params["C"], max_iter=2000) if params["classifier"] == "logreg"
             else LinearSVC(C=params["C"]))
    return make_pipeline(FeatureUnion(parts), model)


def run_plain_optuna(train: Dataset, test: Dataset, metric: Metric, budget: float, seed: int) -> Side:
    """The plain Optuna objective (:func:`text_space`, :func:`text_pipeline`) on the train rows, 5-fold
    stratified CV, ``study.optimize(timeout=budget)``, then the best pipeline refitted on all train rows."""
    from sklearn.model_selection import StratifiedKFold

    splits = list(StratifiedKFold(n_splits=FOLDS, shuffle=True, random_state=seed).split(train.X, train.y))

    def objective(trial: optuna.Trial) -> float:
        pipe = text_pipeline(text_space(trial))
        scores = []
        for fit_rows, valid_rows in splits:
            pipe.fit(train.X[fit_rows], train.y[fit_rows])
            scores.append(_score(metric, train.y[valid_rows], pipe.predict(train.X[valid_rows])))
        return float(np.mean(scores))

    began, start = datetime.now(), time.perf_counter()
    with threadpool_limits(limits=1):
        study = optuna.create_study(direction=metric.direction, sampler=optuna.samplers.TPESampler(seed=seed))
        study.optimize(objective, timeout=budget)
        done = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
        test_score = None
        if done:
            final = text_pipeline(text_space(optuna.trial.FixedTrial(study.best_params))).fit(train.X, train.y)
            test_score = _score(metric, test.y, final.predict(test.X))
    wall = time.perf_counter() - start
    models: dict[str, dict[str, Any]] = {}
    for t in done:
        name = f"{t.params['classifier']} ({t.params['features']})"
        entry = models.setdefault(name, {"trials": 0, "best_cv": float(t.value)})
        entry["trials"] += 1
        entry["best_cv"] = max(entry["best_cv"], float(t.value))
    best = study.best_trial if done else None
    return Side("optuna", None if best is None else float(best.value), test_score, wall,
                None if best is None else _seconds(began, best.datetime_complete), len(study.trials), models,
                "" if best is None else f"{best.params['classifier']} ({best.params['features']})")


# -- one pair ----------------------------------------------------------------------------------------------------


def compare(section: str, task: str, data: str, budget: float, seed: int, workdir: Path,
            models: Sequence[str] | None = None) -> Pair:
    """automl vs the section's peer on ``data`` at ``budget`` seconds each (``models``: automl's candidates, for
    smoke runs; default: its whole default space)."""
    dataset = load_dataset(task, data)
    metric = get_metric(None, dataset.kind)
    train, test = split_rows(dataset, seed)
    load_before = load_line()
    auto, timeline = run_automl(task, data, budget, seed, workdir, models)
    peer = (run_flaml if section == "flaml" else run_plain_optuna)(train, test, metric, budget, seed)
    target = None if peer.best_cv is None else time_to_target(timeline, peer.best_cv, metric.direction)
    return Pair(section, dataset.name, budget, seed, metric.name, metric.direction, len(train), len(test), auto,
                peer, target, datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
                " ".join([".venv/bin/python", *sys.argv]), load_before)


# -- results file and report -------------------------------------------------------------------------------------


def load_results(path: Path) -> dict[str, Pair]:
    """Stored pairs by key (empty when the file does not exist)."""
    if not path.exists():
        return {}
    pairs = {}
    for raw in json.loads(path.read_text()):
        raw["automl"], raw["peer"] = Side(**raw["automl"]), Side(**raw["peer"])
        pair = Pair(**raw)
        pairs[pair.key] = pair
    return pairs


def save_results(path: Path, pairs: dict[str, Pair]) -> None:
    """Write ``pairs`` to ``path`` (through a temporary file, so an interrupted write loses nothing stored)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps([asdict(p) for p in pairs.values()], indent=1))
    tmp.replace(path)


def _num(value: float | None, digits: int = 4) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _secs(value: float | None) -> str:
    return "not reached" if value is None else f"{value:.1f}"


def _verdict(pair: Pair) -> str:
    a, p = pair.automl.best_cv, pair.peer.best_cv
    if a is None or p is None:
        return "no result"
    better = (lambda x, y: x > y) if pair.direction == "maximize" else (lambda x, y: x < y)
    cv = "automl" if better(a, p) else pair.peer.tool if better(p, a) else "tie"
    at, pt = pair.automl.test, pair.peer.test
    test = "-" if at is None or pt is None else "automl" if better(at, pt) else pair.peer.tool if better(pt, at) \
        else "tie"
    return f"CV: {cv}; test: {test}"


def table(pairs: Sequence[Pair]) -> str:
    rows = ["| pair | dataset (train/test rows) | budget s | tool | best CV | test | wall s | own best at s | "
            "trials | best model | automl reaches peer's CV at s | better |",
            "|---|---|---:|---|---:|---:|---:|---:|---:|---|---:|---|"]
    for p in pairs:
        shared = [f"vs {p.section}, seed {p.seed}", f"{p.dataset} ({p.train_rows}/{p.test_rows}), {p.metric}",
                  f"{p.budget:g}"]
        for side, first in ((p.automl, True), (p.peer, False)):
            cells = [*(shared if first else ["", "", ""]), side.tool, _num(side.best_cv), _num(side.test),
                     f"{side.wall:.1f}", "-" if side.own_best_at is None else f"{side.own_best_at:.1f}",
                     str(side.trials), f"`{side.best_model}`" if side.best_model else "-",
                     _secs(p.time_to_target) if first else "", _verdict(p) if first else ""]
            rows.append("| " + " | ".join(cells) + " |")
    return "\n".join(rows)


def trial_lines(pairs: Sequence[Pair]) -> list[str]:
    """Per pair: which models each tool tried, how often, how long a trial took (automl), pruned and failed."""
    lines = []
    for p in pairs:
        auto = "; ".join(f"`{name}` {m['trials']} ({m['complete']} complete, {m['pruned']} pruned, {m['failed']} "
                         f"failed; median {_num(m['median_s'], 2)} s; best {_num(m['best_cv'])})"
                         for name, m in p.automl.models.items())
        peer = "; ".join(f"`{name}` {m['trials']} (best {_num(m['best_cv'])})" for name, m in p.peer.models.items())
        lines.append(f"- {p.dataset}, {p.budget:g} s, seed {p.seed}: automl: {auto or 'no trial'}. {p.peer.tool}: "
                     f"{peer or 'no trial'}.")
    return lines


def _paragraph(text: str, indent: str = "") -> str:
    return textwrap.fill(text, width=WIDTH, subsequent_indent=indent, break_on_hyphens=False,
                         break_long_words=False)


def report(pairs: Sequence[Pair]) -> str:
    """The generated part of the docs section: commands, machine, dates, loads, table, trials per model."""
    pairs = sorted(pairs, key=lambda p: (SECTIONS.index(p.section), p.dataset, p.budget, p.seed))
    commands = sorted({p.command for p in pairs})
    dates = sorted({p.when for p in pairs})
    loads = [float(p.load_before.rsplit("load average:", 1)[-1].split(",")[0]) for p in pairs]
    seeds = sorted({p.seed for p in pairs})
    intro = [
        "Command" + ("s" if len(commands) > 1 else "") + ": " + ", ".join(f"`{c}`" for c in commands) + ". "
        f"Run {dates[0]}" + (f" to {dates[-1]}" if len(dates) > 1 else "") + f", {machine_line(DISTS)}; 1-minute load "
        f"average before a pair {min(loads):.1f}-{max(loads):.1f}. What only a process's first call pays (automl: "
        "imports of torch and the plugins, through a one-trial search; FLAML: lightgbm and xgboost) is done before "
        "the first pair; every call still pays its own start-up.",
        f"Each pair: one stratified {1 - TEST_FRACTION:.0%}/{TEST_FRACTION:.0%} split per seed (seed "
        f"{', '.join(map(str, seeds))}: the rows `automl.search(holdout=0.2, seed=seed)` holds out); each tool "
        "searches the train rows with the same wall budget, in one process, one thread per trial (automl "
        "`threads=1`, FLAML `n_jobs=1`, the Optuna side under `threadpool_limits(1)`), CPU only. *Best CV*: the "
        "tool's best 5-fold CV score on the train rows (FLAML uses its own 5 folds; automl and the plain Optuna "
        "objective the same stratified folds). *Test*: the best configuration refitted on all train rows, scored on "
        "the test rows. *Wall s*: the whole call, search and final refit. *Own best at*: when the tool found its "
        "final best. *automl reaches peer's CV at*: the first automl trial, counted from the start of its call, "
        "whose CV score reached the peer's final best.",
    ]
    return "\n".join([
        *(_paragraph(text) + "\n" for text in intro),
        table(pairs),
        "",
        _paragraph("Trials per model (automl: trials, how they ended, median seconds a trial including pruned ones, "
                   "best CV; the peer: trials, best CV):"),
        "",
        *(_paragraph(line, "  ") for line in trial_lines(pairs)),
    ])


# -- main --------------------------------------------------------------------------------------------------------


def warm_up(sections: Sequence[str]) -> None:
    """Do once per process what the first call of each tool would pay for alone: automl's imports (torch, its
    plugins, the storage's migrations) through a one-trial search on a throwaway study; FLAML's imports (lightgbm,
    xgboost)."""
    with tempfile.TemporaryDirectory(prefix="automl-peers-warm-") as tmp:
        automl.search("tabular", data="wine", n_trials=1, folds=2, threads=1, device="cpu", models=["linear"],
                      storage=f"sqlite:///{Path(tmp) / 'warm.db'}", study="warm-up")
    if "flaml" in sections:
        import flaml.automl  # noqa: F401
        import lightgbm  # noqa: F401
        import xgboost  # noqa: F401


def _plan(sections: Sequence[str], datasets: Sequence[str], budgets: Sequence[float]) -> list[tuple[str, str, str,
                                                                                                   float]]:
    plan = []
    for budget in budgets:
        if "flaml" in sections:
            plan += [("flaml", "tabular", name, budget) for name in datasets]
        if "optuna" in sections:
            plan.append(("optuna", "nlp", NLP_DATASET, budget))
    return plan


def main(argv: Sequence[str] | None = None, run: Callable[..., Pair] = compare) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--budgets", default="30,120", help="wall budgets in seconds, comma-separated (default 30,120)")
    parser.add_argument("--datasets", default=",".join(DEFAULT_DATASETS),
                        help="built-in tabular datasets for the FLAML pairs (default: %(default)s)")
    parser.add_argument("--only", choices=SECTIONS, help="run one section only (the other's stored pairs stay)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--results", default="studies/peers-results.json",
                        help="JSON file of finished pairs (default: %(default)s)")
    parser.add_argument("--fresh", action="store_true", help="run pairs again even when stored")
    parser.add_argument("--write", action="store_true",
                        help="write the docs/benchmarks.md section from all stored pairs")
    parser.add_argument("--doc", default=str(DOCS), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    try:
        budgets = [float(b) for b in args.budgets.split(",") if b.strip()]
    except ValueError:
        parser.error(f"--budgets takes numbers of seconds, got {args.budgets!r}")
    if not budgets or min(budgets) <= 0:
        parser.error("--budgets must name positive numbers of seconds")
    datasets = [d.strip() for d in args.datasets.split(",") if d.strip()]
    unknown = [d for d in datasets if BUILTINS.get(d, ("",))[0] != "tabular"]
    if unknown:
        parser.error(f"not built-in tabular datasets: {', '.join(unknown)}")
    sections = [args.only] if args.only else list(SECTIONS)
    if "flaml" in sections and datasets:
        try:
            import flaml  # noqa: F401
        except ImportError:
            print(f"skipping the FLAML pairs: {INSTALL_HINT}", file=sys.stderr)
            sections.remove("flaml")

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    warm_up(sections)
    results = Path(args.results)
    pairs = load_results(results)
    began = time.perf_counter()
    print(f"# automl side by side: {', '.join(sections) or 'nothing to run'}; budgets {args.budgets} s; "
          f"one process, one thread per trial on every side, CPU only")
    print(machine_line(DISTS))
    for section, task, data, budget in _plan(sections, datasets, budgets):
        key = pair_key(section, data, budget, args.seed)
        if key in pairs and not args.fresh:
            print(f"{key}: stored, skipped (--fresh runs it again)", file=sys.stderr)
            continue
        print(f"{key}: running ({load_line()})", file=sys.stderr, flush=True)
        with tempfile.TemporaryDirectory(prefix="automl-peers-") as tmp:
            pair = run(section, task, data, budget, args.seed, Path(tmp))
        pairs[key] = pair
        save_results(results, pairs)
        print(f"{key}: automl {_num(pair.automl.best_cv)} CV / {_num(pair.automl.test)} test in "
              f"{pair.automl.wall:.1f} s; {pair.peer.tool} {_num(pair.peer.best_cv)} / {_num(pair.peer.test)} in "
              f"{pair.peer.wall:.1f} s; target at {_secs(pair.time_to_target)}", file=sys.stderr, flush=True)
    chosen = list(pairs.values())
    if chosen:
        print()
        print(report(chosen))
    if args.write:
        if not chosen:
            parser.error(f"no stored pairs in {results} to write")
        write_generated(HEADING, report(chosen), MARKERS, Path(args.doc))
        print(f"\nwrote the section {HEADING[3:]!r} of {args.doc}")
    print(f"\nbenchmark wall time: {time.perf_counter() - began:.1f} s")
    return 0


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        sys.exit(main())
