"""The seam between the search engine and what runs trials: the :class:`Backend` protocol.

:func:`automl.search` builds a :class:`~automl.job.SearchJob` and calls the chosen backend's :meth:`Backend.run`;
from there the backend owns the orchestration: opening (or creating) the study, the budget, its workers,
recovering dead workers' trials, interruption and progress. Trials themselves run through the backend-neutral
:class:`~automl.runner.TrialRunner`; sampling stays in the process that owns the study's sampler.

Every backend keeps the same promises, checked for each one by the contract suite
(``tests/backends/test_contract.py``): the study ends with exactly ``n_trials`` counted trials, resumes after a
kill, stops a run after ``n_trials`` failures of its own, prunes by the study's pruner at the same steps, records
fold attributes, and finds the same best on the same seed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, Protocol

import optuna

from automl.job import SearchJob, Workload
from automl.registry import Registry
from automl.resume import recover_dead_workers
from automl.samplers import make_pruner, make_sampler
from automl.storage import open_storage
from automl.study import open_study

__all__ = ["Backend", "Callback", "SearchOutcome", "open_search_study"]

#: Called after every finished trial with the study and the trial (Optuna's callback signature).
Callback = Callable[[optuna.Study, optuna.trial.FrozenTrial], None]


@dataclass(frozen=True)
class SearchOutcome:
    """What a backend's run leaves: the study, and the trials of dead workers it failed and queued again."""

    study: optuna.Study
    recovered: list[int]


class Backend(Protocol):
    """Runs a search job's trials into its study (entry-point group ``automl.backends``).

    ``name`` equals the entry-point name. The engine calls :meth:`options` and :meth:`accelerated` while it
    checks a search's settings (before any file is written), then :meth:`run` once.
    """

    name: str

    def options(self, *, address: str | None, cpus_per_trial: float | None, gpus_per_trial: float | None,
                n_jobs: int | None, device: str, registry: Registry | None) -> dict[str, Any]:
        """Check the settings that concern this backend and return its options for the job (JSON values).

        Raises :class:`~automl.exceptions.ConfigError` for a setting it cannot honour (an option of another
        backend, a missing package, a custom ``registry`` its workers cannot load).
        """
        ...

    def accelerated(self, device: str, options: dict[str, Any]) -> bool:
        """Whether trials will run torch on a GPU (then heavy models join a search that names no models)."""
        ...

    def run(self, job: SearchJob, workload: Workload | None = None, *, progress: bool = False) -> SearchOutcome:
        """Run trials until the study holds ``job.n_trials`` counted trials, ``job.deadline`` passed, or this run
        had ``job.n_trials`` failures; ``KeyboardInterrupt`` after re-queueing interrupted trials.

        ``workload`` is the job's data and plugins when the caller has them already (else built from the job).
        """
        ...


def open_search_study(job: SearchJob) -> tuple[optuna.Study, list[int]]:
    """Open (creating it on first use) the study of ``job``, checked against its identity, and fail and queue
    again the trials dead workers left running. Returns the study and the numbers of those trials.

    The study's sampler is seeded with the job's seed plus the number of trials already in it, so a resumed run
    does not replay the first run's proposals; its pruner is the job's. A study holding no trial yet (a new one)
    gets the job's starting points queued as its first trials, once (``skip_if_exists``: another process that
    created it at the same moment does not queue them twice).
    """
    rdb = open_storage(job.storage)
    identity = replace(job.identity, storage_schema=rdb.get_current_version())
    study = open_study(rdb, job.study, identity, make_sampler(job.sampler, job.seed),
                       make_pruner(job.pruner, job.folds))
    existing = len(study.trials)
    study.sampler = make_sampler(job.sampler, job.seed + existing)
    if not existing:  # (no more of them than the trial budget: none is left waiting after the run)
        for params in job.starting_points[:job.n_trials]:
            study.enqueue_trial(params, skip_if_exists=True)
    return study, recover_dead_workers(study)
