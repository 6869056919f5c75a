"""The Python API: :func:`search` runs (or resumes) a study, :func:`load_study` opens one. The CLI calls these."""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import optuna
import pandas as pd

from automl import __version__
from automl.backends import get_backend
from automl.costs import parse_objectives
from automl.cv import splits_digest
from automl.devices import validate_device
from automl.exceptions import ConfigError
from automl.feature_cache import DEFAULT_FEATURE_CACHE_MB, check_cache_mb
from automl.holdout import check_fraction
from automl.job import DataRef, SearchJob, Workload
from automl.metrics import get_metric
from automl.protocols import TASKS
from automl.quiet import quiet_optuna_logs
from automl.refit import score_holdout
from automl.registry import Registry, discover
from automl.samplers import PRUNERS, SAMPLERS, make_pruner, make_sampler
from automl.space import Selection, candidates, space_signature, starting_trials
from automl.storage import display_url, open_storage, resolve_url
from automl.study import StudySpec, default_study_name, validate_study_name

__all__ = ["DEFAULT_N_TRIALS", "SearchResult", "load_study", "search"]

#: Trials a search runs when ``n_trials`` is not given, by task (sized to finish in minutes on 2 CPU cores). NLP
#: searches start from the TF-IDF models' starting points (the best configurations known), which leaves fewer
#: trials to spend than a search starting from random draws.
DEFAULT_N_TRIALS = {"nlp": 10, "vision": 20, "tabular": 30}


@dataclass
class SearchResult:
    """What a search leaves: the Optuna study (persisted in its storage) and what it was created for."""

    study: optuna.Study
    spec: StudySpec
    storage: str
    recovered: list[int]

    @property
    def best_trial(self) -> optuna.trial.FrozenTrial:
        """The best complete trial."""
        return self.study.best_trial

    @property
    def best_value(self) -> float:
        """Mean CV score of the best trial."""
        return self.study.best_value

    @property
    def best_params(self) -> dict[str, Any]:
        """Parameters of the best trial, by their namespaced names (``model.tfidf_linear.C``, ...)."""
        return self.study.best_params

    def trials_dataframe(self, **kwargs: Any) -> pd.DataFrame:
        """All trials as a DataFrame (see :meth:`optuna.Study.trials_dataframe`)."""
        return self.study.trials_dataframe(**kwargs)


def _multi_objective_pruner(pruner: str | None, sampler: str, backend: str) -> str:
    """The pruner of a multi-objective search (``none``), after refusing what cannot run one."""
    if pruner not in (None, "none"):
        raise ConfigError(f"pruner {pruner!r} cannot prune a multi-objective search (Optuna prunes single-objective "
                          "studies only); leave --pruner out")
    if sampler == "cmaes":
        raise ConfigError("sampler 'cmaes' is single-objective; use tpe, random or gp with --objectives")
    if backend != "optuna":
        raise ConfigError(f"--objectives runs on the optuna backend, not {backend!r}")
    return "none"


def _check_options(task: str, n_trials: int, timeout: float | None, folds: int, seed: int, sampler: str,
                   pruner: str, device: str, threads: int | None, selection: Selection, n_jobs: int | None,
                   trial_timeout: float | None) -> None:
    if task not in TASKS:
        raise ConfigError(f"unknown task {task!r}; choose one of {', '.join(TASKS)}")
    if isinstance(n_trials, bool) or not isinstance(n_trials, int) or n_trials < 1:
        raise ConfigError(f"n_trials must be a positive integer, got {n_trials!r}")
    if timeout is not None and not timeout > 0:
        raise ConfigError(f"timeout must be a positive number of seconds, got {timeout!r}")
    if folds < 2:
        raise ConfigError(f"folds must be at least 2, got {folds}")
    if sampler not in SAMPLERS:
        raise ConfigError(f"unknown sampler {sampler!r}; choose one of {', '.join(SAMPLERS)}")
    if pruner not in PRUNERS:
        raise ConfigError(f"unknown pruner {pruner!r}; choose one of {', '.join(PRUNERS)}")
    if threads is not None and threads < 1:
        raise ConfigError(f"threads must be at least 1, got {threads}")
    if not 0 <= seed < 2**32 - 2**20:  # samplers add the number of trials to it
        raise ConfigError(f"seed must be between 0 and {2**32 - 2**20 - 1}, got {seed}")
    for kind, names in (("models", selection.models), ("optimizers", selection.optimizers),
                        ("regularizers", selection.regularizers)):
        if names is not None and not names:
            raise ConfigError(f"{kind} restriction names no plugin; leave it out to allow all")
    validate_device(device)
    if n_jobs is not None and (isinstance(n_jobs, bool) or not isinstance(n_jobs, int) or n_jobs < 1):
        raise ConfigError(f"n_jobs must be a positive integer, got {n_jobs!r}")
    if trial_timeout is not None:
        if not trial_timeout > 0:
            raise ConfigError(f"trial_timeout must be a positive number of seconds, got {trial_timeout!r}")
        if threading.current_thread() is not threading.main_thread() or not hasattr(signal, "setitimer"):
            raise ConfigError("trial_timeout needs the main thread of a POSIX process (it uses SIGALRM)")


