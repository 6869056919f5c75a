"""The Ray Tune side of the ray backend (imports Ray; loaded only when a search runs on it).

* :class:`StudySearcher`: Ray's ``OptunaSearch`` over the study automl opened: exact budget, the driver recorded
  as the trials' worker, heartbeats, a failure cap, the run's deadline.
* :class:`PrunerScheduler`: writes each report to the Optuna trial at the runner's step and asks the study's
  pruner.
* :func:`trainable`: what a Ray worker runs: the backend-neutral trial runner with a :class:`TuneReporter`.
"""

from __future__ import annotations

import contextlib
import json
import logging
import shutil
import tempfile
import threading
import time
import warnings
from collections.abc import Iterator
from typing import Any

import optuna
import ray
from optuna.trial import TrialState
from ray import tune
from ray.tune.schedulers import FIFOScheduler, TrialScheduler
from ray.tune.search import Searcher
from ray.tune.search.optuna import OptunaSearch

from automl import interrupt, optuna_compat
from automl.budget import POLL_INTERVAL, Budget, Verdict
from automl.cv import fold_scores_of, last_step
from automl.datasets import Dataset
from automl.deadline import OutOfTime
from automl.exceptions import TrialStopped, TrialTimeoutError
from automl.job import SearchJob, Workload
from automl.reporter import FAIL_REASON, INTERRUPTED, fail_reason
from automl.resume import record_worker, recover_dead_workers, requeue
from automl.runner import Resources
from automl.samplers import reporting
from automl.space import Candidates, compose
from automl.storage import HEARTBEAT_INTERVAL

__all__ = ["PrunerScheduler", "StudySearcher", "TuneReporter", "fit", "trainable"]

#: Keys of the results a trainable reports (flat: Tune flattens nested dicts).
VALUE, STEP, STATE, ATTRS, ELAPSED = "automl_value", "automl_step", "automl_state", "automl_attrs", "automl_elapsed"
#: Config key carrying the Optuna trial number (the trial's seed derives from it, as with the optuna backend).
NUMBER = "automl.trial_number"
#: Why a Ray trial failed when it ended without telling (its worker process died, or Ray stopped it).
NO_RESULT = "the Ray trial ended without a result: its worker died or was stopped (see Ray's logs)"


