"""A search as data: the :class:`SearchJob` a backend runs, and the :class:`Workload` it rebuilds anywhere.

:func:`automl.search` checks the options, loads the data, works out the candidate plugins and the study's identity,
and hands the backend a :class:`SearchJob`: plain, JSON-serialisable settings (study name, storage URL, where the
data comes from, the exact plugin names, folds, seed, budget, resources, backend options). A worker process on
this or another machine rebuilds the runtime side from it (:meth:`Workload.from_job`): it loads the data, checks
that its fingerprint and the installed plugins are those the study was created with, and gets a
:class:`~automl.runner.TrialRunner`. Nothing is pickled: a job crosses processes as JSON.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from automl.cv import Split, make_splits, splits_digest
from automl.datasets import Dataset, load_dataset
from automl.exceptions import ConfigError, StudyMismatchError
from automl.feature_cache import DEFAULT_FEATURE_CACHE_MB, FeatureCache
from automl.holdout import split_holdout
from automl.metrics import Metric, get_metric
from automl.registry import Registry, discover
from automl.runner import TrialRunner
from automl.samplers import reporting
from automl.space import Candidates, Selection, candidates, space_signature
from automl.study import StudySpec

__all__ = ["DataRef", "SearchJob", "Workload"]


@dataclass(frozen=True)
class DataRef:
    """Where a search's data comes from: a built-in dataset name or an absolute path, and its columns."""

    task: str
    data: str | None = None
    target: str | None = None
    text_column: str | None = None

    @classmethod
    def of(cls, task: str, data: str | Path | None, target: str | None, text_column: str | None) -> DataRef:
        """A reference that reads the same from any working directory (an existing path is made absolute)."""
        if data is not None and str(data).strip() and Path(data).exists():
            data = str(Path(data).resolve())
        return cls(task, None if data is None else str(data), target, text_column)

    def load(self) -> Dataset:
        """Read the dataset (see :func:`automl.datasets.load_dataset`)."""
        return load_dataset(self.task, self.data, target=self.target, text_column=self.text_column)


@dataclass(frozen=True)
class SearchJob:
    """Everything a backend needs to run a study's trials, in any process (see the module docstring).

    ``models``/``optimizers``/``regularizers`` are the exact candidate plugins (already resolved from the user's
    selection, the device and the metric); ``identity`` is what the study was created for; ``options`` holds the
    backend's own settings (for Ray: ``address``, ``cpus_per_trial``, ``gpus_per_trial``).
    """

    study: str
    storage: str
    data: DataRef
    metric: str
    identity: StudySpec
    models: tuple[str, ...]
    optimizers: tuple[str, ...]
    regularizers: tuple[str, ...]
    n_trials: int
    #: When the run ends (``time.time()`` seconds: its ``timeout`` counted from its start, see
    #: :mod:`automl.deadline`); ``None``: no time limit.
    deadline: float | None = None
    folds: int = 5
    seed: int = 0
    sampler: str = "tpe"
    pruner: str = "median"
    device: str = "auto"
    threads: int | None = None
    trial_timeout: float | None = None
    n_jobs: int | None = None
    #: Fraction of the rows set aside before any trial (:mod:`automl.holdout`); ``None``: none.
    holdout: float | None = None
    #: Costs minimized next to the metric (:mod:`automl.costs`); empty: a single-objective study.
    costs: tuple[str, ...] = ()
    #: Size cap (MiB) of each process's cache of featurized folds (:mod:`automl.feature_cache`); 0: no cache.
    feature_cache_mb: float = DEFAULT_FEATURE_CACHE_MB
    #: Parameters of the trials a new study queues first: the candidate models' starting points
    #: (:func:`automl.space.starting_trials`); a study that already holds trials is not given them again.
    starting_points: tuple[dict[str, Any], ...] = ()
    options: dict[str, Any] = field(default_factory=dict)

    @property
    def selection(self) -> Selection:
        """The candidate plugins as a selection (what workers resolve against their installed plugins)."""
        return Selection(self.models, self.optimizers, self.regularizers)

    def to_json(self) -> str:
        """The job as JSON (what worker processes receive)."""
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> SearchJob:
        """The job :meth:`to_json` wrote."""
        raw = json.loads(text)
        raw["data"] = DataRef(**raw["data"])
        raw["identity"] = StudySpec(**raw["identity"])
        for key in ("models", "optimizers", "regularizers", "costs", "starting_points"):
            raw[key] = tuple(raw[key])
        return cls(**raw)


@dataclass
class Workload:
    """The runtime side of a job in one process: the search rows (all rows but a holdout), their fixed splits, the
    metric and the candidate plugins; and the data as loaded (``full``) and the held-out rows (or ``None``)."""

    dataset: Dataset
    splits: list[Split]
    metric: Metric
    candidates: Candidates
    full: Dataset
    held_out: Dataset | None = None
    #: Featurized folds shared by every runner of this workload: made by the first, sized by its job.
    feature_cache: FeatureCache | None = field(default=None, repr=False)

    @classmethod
    def prepare(cls, full: Dataset, metric: Metric, cands: Candidates, folds: int, seed: int,
                holdout: float | None) -> tuple[Workload, str]:
        """Set the holdout aside and make the splits of the rest; returns the workload and the holdout's identity
        (``""`` without one)."""
        dataset, held_out, identity = (full, None, "") if holdout is None else split_holdout(full, holdout, seed)
        return cls(dataset, make_splits(dataset, folds, seed), metric, cands, full, held_out), identity

    @classmethod
    def from_job(cls, job: SearchJob, *, dataset: Dataset | None = None, registry: Registry | None = None) -> Workload:
        """Rebuild the workload of ``job`` here: load its data (unless ``dataset``, the data as loaded, is given,
        e.g. shipped by a cluster), find its plugins among the installed ones (or ``registry``), and refuse (one
        line) when the data or the plugins differ from what the study was created with."""
        full = dataset if dataset is not None else job.data.load()
        identity = job.identity
        if full.fingerprint != identity.fingerprint:
            raise StudyMismatchError(f"the data of study {job.study!r} changed since the search started: "
                                     f"{full.name!r} has fingerprint {full.fingerprint}, the study "
                                     f"{identity.fingerprint}")
        metric = get_metric(job.metric, full.kind)
        cands = candidates(registry or discover(), job.data.task, full.kind, job.selection,
                           needs_proba=metric.needs_proba)
        if space_signature(cands) != identity.space:
            raise StudyMismatchError(f"this worker's plugins {space_signature(cands)} differ from those study "
                                     f"{job.study!r} was created with {identity.space}; install the same versions")
        workload, holdout = cls.prepare(full, metric, cands, job.folds, job.seed, job.holdout)
        if splits_digest(workload.splits) != identity.splits or holdout != identity.holdout:
            raise ConfigError(f"the folds of study {job.study!r} come out differently here (scikit-learn version?)")
        return workload

    def runner(self, job: SearchJob) -> TrialRunner:
        """The trial runner of this workload under ``job``'s seed, per-trial time limit, costs and pruner (what
        its trials report, :func:`automl.samplers.reporting`), featurizing through the workload's
        :attr:`feature_cache` (unless ``job.feature_cache_mb`` is 0)."""
        if self.feature_cache is None and job.feature_cache_mb > 0:
            self.feature_cache = FeatureCache(int(job.feature_cache_mb * 2**20))
        return TrialRunner(self.dataset, self.splits, self.metric, self.candidates, job.seed, job.trial_timeout,
                           job.costs, reporting=reporting(job.pruner),
                           feature_cache=self.feature_cache if job.feature_cache_mb > 0 else None)