def search(
    task: str = "nlp",
    data: str | Path | None = None,
    *,
    target: str | None = None,
    text_column: str | None = None,
    metric: str | None = None,
    n_trials: int | None = None,
    timeout: float | None = None,
    folds: int = 5,
    seed: int = 0,
    study: str | None = None,
    storage: str | None = None,
    sampler: str = "tpe",
    pruner: str | None = None,
    models: Sequence[str] | None = None,
    optimizers: Sequence[str] | None = None,
    regularizers: Sequence[str] | None = None,
    device: str = "auto",
    threads: int | None = None,
    backend: str = "optuna",
    progress: bool = False,
    registry: Registry | None = None,
    n_jobs: int | None = None,
    trial_timeout: float | None = None,
    address: str | None = None,
    cpus_per_trial: float | None = None,
    gpus_per_trial: float | None = None,
    holdout: float | None = None,
    objectives: Sequence[str] | None = None,
    verbose: bool = False,
    started: float | None = None,
    feature_cache_mb: float | None = None,
) -> SearchResult:
    """Run (or resume) a hyperparameter search and return its :class:`SearchResult`.

    Args:
        task: ``"nlp"``, ``"vision"`` or ``"tabular"``.
        data: a built-in dataset name or a path (CSV/Parquet/JSONL; for vision an image folder or .npz);
            ``None`` uses the task's built-in default.
        target, text_column: columns of a table file (the target; the text for ``nlp``).
        metric: fold score (default: accuracy for classification, rmse for regression).
        n_trials: the study ends with this many complete or pruned trials *in total*: a re-run resumes and
            does nothing once the budget is met. Default: :data:`DEFAULT_N_TRIALS` of the task.
        timeout: wall-clock cap of this run in seconds, from ``started`` (default: the call) to the return, held to
            about a second: a trial that could not finish in the time left is not started, a running one is stopped
            at the deadline (both fail with an ``OutOfTime`` reason and their configurations are queued for the next
            run), and a holdout's refit gets its share (see :mod:`automl.deadline`).
        folds, seed: k of the k-fold CV; the seed fixes the splits and seeds sampler and training.
        study: study name (default ``"<task>-<dataset>"``). storage: SQLAlchemy URL (default
            ``$AUTOML_STORAGE`` or ``sqlite:///studies/automl.db``; ``postgresql+psycopg://...`` for many machines).
        sampler: ``tpe``, ``random``, ``cmaes`` or ``gp``. pruner: ``median`` (the default), ``percentile``,
            ``wilcoxon`` (fold-level), ``hyperband`` (folds as the resource) or ``none`` (the only one, and the
            default, of a multi-objective search); see :mod:`automl.samplers`.
        models, optimizers, regularizers: restrict the plugins the search may choose. Without ``models``, heavy
            models (:attr:`automl.protocols.ModelPlugin.heavy`) join only when trials get a GPU, a dataset with
            more rows than a model's ``max_search_rows`` (k-NN: 50,000) leaves it out with a warning, and a
            probability metric leaves out models without class probabilities.
        device: ``auto`` (GPU if present), ``cpu``, ``cuda`` or ``cuda:N``.
        threads: CPU threads per trial (default: one for scikit-learn models, all cores, or a worker's share of
            them, for torch models).
        backend: what runs the trials: ``optuna`` (this process and ``n_jobs - 1`` worker processes) or ``ray``
            (Ray Tune trials on a local or existing Ray cluster); any backend installed under the
            ``automl.backends`` entry points (see :mod:`automl.backends`).
        progress: show a rich progress bar on stderr.
        registry: plugins to use (default: every installed plugin, see :func:`automl.registry.discover`); only
            for backends that run trials in this process alone.
        n_jobs: trials at once. ``optuna``: worker processes (default 1); ``ray``: concurrent Ray trials (default:
            as many as the cluster's resources allow). Several processes may also run one study at once: they end
            it with exactly ``n_trials``.
        trial_timeout: seconds after which a trial fails (``TrialTimeoutError``) and the search goes on; checked
            between Python steps (a long native call finishes first). Needs the main thread (POSIX signals).
        address, cpus_per_trial, gpus_per_trial: ``ray`` only: an existing cluster to join (default: start a
            local one for this search), and the resources each trial reserves (fractional GPUs share one).
        holdout: fraction of the rows (e.g. ``0.2``) set aside before any trial, stratified and fixed by the seed;
            after the search the best configuration is refitted on the other rows and scored on these, and the
            score is stored on the study apart from the CV score (see :mod:`automl.holdout`).
        objectives: an accuracy-vs-cost search: the metric, then costs to minimize (``["accuracy", "latency"]``;
            costs: ``latency``, ``size``, ``params``, see :mod:`automl.costs`). The study is multi-objective: it
            keeps a Pareto front (``study.best_trials``), prunes nothing, and runs on the ``optuna`` backend.
        started: the wall-clock time (``time.time()``) ``timeout`` counts from; ``automl search`` passes its own
            process's start, so the command's start-up counts too.
        feature_cache_mb: size cap (MiB) of each trial process's in-memory cache of featurized folds, which
            trials whose featurizer configurations repeat reuse instead of refitting (each trial's ``feature_cache``
            attribute counts its hits and misses; see :mod:`automl.feature_cache`); 0 turns it off. Default:
            :data:`~automl.feature_cache.DEFAULT_FEATURE_CACHE_MB`.
        verbose: let Optuna log its INFO lines (study created or reused, each trial's result); by default a search
            is as quiet as ``automl search``: warnings, and a failed trial in one line.
    """
    started = time.time() if started is None else started
    n_trials = DEFAULT_N_TRIALS.get(task, 20) if n_trials is None else n_trials
    metric, costs = parse_objectives(objectives, metric)
    pruner = _multi_objective_pruner(pruner, sampler, backend) if costs else pruner or "median"
    selection = Selection(*(tuple(x) if x is not None else None for x in (models, optimizers, regularizers)))
    _check_options(task, n_trials, timeout, folds, seed, sampler, pruner, device, threads, selection, n_jobs,
                   trial_timeout)
    check_fraction(holdout)
    feature_cache_mb = DEFAULT_FEATURE_CACHE_MB if feature_cache_mb is None else feature_cache_mb
    check_cache_mb(feature_cache_mb)
    if study is not None:
        validate_study_name(study)
    make_sampler(sampler, seed)  # refused (e.g. cmaes without its package) before any file is written
    make_pruner(pruner, folds)
    runner = get_backend(backend)
    options = runner.options(address=address, cpus_per_trial=cpus_per_trial, gpus_per_trial=gpus_per_trial,
                             n_jobs=n_jobs, device=device, registry=registry)
    registry = registry or discover()
    ref = DataRef.of(task, data, target, text_column)
    dataset = ref.load()
    score = get_metric(metric, dataset.kind)
    cands = candidates(registry, task, dataset.kind, selection, needs_proba=score.needs_proba,
                       accelerated=runner.accelerated(device, options), n_rows=len(dataset))
    workload, held_out = Workload.prepare(dataset, score, cands, folds, seed, holdout)
    identity = StudySpec(task=task, dataset=dataset.name, source=dataset.source, fingerprint=dataset.fingerprint,
                         kind=dataset.kind, metric=score.name, direction=score.direction, folds=folds, seed=seed,
                         splits=splits_digest(workload.splits), space=space_signature(cands), holdout=held_out,
                         data=asdict(ref), costs=list(costs), automl_version=__version__)
    job = SearchJob(study=study or default_study_name(task, dataset.name), storage=resolve_url(storage), data=ref,
                    metric=score.name, identity=identity, models=tuple(r.name for r in cands.models),
                    optimizers=tuple(r.name for r in cands.optimizers),
                    regularizers=tuple(r.name for r in cands.regularizers), n_trials=n_trials,
                    deadline=None if timeout is None else started + timeout,
                    folds=folds, seed=seed, sampler=sampler, pruner=pruner, device=device, threads=threads,
                    trial_timeout=trial_timeout, n_jobs=n_jobs, holdout=holdout, costs=costs,
                    feature_cache_mb=feature_cache_mb, starting_points=tuple(starting_trials(cands)),
                    options=options)
    with quiet_optuna_logs(level=optuna.logging.INFO if verbose else optuna.logging.WARNING):
        outcome = runner.run(job, workload, progress=progress)
        if workload.held_out is not None:
            score_holdout(outcome.study, workload, device=device)
    return SearchResult(outcome.study, identity, job.storage, outcome.recovered)


def load_study(name: str, storage: str | None = None) -> optuna.Study:
    """Open the existing study ``name`` (read it, or add trials with Optuna's own API)."""
    rdb = open_storage(storage, heartbeat=False, create=False)
    try:
        return optuna.load_study(study_name=name, storage=rdb)
    except KeyError as exc:
        known = ", ".join(optuna.get_all_study_names(rdb)) or "none"
        raise ConfigError(f"no study {name!r} in {display_url(resolve_url(storage))} (studies: {known})") from exc

