"""The objective of a search: compose one configuration, cross-validate it, record what happened on the trial."""

from __future__ import annotations

import contextlib
import signal
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

import optuna
from threadpoolctl import threadpool_limits

from automl.cv import FoldReporter, Split, cross_validate
from automl.datasets import Dataset
from automl.exceptions import TrialTimeoutError
from automl.metrics import Metric
from automl.resume import INTERRUPTED, record_worker
from automl.space import Candidates, compose

if TYPE_CHECKING:
    import torch

__all__ = ["Objective"]

#: BLAS/OpenMP threads of a trial when ``threads`` is not given, by model family. scikit-learn fits on small
#: data ran faster on one thread than on all cores (HistGradientBoosting on breast_cancer: 0.09 s vs 0.14 s a
#: fit on 2 idle cores) and up to 20x slower with all cores on a busy machine (OpenMP threads spin-waiting; see
#: docs/benchmarks.md); torch models keep torch's own default (all cores).
_DEFAULT_THREADS = {"sklearn": 1, "torch": None}


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
    if seconds is None:
        yield
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
class Objective:
    """Callable ``trial -> mean CV score``; stores fold scores, their std and fit seconds as trial attributes.

    A failure inside the trial is stored as the trial's ``fail_reason`` attribute and re-raised, so the
    backend marks only this trial failed. ``threads`` caps the BLAS/OpenMP pools of a trial (default: one for
    scikit-learn models, unlimited for torch models); ``timeout`` (seconds) fails a trial that runs longer.
    """

    dataset: Dataset
    splits: list[Split]
    metric: Metric
    candidates: Candidates
    seed: int
    device: torch.device | None = None
    threads: int | None = None
    timeout: float | None = None

    def __call__(self, trial: optuna.Trial) -> float:
        record_worker(trial)
        reporter = FoldReporter(trial, self.metric)
        try:
            config = compose(trial, self.candidates)
            with threadpool_limits(limits=self.threads or _DEFAULT_THREADS[config.model.plugin.family]), \
                    _torch_threads(self.threads if config.model.plugin.family == "torch" else None), \
                    _deadline(self.timeout):
                result = cross_validate(config, self.dataset, self.splits, self.metric, reporter,
                                        seed=self.seed + 1000 * trial.number, device=self.device)
        except optuna.TrialPruned:
            trial.set_user_attr("fold_scores", reporter.scores)
            raise
        except KeyboardInterrupt:
            trial.set_user_attr("fail_reason", INTERRUPTED)
            raise
        except Exception as exc:
            trial.set_user_attr("fold_scores", reporter.scores)
            trial.set_user_attr("fail_reason", f"{type(exc).__name__}: {exc}"[:2000])
            raise
        trial.set_user_attr("fold_scores", result.fold_scores)
        trial.set_user_attr("cv_std", result.std)
        trial.set_user_attr("fit_seconds", [round(s, 3) for s in result.fit_seconds])
        return result.mean