class StudySearcher(OptunaSearch):
    """Ray's ``OptunaSearch`` over the already opened ``study`` (its storage, sampler and pruner), proposing
    configurations of ``cands`` for ``job``; see :mod:`automl.backends.ray_backend`. ``callbacks`` run after
    every finished trial, like Optuna's."""

    def __init__(self, study: optuna.Study, cands: Candidates, job: SearchJob, callbacks: list[Any]) -> None:
        self.study = study
        self.job = job
        self.callbacks = callbacks
        self.budget = Budget(study, job.n_trials)
        self.deadline = None if job.deadline is None else time.monotonic() + (job.deadline - time.time())
        self.failures = 0
        self.live: set[str] = set()
        self.pruned: set[str] = set()
        self.timed_out: set[str] = set()
        self.out_of_time: set[str] = set()
        self.last_step = last_step(job.folds, reporting(job.pruner))
        self.reseeded = False
        self._next_look = 0.0
        mode = "max" if study.direction == optuna.study.StudyDirection.MAXIMIZE else "min"

        def space(trial: optuna.Trial) -> None:
            compose(trial, cands)

        super().__init__(space=space, metric=VALUE, mode=mode, sampler=study.sampler,
                         study_name=study.study_name, storage=optuna_compat.study_storage(study))

    def _setup_study(self, mode: str | list[str]) -> None:
        """Use the study automl opened (checked, with its sampler and pruner) rather than a new handle of it."""
        self._ot_study = self.study

    def suggest(self, trial_id: str) -> dict[str, Any] | str | None:
        """Reserve a budget slot, then ask the study for the next configuration (a re-queued one first)."""
        if (interrupt.requested() or self.failures >= self.job.n_trials
                or (self.deadline is not None and time.monotonic() >= self.deadline)):
            return Searcher.FINISHED
        if time.monotonic() < self._next_look:
            return None
        if self.failures and self.failures + len(self.live) >= self.job.n_trials:
            return None  # the trials running might be the last failures this run allows: wait for them
        verdict = self.budget.reserve(own_running=len(self.live))
        if verdict is Verdict.DONE:
            return Searcher.FINISHED
        if verdict is Verdict.WAIT:  # running trials hold the rest: look again later, freeing dead workers' slots
            self._next_look = time.monotonic() + POLL_INTERVAL
            recover_dead_workers(self.study)
            return None
        try:
            if self.budget.shared and not self.reseeded:  # another process works on the study: do not replay it
                self.study.sampler.reseed_rng()
                self.reseeded = True
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # "Heartbeat of storage is supposed to be used with optimize"
                super().suggest(trial_id)
        finally:
            self.budget.release()
        trial = self._ot_trials[trial_id]
        record_worker(trial)
        self.live.add(trial_id)
        return {**trial.params, NUMBER: trial.number}

    def record(self, trial_id: str, result: dict[str, Any]) -> bool:
        """Write a trainable's result to its Optuna trial: the attributes it carries and, for a running report, its
        value at its step; ``True`` when a running report before the trial's last one was written (see
        :func:`automl.cv.last_step`)."""
        if trial_id not in self.live:
            return False
        trial = self._ot_trials[trial_id]
        for key, value in json.loads(result.get(ATTRS) or "{}").items():
            trial.set_user_attr(key, value)
        if result.get(STATE) != "running":
            return False
        step = int(result[STEP])
        trial.report(float(result[VALUE]), step)
        return step != self.last_step

    def report(self, trial_id: str, result: dict[str, Any]) -> bool:
        """:meth:`record` the result; ``True`` when the study's pruner stops the trial (not asked at the trial's last
        report: see :mod:`automl.cv`)."""
        if self.record(trial_id, result) and self._ot_trials[trial_id].should_prune():
            self.pruned.add(trial_id)
            return True
        return False

    def on_trial_result(self, trial_id: str, result: dict[str, Any]) -> None:
        """Nothing: :class:`PrunerScheduler` has written the result (Tune asks the scheduler first)."""

    def on_trial_complete(self, trial_id: str, result: dict[str, Any] | None = None, error: bool = False) -> None:
        """Tell the study how the trial ended: complete, pruned by the pruner, or failed with its reason."""
        if trial_id not in self.live:
            return
        trial = self._ot_trials[trial_id]
        state = (result or {}).get(STATE)
        if result and state != "running":
            self.report(trial_id, result)  # the attributes the final result carries
        if trial_id in self.pruned:
            trial.set_user_attr("fold_scores", self._fold_scores(trial))
            self._tell(trial_id, None, TrialState.PRUNED)
        elif state == "complete":
            self._tell(trial_id, float(result[VALUE]), TrialState.COMPLETE)  # type: ignore[index]
        elif state == "failed":
            self._tell(trial_id, None, TrialState.FAIL)
        elif trial_id in self.out_of_time:  # stopped at the run's deadline: fail it, try its configuration next run
            trial.set_user_attr("fold_scores", self._fold_scores(trial))
            trial.set_user_attr(FAIL_REASON, fail_reason(OutOfTime(
                "stopped at the search's time limit; its configuration is queued again")))
            self._tell(trial_id, None, TrialState.FAIL)
            requeue(self.study, self.study.trials[trial.number])
        elif trial_id in self.timed_out:
            trial.set_user_attr("fold_scores", self._fold_scores(trial))
            trial.set_user_attr(FAIL_REASON, fail_reason(TrialTimeoutError(
                f"the trial ran past its {self.job.trial_timeout:g} s limit (trial_timeout)")))
            self._tell(trial_id, None, TrialState.FAIL)
        else:
            trial.set_user_attr(FAIL_REASON, INTERRUPTED if interrupt.requested() else NO_RESULT)
            self._tell(trial_id, None, TrialState.FAIL)

    def _fold_scores(self, trial: optuna.Trial) -> list[float]:
        """The scores of the folds ``trial`` finished, from its reports (stopped here, it sent no
        ``fold_scores``)."""
        reports = self.study.trials[trial.number].intermediate_values
        return fold_scores_of(reports, reporting(self.job.pruner))

    def _tell(self, trial_id: str, value: float | None, state: TrialState) -> None:
        self.live.discard(trial_id)
        frozen = self.study.tell(self._ot_trials[trial_id], value, state=state)
        self.failures += state == TrialState.FAIL
        for callback in self.callbacks:
            callback(self.study, frozen)

    def finish(self) -> None:
        """Fail the trials still running when Tune returned (a stop request ended the run)."""
        for trial_id in list(self.live):
            self._ot_trials[trial_id].set_user_attr(FAIL_REASON, INTERRUPTED if interrupt.requested() else NO_RESULT)
            self._tell(trial_id, None, TrialState.FAIL)

    @contextlib.contextmanager
    def heartbeats(self) -> Iterator[None]:
        """Send heartbeats for this driver's running trials (``study.optimize`` does it for its own), so that
        processes on other machines do not take them for a dead worker's."""
        rdb = optuna_compat.rdb_storage(optuna_compat.study_storage(self.study))
        if rdb is None or rdb.get_heartbeat_interval() is None:
            yield
            return
        stop = threading.Event()

        def beat() -> None:
            while not stop.wait(HEARTBEAT_INTERVAL):
                for trial_id in list(self.live):
                    with contextlib.suppress(Exception):  # a beat lost now is sent at the next interval
                        rdb.record_heartbeat(optuna_compat.trial_id(self._ot_trials[trial_id]))

        thread = threading.Thread(target=beat, name="automl-heartbeats", daemon=True)
        thread.start()
        try:
            yield
        finally:
            stop.set()
            thread.join()

    def __getstate__(self) -> dict[str, Any]:
        """Nothing: Tune pickles its settings for ``Tuner.restore``, which automl does not use (a search resumes
        from its study); the study handle (locks, connections) cannot be pickled anyway."""
        return {}

    def save_to_dir(self, checkpoint_dir: str, session_str: str = "default") -> None:
        """Nothing: the study in its RDB storage is the search's state (Tune's experiment restore is not used)."""

    def restore_from_dir(self, checkpoint_dir: str) -> None:
        """Nothing: see :meth:`save_to_dir`."""


