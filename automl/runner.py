"""The backend-neutral trial runner: one configuration's parameters in, its cross-validated score out.

Given the parameters a sampler chose (a flat dict, see :func:`automl.space.configure`), a
:class:`~automl.reporter.Reporter` and the trial's :class:`Resources`, :meth:`TrialRunner.run` builds the
configuration, cross-validates it on the study's fixed splits and returns the fold result, recording on the way
what a study keeps of a trial (fold scores, their std, fit seconds, the resources it ran with, why it failed).
It knows nothing of Optuna or Ray: sampling stays with whoever owns the sampler, and the backend's reporter
decides what a report and a stop mean.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from threadpoolctl import threadpool_limits

from automl import interrupt
from automl.cv import CVResult, FoldReporter, Split, cross_validate
from automl.datasets import Dataset
from automl.deadline import OutOfTime
from automl.devices import using_device
from automl.exceptions import TrialStopped, TrialTimeoutError
from automl.feature_cache import FEATURE_CACHE_ATTR, CachedFeaturizing, FeatureCache
from automl.metrics import Metric
from automl.reporter import FAIL_REASON, INTERRUPTED, Reporter, Reporting, fail_reason
from automl.space import Candidates, configure

__all__ = ["DEFAULT_THREADS", "RESOURCES_ATTR", "Resources", "TrialRunner"]

#: BLAS/OpenMP threads of a trial when its resources name none, by model family. scikit-learn fits on small
#: data ran faster on one thread than on all cores (HistGradientBoosting on breast_cancer: 0.09 s vs 0.14 s a
#: fit on 2 idle cores) and up to 20x slower with all cores on a busy machine (OpenMP threads spin-waiting; see
#: docs/benchmarks.md); torch models get one thread on small data, torch's own default (all cores) on big data
#: (:func:`automl.training.default_threads`).
DEFAULT_THREADS: Mapping[str, int | None] = {"sklearn": 1, "torch": None}
#: Trial attribute recording the resources a trial ran with.
RESOURCES_ATTR = "resources"


@dataclass(frozen=True)
class Resources:
    """What a backend gives one trial.

    Attributes:
        device: torch device of the trial's torch work, ``"cpu"`` or ``"cuda:N"`` (as this process numbers GPUs).
        threads: BLAS/OpenMP and torch intra-op threads; ``None`` for the family default (:data:`DEFAULT_THREADS`).
        details: what the backend adds to the record (worker index, Ray node, GPU ids, ...), JSON values.
    """

    device: str = "cpu"
    threads: int | None = None
    details: Mapping[str, Any] = field(default_factory=dict)

    def record(self, threads: int | None) -> dict[str, Any]:
        """The ``resources`` attribute of a trial that got ``threads`` threads: device, threads, host, process and
        when it began to run there (local time, like Optuna's trial times; a trial may wait before it runs)."""
        return {"device": self.device, "threads": threads, "host": socket.gethostname(), "pid": os.getpid(),
                "started": datetime.now().isoformat(), **self.details}


@contextlib.contextmanager
def _torch_threads(threads: int | None) -> Iterator[None]:
    """Run with torch's intra-op thread count set to ``threads`` (unchanged when ``None``), then restore it."""
    if threads is None:
        yield
        return
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)


@contextlib.contextmanager
def _deadline(seconds: float | None, error: TrialTimeoutError | None = None) -> Iterator[None]:
    """Raise ``error`` (default: a :class:`TrialTimeoutError` naming ``trial_timeout``) in this (main) thread once
    ``seconds`` have passed, unless done before.

    The alarm is a ``SIGALRM`` timer: Python runs its handler at the next bytecode, so a trial stops within a
    batch or a fold of torch training, but a long native call (one big scikit-learn fit) finishes first. Writes to
    the study hold the signal back (:func:`automl.cv.storage_write`), so a timeout never cuts one in half.
    """
    if seconds is None or threading.current_thread() is not threading.main_thread():
        yield  # (signals are the main thread's: a backend running trials elsewhere enforces the limit itself)
        return

    armed = [True]

    def expire(signum: int, frame: object) -> None:
        if armed[0]:  # an alarm landing while the block is left (the trial ended just in time) raises nothing
            raise error or TrialTimeoutError(f"the trial ran past its {seconds:g} s limit (trial_timeout)")

    previous = signal.signal(signal.SIGALRM, expire)
    try:
        signal.setitimer(signal.ITIMER_REAL, seconds)
        yield
    finally:
        armed[0] = False
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


