"""The in-process backend: trials through :meth:`optuna.Study.optimize` in this process and ``n_jobs - 1`` worker
processes (:mod:`automl.backends.parallel`), with heartbeats, the exact budget of :mod:`automl.budget` and a
failure cap.

Sampling happens in each worker's own study object (define-by-run, :func:`automl.space.compose`), and the
sampled parameters go to the backend-neutral :class:`~automl.runner.TrialRunner` with a reporter that writes to
the Optuna trial (:class:`OptunaReporter`). Pruning is the study's pruner, asked after every report.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import optuna
from optuna.trial import TrialState

from automl import interrupt
from automl.backends.base import Callback, SearchOutcome, open_search_study
from automl.backends.parallel import capped_threads, plan_resources, thread_cap, workers
from automl.budget import POLL_INTERVAL, Budget, Verdict
from automl.deadline import TimeBudget
from automl.devices import accelerated
from automl.exceptions import ConfigError, TrialStopped
from automl.job import SearchJob, Workload
from automl.progress import SearchProgress
from automl.quiet import quiet_optuna_logs
from automl.registry import Registry
from automl.reporter import FAIL_REASON, fail_reason
from automl.resume import record_worker, requeue, requeue_interrupted
from automl.runner import Resources, TrialRunner
from automl.space import compose

__all__ = ["OptunaBackend", "OptunaObjective", "OptunaReporter"]


class OptunaReporter:
    """A :class:`~automl.reporter.Reporter` writing to an Optuna trial; stopping is the study's pruner's call.
    Trials of a multi-objective study report nothing and never stop (Optuna prunes single-objective studies only)."""

    def __init__(self, trial: optuna.Trial) -> None:
        self.trial = trial
        self.prunable = len(trial.study.directions) == 1

    def report(self, value: float, step: int) -> None:
        """``trial.report`` (single-objective studies)."""
        if self.prunable:
            self.trial.report(value, step)

    def should_stop(self) -> bool:
        """``trial.should_prune()`` (single-objective studies)."""
        return self.prunable and self.trial.should_prune()

    def set_attr(self, key: str, value: Any) -> None:
        """``trial.set_user_attr``."""
        self.trial.set_user_attr(key, value)


@dataclass
class OptunaObjective:
    """Callable ``trial -> mean CV score`` (and costs, see :mod:`automl.costs`) for :meth:`optuna.Study.optimize`:
    note the worker on the trial, sample the configuration, run it; a stop becomes ``optuna.TrialPruned``, a
    failure fails this trial only."""

    runner: TrialRunner
    resources: Resources
    #: The run's time limit (:mod:`automl.deadline`): a trial that cannot finish is not started, a running one is
    #: stopped at the deadline.
    time_budget: TimeBudget | None = None

    def __call__(self, trial: optuna.Trial) -> float | list[float]:
        record_worker(trial)
        time_left = None
        try:
            compose(trial, self.runner.candidates)
            if self.time_budget is not None:
                time_left = self.time_budget.check_start(trial.study, str(trial.params["model"]))
        except Exception as exc:
            trial.set_user_attr(FAIL_REASON, fail_reason(exc))
            raise
        try:
            result = self.runner.run(trial.params, OptunaReporter(trial), self.resources, trial.number,
                                     time_left=time_left)
            return result.values if self.runner.costs else result.mean
        except TrialStopped as exc:
            raise optuna.TrialPruned(str(exc)) from None


class _StopOutOfTime:
    """After a trial the time limit ended or kept from starting (:class:`~automl.deadline.OutOfTime`): queue its
    configuration again and stop this run."""

    def __init__(self) -> None:
        self.stopped = False

    def __call__(self, study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        if trial.state == TrialState.FAIL and str(trial.user_attrs.get(FAIL_REASON, "")).startswith("OutOfTime:"):
            requeue(study, trial)
            self.stopped = True


class _StopAfterFailures:
    """Stop once ``limit`` trials failed in this run (a configuration that always fails)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.failures = 0

    @property
    def stopped(self) -> bool:
        return self.failures >= self.limit

    def __call__(self, study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        if trial.state == TrialState.FAIL:
            self.failures += 1


def _time_budget(job: SearchJob) -> TimeBudget | None:
    """The time budget of ``job``'s run (``None`` without a timeout); a holdout's refit must fit in it too."""
    return None if job.deadline is None else TimeBudget(job.deadline, refit=job.holdout is not None)


class OptunaBackend:
    """Runs trials in this process (and ``n_jobs - 1`` worker processes) through :meth:`optuna.Study.optimize`."""

    name = "optuna"

    def options(self, *, address: str | None, cpus_per_trial: float | None, gpus_per_trial: float | None,
                n_jobs: int | None, device: str, registry: Registry | None) -> dict[str, Any]:
        """No options of its own; refuses Ray's, and a custom registry with worker processes."""
        for flag, value in (("address", address), ("cpus_per_trial", cpus_per_trial),
                            ("gpus_per_trial", gpus_per_trial)):
            if value is not None:
                raise ConfigError(f"{flag} applies to the ray backend, not to the optuna backend")
        if registry is not None and (n_jobs or 1) > 1:
            raise ConfigError("n_jobs > 1 runs the installed plugins in each worker: leave registry out")
        return {}

    def accelerated(self, device: str, options: dict[str, Any]) -> bool:
        """Whether this machine runs torch trials on a GPU under ``device``."""
        return accelerated(device)

    def run(self, job: SearchJob, workload: Workload | None = None, *, progress: bool = False) -> SearchOutcome:
        """Open the study, start ``n_jobs - 1`` workers, run trials here too; see :class:`~automl.backends.Backend`.

        Ctrl-C (or a stop request) fails the running trials and queues their configurations again, stops the
        workers one at a time, and raises ``KeyboardInterrupt``.
        """
        workload = workload or Workload.from_job(job)
        n_jobs = job.n_jobs or 1
        resources = plan_resources(job.device, job.threads, n_jobs)
        with quiet_optuna_logs(progress):
            study, recovered = open_search_study(job)
            time_budget = _time_budget(job)
            objective = OptunaObjective(workload.runner(job), resources[0], time_budget)
            with SearchProgress(study, job.n_trials) if progress else contextlib.nullcontext() as bar:
                try:
                    with interrupt.interruptible(), workers(job, resources[1:]), capped_threads(
                            thread_cap(n_jobs, job.threads)):
                        self.optimize(study, objective, n_trials=job.n_trials, time_budget=time_budget,
                                      callbacks=[bar] if bar else [])
                except KeyboardInterrupt:
                    requeue_interrupted(study)  # the next run tries the interrupted configurations first
                    raise
        return SearchOutcome(study, recovered)

    def run_worker(self, job: SearchJob, resources: Resources) -> None:
        """The loop of one extra worker process (see :mod:`automl.backends.parallel`): the same study, quietly."""
        workload = Workload.from_job(job)
        with quiet_optuna_logs():
            study, _ = open_search_study(job)
            try:
                time_budget = _time_budget(job)
                self.optimize(study, OptunaObjective(workload.runner(job), resources, time_budget),
                              n_trials=job.n_trials, time_budget=time_budget)
            except KeyboardInterrupt:
                requeue_interrupted(study)
                raise

    def optimize(
        self,
        study: optuna.Study,
        objective: Callable[[optuna.Trial], float | list[float]],
        *,
        n_trials: int,
        time_budget: TimeBudget | None = None,
        callbacks: Sequence[Callback] = (),
    ) -> None:
        """Run trials of ``objective`` one at a time until the study holds ``n_trials`` counted trials,
        ``time_budget`` is spent (:mod:`automl.deadline`; an :class:`OptunaObjective` given the same budget stops its
        trial at the deadline), or ``n_trials`` trials failed in this call. Other processes may run the same study at
        once: :class:`~automl.budget.Budget` keeps the total exact. Checks for a stop request between trials."""
        failures = _StopAfterFailures(n_trials)
        out_of_time = _StopOutOfTime()
        budget = Budget(study, n_trials)
        reseeded = False

        def releasing(trial: optuna.Trial) -> float:
            budget.release()  # the trial is RUNNING now: it holds its slot, other workers may reserve theirs
            return objective(trial)

        while not failures.stopped and not out_of_time.stopped:
            interrupt.check()
            left = None if time_budget is None else time_budget.left(study)
            if left is not None and left <= 0:
                return
            verdict = budget.reserve()
            if verdict is Verdict.DONE:
                return
            if verdict is Verdict.WAIT:
                budget.wait(POLL_INTERVAL if left is None else min(POLL_INTERVAL, left))
                continue
            try:
                if budget.shared and not reseeded:
                    # another process works on this study: it may have drawn from the same seed, so do not
                    # propose the same configurations as it does
                    study.sampler.reseed_rng()
                    reseeded = True
                study.optimize(releasing, n_trials=1, catch=(Exception,),
                               callbacks=[out_of_time, failures, *callbacks])
            finally:
                budget.release()

