"""The Ray Tune backend: trials as Ray Tune trials on a Ray cluster, proposed by the study's own Optuna sampler.

How the pieces map onto Tune:

* **Searcher**: :class:`StudySearcher`, Ray's ``OptunaSearch`` over the study :func:`automl.search` opened (same
  RDB storage, name, sampler): ask/tell happen in this driver process only, so the study is written by one
  process and ``automl show``, resume and optuna-dashboard see a Ray-run study like any other. Before each
  ``ask`` it reserves a budget slot (:class:`automl.budget.Budget`), so the study ends with exactly
  ``n_trials`` counted trials even with other processes or machines on it; it records the driver as the trial's
  worker (a killed driver's trials are recovered by the next run) and sends heartbeats for its running trials.
* **Trainable**: a function that rebuilds the job's workload on the worker (once per worker process), runs the
  backend-neutral :class:`~automl.runner.TrialRunner` on the sampled parameters and reports every running CV
  estimate, its attributes, and the outcome through ``tune.report``.
* **Scheduler**: :class:`PrunerScheduler`, which writes each report to the Optuna trial at the runner's own step
  and asks the *study's Optuna pruner*. Why not ASHA: a study's pruning should be one rule whatever ran its
  trials; ASHA would compare only the trials of this Ray run, ignore the study's history (resumed runs, trials
  of the optuna backend) and rung at Tune's iteration count rather than at folds and epochs. Successive halving
  is ``--pruner hyperband``: Optuna's asynchronous version, with rungs at fold ends, asked here like any other.
* **Stopper**: ends the run when a stop was requested (Ctrl-C, see :mod:`automl.interrupt`); interrupted trials
  are failed and queued again, as with the optuna backend.

``--timeout`` counts as for the optuna backend (:mod:`automl.deadline`): no trial starts after the deadline, and a
running one is stopped at its first report past it (failed with an ``OutOfTime`` reason and the folds it
finished, its configuration queued again); a fold between two reports finishes first, and a trial's last report,
which comes once its work is done, lets it complete.
"""

from __future__ import annotations

import contextlib
import math
from typing import Any

from automl import interrupt
from automl.backends.base import SearchOutcome, open_search_study
from automl.backends.ray_cluster import connect, import_ray
from automl.devices import validate_device
from automl.exceptions import ConfigError
from automl.job import SearchJob, Workload
from automl.progress import SearchProgress
from automl.quiet import quiet_optuna_logs
from automl.registry import Registry
from automl.resume import counted_trials, requeue_interrupted

__all__ = ["RayBackend"]


def _non_negative(name: str, value: float | None, default: float) -> float:
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
        raise ConfigError(f"{name} must be a non-negative number, got {value!r}")
    return float(value)


class RayBackend:
    """Runs a search's trials as Ray Tune trials (see the module docstring)."""

    name = "ray"

    def options(self, *, address: str | None, cpus_per_trial: float | None, gpus_per_trial: float | None,
                n_jobs: int | None, device: str, registry: Registry | None) -> dict[str, Any]:
        """``address`` (``None``: a local cluster), ``cpus_per_trial`` (default 1) and ``gpus_per_trial``
        (default 0; a fraction packs several trials on one GPU). Refuses a custom ``registry``: workers load the
        installed plugins."""
        if registry is not None:
            raise ConfigError("the ray backend runs the installed plugins on its workers: leave registry out")
        cpus = _non_negative("cpus_per_trial", cpus_per_trial, 1.0)
        gpus = _non_negative("gpus_per_trial", gpus_per_trial, 0.0)
        if cpus == 0 and gpus == 0:
            raise ConfigError("a Ray trial must reserve some CPU or GPU (cpus_per_trial, gpus_per_trial)")
        if gpus > 0 and validate_device(device) == "cpu":
            raise ConfigError("gpus_per_trial reserves GPUs, but device 'cpu' says not to use them")
        if address is not None and not address.strip():
            raise ConfigError("address is empty; give host:port of the Ray head, or leave it out")
        import_ray()
        return {"address": address, "cpus_per_trial": cpus, "gpus_per_trial": gpus}

    def accelerated(self, device: str, options: dict[str, Any]) -> bool:
        """Trials get a GPU when they reserve one (the driver itself may have none)."""
        return options["gpus_per_trial"] > 0 and device != "cpu"

    def run(self, job: SearchJob, workload: Workload | None = None, *, progress: bool = False) -> SearchOutcome:
        """Join or start the cluster, open the study, run Tune until the budget is met; see
        :class:`~automl.backends.Backend`."""
        from automl.backends import ray_tune  # Ray itself is imported only when a search runs on it

        workload = workload or Workload.from_job(job)
        with quiet_optuna_logs(progress):
            study, recovered = open_search_study(job)
            if counted_trials(study) >= job.n_trials:  # nothing to run: no cluster to start
                return SearchOutcome(study, recovered)
            with connect(job.options["address"]), \
                    SearchProgress(study, job.n_trials) if progress else contextlib.nullcontext() as bar:
                searcher = ray_tune.StudySearcher(study, workload.candidates, job, callbacks=[bar] if bar else [])
                with interrupt.interruptible():  # a stop request ends the Tune run (see ray_tune.fit)
                    ray_tune.fit(searcher, job, workload.full)
                    if interrupt.requested():
                        requeue_interrupted(study)
                        raise KeyboardInterrupt
        return SearchOutcome(study, recovered)