@dataclass
class TrialRunner:
    """Runs configurations of one study: its data, fixed splits, metric and candidate plugins.

    ``seed`` is the study's seed (trial ``n`` trains with ``seed + 1000 * n``, fold ``f`` adds ``f``);
    ``timeout`` (seconds) fails a trial that runs longer (:class:`TrialTimeoutError`, main thread only);
    ``costs`` are measured on each trial's first-fold model (:mod:`automl.costs`) and recorded as ``costs``;
    ``reporting`` is what trials report, chosen by the study's pruner (:func:`automl.samplers.reporting`).
    """

    dataset: Dataset
    splits: list[Split]
    metric: Metric
    candidates: Candidates
    seed: int
    timeout: float | None = None
    costs: tuple[str, ...] = ()
    reporting: Reporting = Reporting.RUNNING
    #: Featurized folds shared by this process's trials (:mod:`automl.feature_cache`); ``None``: no cache.
    feature_cache: FeatureCache | None = None

    def _time_limit(self, time_left: float | None) -> tuple[float | None, TrialTimeoutError | None]:
        """The seconds this trial may run and what is raised after them: the search's time left
        (:class:`~automl.deadline.OutOfTime`) when it ends first, else ``trial_timeout``."""
        if time_left is not None and (self.timeout is None or time_left < self.timeout):
            return max(time_left, 0.001), OutOfTime(f"stopped at the search's time limit ({time_left:.1f} s after "
                                                    "it started); its configuration is queued again")
        return self.timeout, None

    def run(self, params: Mapping[str, Any], reporter: Reporter, resources: Resources, number: int, *,
            time_left: float | None = None) -> CVResult:
        """Cross-validate the configuration ``params`` stand for, as trial number ``number``; ``time_left``: the
        seconds left of the search's time limit (the trial is stopped with :class:`~automl.deadline.OutOfTime` then).

        Records on ``reporter``: ``resources``, then ``fold_scores`` (the folds done so far when the trial stops
        early or fails), ``cv_std``, ``fit_seconds`` and ``costs`` (when asked for); ``fail_reason`` on a
        failure; ``feature_cache`` (its folds' hits and misses) with a :attr:`feature_cache`. Raises
        :class:`TrialStopped` when the reporter says stop, ``KeyboardInterrupt`` on a stop request, and any error
        of the configuration itself (recorded first).
        """
        folds = FoldReporter(reporter, self.metric, self.reporting)
        cache = None if self.feature_cache is None else CachedFeaturizing(self.feature_cache)
        try:
            config = configure(params, self.candidates)
            family = config.model.plugin.family
            threads = resources.threads or DEFAULT_THREADS[family]
            device = None
            if family == "torch":
                import torch

                from automl.training import default_threads

                device = torch.device(resources.device)
                if threads is None:  # one thread for a small trial (by the data's size), else torch's default
                    threads = default_threads(self.dataset.X, len(self.splits[0][0]))
            with threadpool_limits(limits=threads), _torch_threads(threads if family == "torch" else None), \
                    using_device(resources.device), _deadline(*self._time_limit(time_left)):
                if family == "torch":  # torch's own count: all cores, or a worker process's share of them
                    threads = torch.get_num_threads()
                reporter.set_attr(RESOURCES_ATTR, resources.record(threads))
                with interrupt.raising():  # Ctrl-C stops the fit at once here, where it is recorded
                    result = cross_validate(config, self.dataset, self.splits, self.metric, folds,
                                            seed=self.seed + 1000 * number, device=device, costs=self.costs,
                                            cache=cache)
        except TrialStopped:
            reporter.set_attr("fold_scores", folds.scores)
            raise
        except KeyboardInterrupt:
            reporter.set_attr("fold_scores", folds.scores)
            reporter.set_attr(FAIL_REASON, INTERRUPTED)
            raise
        except Exception as exc:
            reporter.set_attr("fold_scores", folds.scores)
            reporter.set_attr(FAIL_REASON, fail_reason(exc))
            raise
        finally:
            if cache is not None and cache.hits + cache.misses:
                reporter.set_attr(FEATURE_CACHE_ATTR, cache.counts())
        reporter.set_attr("fold_scores", result.fold_scores)
        reporter.set_attr("cv_std", result.std)
        reporter.set_attr("fit_seconds", [round(s, 3) for s in result.fit_seconds])
        if result.costs:
            reporter.set_attr("costs", result.costs)
        return result