class PrunerScheduler(FIFOScheduler):
    """Runs trials first come, first served, and stops one when the study's Optuna pruner says so."""

    def __init__(self, searcher: StudySearcher) -> None:
        super().__init__()
        self.searcher = searcher

    def on_trial_result(self, tune_controller: Any, trial: Any, result: dict[str, Any]) -> str:
        """Report ``result`` to the trial's Optuna trial (through the searcher) and ask the pruner."""
        return TrialScheduler.STOP if self.searcher.report(trial.trial_id, result) else TrialScheduler.CONTINUE


class _Stopper(tune.Stopper):
    """Stops a trial past the job's ``trial_timeout`` or the run's deadline (at its next report: the runner's alarm
    needs a main thread, which Ray trials do not run in), and the whole run when a stop was requested
    (:mod:`automl.interrupt`). A trial's last report is past the work: the deadline does not stop it there."""

    def __init__(self, searcher: StudySearcher) -> None:
        self.searcher = searcher

    def __call__(self, trial_id: str, result: dict[str, Any]) -> bool:
        searcher = self.searcher
        if result.get(STATE) != "running":
            return False
        limit = searcher.job.trial_timeout
        if (searcher.deadline is not None and time.monotonic() >= searcher.deadline
                and int(result[STEP]) != searcher.last_step):
            searcher.out_of_time.add(trial_id)
        elif limit is not None and result.get(ELAPSED, 0.0) > limit:
            searcher.timed_out.add(trial_id)
        else:
            return False
        searcher.record(trial_id, result)  # Tune gives a result its stopper stops to no scheduler: keep its fold
        return True

    def stop_all(self) -> bool:
        return interrupt.requested()


def concurrency(job: SearchJob) -> int:
    """Trials at once: ``n_jobs`` when given, else as many as the cluster's CPUs and GPUs hold now (Tune would
    otherwise queue more trials than can run, and each queued trial is a RUNNING Optuna trial holding a budget
    slot and steering the sampler)."""
    if job.n_jobs is not None:
        return job.n_jobs
    total = ray.cluster_resources()
    fits = [int(total.get(kind, 0.0) / job.options[option] + 1e-9)  # 1.0 / 0.1 is 9.999...
            for kind, option in (("CPU", "cpus_per_trial"), ("GPU", "gpus_per_trial")) if job.options[option] > 0]
    return max(1, min(fits))


