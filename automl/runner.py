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
from automl.devices import using_device
from automl.exceptions import TrialStopped, TrialTimeoutError
from automl.metrics import Metric
from automl.reporter import FAIL_REASON, INTERRUPTED, Reporter, fail_reason
from automl.space import Candidates, configure

__all__ = ["DEFAULT_THREADS", "RESOURCES_ATTR", "Resources", "TrialRunner"]

#: BLAS/OpenMP threads of a trial when its resources name none, by model family. scikit-learn fits on small
#: data ran faster on one thread than on all cores (HistGradientBoosting on breast_cancer: 0.09 s vs 0.14 s a
#: fit on 2 idle cores) and up to 20x slower with all cores on a busy machine (OpenMP threads spin-waiting; see
#: docs/benchmarks.md); torch models keep torch's own default (all cores).
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
def _deadline(seconds: float | None) -> Iterator[None]:
    """Raise :class:`TrialTimeoutError` in this (main) thread once ``seconds`` have passed, unless done before.

    The alarm is a ``SIGALRM`` timer: Python runs its handler at the next bytecode, so a trial stops within a
    batch or a fold of torch training, but a long native call (one big scikit-learn fit) finishes first. Writes to
    the study hold the signal back (:func:`automl.cv.storage_write`), so a timeout never cuts one in half.
    """
    if seconds is None or threading.current_thread() is not threading.main_thread():
        yield  # (signals are the main thread's: a backend running trials elsewhere enforces the limit itself)
        return

    def expire(signum: int, frame: object) -> None:
        raise TrialTimeoutError(f"the trial ran past its {seconds:g} s limit (trial_timeout)")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


@dataclass
class TrialRunner:
    """Runs configurations of one study: its data, fixed splits, metric and candidate plugins.

    ``seed`` is the study's seed (trial ``n`` trains with ``seed + 1000 * n``, fold ``f`` adds ``f``);
    ``timeout`` (seconds) fails a trial that runs longer (:class:`TrialTimeoutError`, main thread only);
    ``costs`` are measured on each trial's first-fold model (:mod:`automl.costs`) and recorded as ``costs``.
    """

    dataset: Dataset
    splits: list[Split]
    metric: Metric
    candidates: Candidates
    seed: int
    timeout: float | None = None
    costs: tuple[str, ...] = ()

    def run(self, params: Mapping[str, Any], reporter: Reporter, resources: Resources, number: int) -> CVResult:
        """Cross-validate the configuration ``params`` stand for, as trial number ``number``.

        Records on ``reporter``: ``resources``, then ``fold_scores`` (the folds done so far when the trial stops
        early or fails), ``cv_std``, ``fit_seconds`` and ``costs`` (when asked for); ``fail_reason`` on a
        failure. Raises :class:`TrialStopped` when the reporter says stop, ``KeyboardInterrupt`` on a stop
        request, and any error of the configuration itself (recorded first).
        """
        folds = FoldReporter(reporter, self.metric)
        try:
            config = configure(params, self.candidates)
            family = config.model.plugin.family
            threads = resources.threads or DEFAULT_THREADS[family]
            device = None
            if family == "torch":
                import torch

                device = torch.device(resources.device)
            with threadpool_limits(limits=threads), _torch_threads(threads if family == "torch" else None), \
                    using_device(resources.device), _deadline(self.timeout):
                if family == "torch":  # torch's own count: all cores, or a worker process's share of them
                    threads = torch.get_num_threads()
                reporter.set_attr(RESOURCES_ATTR, resources.record(threads))
                with interrupt.raising():  # Ctrl-C stops the fit at once here, where it is recorded
                    result = cross_validate(config, self.dataset, self.splits, self.metric, folds,
                                            seed=self.seed + 1000 * number, device=device, costs=self.costs)
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
        reporter.set_attr("fold_scores", result.fold_scores)
        reporter.set_attr("cv_std", result.std)
        reporter.set_attr("fit_seconds", [round(s, 3) for s in result.fit_seconds])
        if result.costs:
            reporter.set_attr("costs", result.costs)
        return result