def fit(searcher: StudySearcher, job: SearchJob, dataset: Dataset) -> None:
    """Run Tune with ``searcher`` until it finishes (budget met, time up, failure cap, stop request)."""
    results = tempfile.mkdtemp(prefix="automl-tune-")  # Tune's experiment state; the study is the record
    trainable_with_data = tune.with_resources(
        tune.with_parameters(trainable, job_json=job.to_json(), dataset=dataset),
        {"cpu": job.options["cpus_per_trial"], "gpu": job.options["gpus_per_trial"]})
    tuner = tune.Tuner(
        trainable_with_data,
        tune_config=tune.TuneConfig(search_alg=searcher, scheduler=PrunerScheduler(searcher), num_samples=-1,
                                    max_concurrent_trials=concurrency(job), reuse_actors=True, metric=VALUE,
                                    mode=searcher.mode),
        run_config=tune.RunConfig(name="automl", verbose=0, stop=_Stopper(searcher), storage_path=results),
    )
    tune_logger = logging.getLogger("ray.tune")
    level = tune_logger.level
    tune_logger.setLevel(logging.ERROR)  # Tune's notices about result files (it writes none: the study is the record)
    try:
        with searcher.heartbeats(), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # and its deprecation notices
            tuner.fit()
    finally:
        tune_logger.setLevel(level)
        searcher.finish()
        shutil.rmtree(results, ignore_errors=True)


# -- on the workers ----------------------------------------------------------------------------------------------

class TuneReporter:
    """A :class:`~automl.reporter.Reporter` on a Ray worker: every report goes to the driver with the attributes set
    since the last one; stopping is the driver's call (Tune ends a pruned trial), so it never says stop itself."""

    def __init__(self) -> None:
        self.pending: dict[str, Any] = {}
        self.started = time.monotonic()

    def report(self, value: float, step: int) -> None:
        """Send the running estimate to the driver."""
        self.send("running", value, step)

    def should_stop(self) -> bool:
        """Never: the driver's scheduler stops pruned trials."""
        return False

    def set_attr(self, key: str, value: Any) -> None:
        """Keep the attribute for the next result."""
        self.pending[key] = value

    def fail(self, reason: str) -> None:
        """Report the trial failed, with the runner's recorded reason or else ``reason``."""
        self.pending.setdefault(FAIL_REASON, reason)
        self.send("failed", float("nan"))

    def send(self, state: str, value: float, step: int = -1) -> None:
        """Report ``state`` (``running``, ``complete``, ``failed``) with ``value`` and the pending attributes."""
        attrs, self.pending = json.dumps(self.pending), {}
        tune.report({STATE: state, VALUE: value, STEP: step, ATTRS: attrs, ELAPSED: time.monotonic() - self.started})


_workloads: dict[str, Workload] = {}


def _resources(job: SearchJob) -> Resources:
    """This trial's resources: the GPU Ray assigned (it sets ``CUDA_VISIBLE_DEVICES``, so the GPU is ``cuda:0``
    here), and as many threads as CPUs reserved."""
    gpu_ids = [str(gpu) for gpu in ray.get_gpu_ids()]
    device = "cpu"
    if gpu_ids and job.device != "cpu":
        import torch

        if torch.cuda.is_available():
            device = "cuda:0"
    context = ray.get_runtime_context()
    return Resources(device=device, threads=job.threads or max(1, int(job.options["cpus_per_trial"])),
                     details={"backend": "ray", "node": context.get_node_id(), "gpu_ids": gpu_ids,
                              "cpus": job.options["cpus_per_trial"], "gpus": job.options["gpus_per_trial"]})


def trainable(config: dict[str, Any], job_json: str, dataset: Dataset) -> None:
    """A Ray trial: run the configuration ``config`` of the job (rebuilt once per worker process) and report."""
    reporter = TuneReporter()
    try:
        job = SearchJob.from_json(job_json)
        if job_json not in _workloads:  # other plugin versions on this worker fail the trial with the reason
            _workloads[job_json] = Workload.from_job(job, dataset=dataset)
        reporter.started = time.monotonic()  # the trial's clock (trial_timeout) starts with its folds
        params = {key: value for key, value in config.items() if key != NUMBER}
        result = _workloads[job_json].runner(job).run(params, reporter, _resources(job), int(config[NUMBER]))
    except TrialStopped:  # this reporter never says stop: a plugin raised it
        reporter.fail("a plugin raised TrialStopped")
    except Exception as exc:  # the study fails this trial only
        reporter.fail(fail_reason(exc))
    else:
        reporter.send("complete", result.mean)
