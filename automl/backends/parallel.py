"""Worker processes of the optuna backend with ``n_jobs=N``: the calling process and N-1 processes it starts
run one study.

Workers are processes, not threads (scikit-learn and torch trials are CPU-bound; threads would share the GIL),
started as fresh interpreters (``python -c``: like multiprocessing's ``spawn``, safe with torch and CUDA unlike
``fork``, and without re-running the caller's ``__main__``). Each receives the :class:`~automl.job.SearchJob` as
JSON and its :class:`~automl.runner.Resources` (:func:`plan_resources`: its device and threads), rebuilds the
workload (checking the data and plugins are the study's), opens the study and runs trials until the budget is
met; :class:`automl.budget.Budget` keeps the total exact between them. Each worker records its pid on its trials
(:func:`automl.resume.record_worker`), so a worker that dies leaves nothing RUNNING past the next run (or the
other workers' next look).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import asdict

from automl import interrupt
from automl.devices import resolve_device
from automl.envvars import environ
from automl.exceptions import AutomlError, PluginWarning
from automl.job import SearchJob
from automl.runner import Resources

__all__ = ["JOIN_GRACE", "capped_threads", "plan_resources", "thread_cap", "workers"]

#: Seconds workers get to stop on their own after Ctrl-C (they re-queue their trials) before they are terminated.
JOIN_GRACE = 30.0
_THREAD_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")


def thread_cap(n_jobs: int, threads: int | None) -> int | None:
    """Threads per worker when ``n_jobs`` workers share this machine: the cores divided among them, unless
    ``threads`` was given (then ``None``: the objective applies ``threads``) or there is one worker."""
    if threads is not None or n_jobs <= 1:
        return None
    return max(1, (os.cpu_count() or 1) // n_jobs)


def plan_resources(device: str, threads: int | None, n_jobs: int) -> list[Resources]:
    """The resources of each of ``n_jobs`` workers (the calling process first) under device option ``device``.

    ``cpu`` or ``cuda:N``: every worker gets that device; ``auto`` and ``cuda``: worker ``i`` gets GPU
    ``i mod (GPUs visible)``, so workers spread over the GPUs (``auto`` without a GPU: the CPU). Threads are
    ``threads`` when given, else the model family's default under the worker's share of the cores
    (:func:`thread_cap`). Each worker's index is recorded with its trials' resources.
    """
    chosen = resolve_device(device)
    devices = [str(chosen)] * n_jobs
    if chosen.type == "cuda" and chosen.index is None:
        import torch

        count = torch.cuda.device_count()
        devices = [f"cuda:{i % count}" for i in range(n_jobs)]
    return [Resources(device=devices[i], threads=threads, details={"backend": "optuna", "worker": i})
            for i in range(n_jobs)]


@contextlib.contextmanager
def capped_threads(cap: int | None) -> Iterator[None]:
    """Cap this process's BLAS/OpenMP pools and torch's intra-op threads at ``cap`` (nothing when ``None``).

    A trial's own limit (one thread for scikit-learn models, ``threads``) still applies inside it; torch
    models, which otherwise take every core, get ``cap``.
    """
    if cap is None:
        yield
        return
    from threadpoolctl import threadpool_limits

    torch = sys.modules.get("torch")
    before = torch.get_num_threads() if torch is not None else None
    if torch is not None:
        torch.set_num_threads(cap)
    try:
        # the variables are read by torch (and BLAS) when they are imported later in this process
        with environ({name: str(cap) for name in _THREAD_VARS}), threadpool_limits(limits=cap):
            yield
    finally:
        if torch is not None and before is not None:
            torch.set_num_threads(before)


def _worker(job: SearchJob, resources: Resources, cap: int | None) -> None:
    """Body of an extra worker process: the same study, quietly, in this fresh interpreter."""
    # Ctrl-C in a terminal reaches every process of the command at once; their simultaneous writes (each failing
    # its trial) could stall on SQLite's write lock. Workers ignore it: the parent stops them one at a time, with
    # SIGTERM, which a worker takes as Ctrl-C (it fails and re-queues its trial).
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if cap is not None:
        for name in _THREAD_VARS:
            os.environ[name] = str(cap)
    import optuna

    from automl.backends.optuna_backend import OptunaBackend

    optuna.logging.set_verbosity(optuna.logging.WARNING)  # the parent shows the progress
    warnings.simplefilter("ignore", PluginWarning)  # the parent has shown them
    try:
        with interrupt.interruptible((signal.SIGTERM,)), capped_threads(cap):
            OptunaBackend().run_worker(job, resources)
    except KeyboardInterrupt:  # stopped by the parent: this worker's trial was re-queued
        sys.exit(130)
    except AutomlError as exc:
        print(f"automl worker {os.getpid()}: error: {exc}", file=sys.stderr)
        sys.exit(2)


def _child() -> None:
    """Entry of a worker process: its job arrives as JSON on stdin (nothing is unpickled)."""
    message = json.load(sys.stdin)
    resources = Resources(**message["resources"])
    _worker(SearchJob.from_json(message["job"]), resources, message["cap"])


@contextlib.contextmanager
def workers(job: SearchJob, resources: Sequence[Resources]) -> Iterator[list[subprocess.Popen[bytes]]]:
    """Start one worker process per entry of ``resources``, each running ``job``'s trials; on leaving, wait for
    them to finish.

    Leaving with an exception (Ctrl-C) stops the workers one at a time (SIGTERM, which a worker takes as Ctrl-C:
    it fails and re-queues its running trial), and kills those still running after :data:`JOIN_GRACE` seconds
    (the next run recovers their trials).
    A worker that exited with an error is an :class:`AutomlError` once all have stopped.
    """
    if not resources:
        yield []
        return
    cap = thread_cap(len(resources) + 1, job.threads)
    procs: list[subprocess.Popen[bytes]] = []
    try:
        for res in resources:
            proc = subprocess.Popen([sys.executable, "-c", _CHILD], stdin=subprocess.PIPE)
            procs.append(proc)
            assert proc.stdin is not None
            proc.stdin.write(json.dumps({"job": job.to_json(), "resources": asdict(res), "cap": cap}).encode())
            proc.stdin.close()
        yield procs
    except BaseException:
        deadline = time.monotonic() + JOIN_GRACE
        for proc in procs:  # one at a time (see _worker)
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    proc.send_signal(signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(max(0.0, deadline - time.monotonic()))
        _join(procs, 0)
        raise
    _join(procs, None)
    failed = [f"{proc.pid} (exit status {proc.returncode})" for proc in procs if proc.returncode]
    if failed:
        raise AutomlError(f"worker process {', '.join(failed)} failed; run the same command again to resume")


#: What a worker process runs: a fresh interpreter (like multiprocessing's ``spawn``, but without re-importing
#: the caller's ``__main__``, so scripts without an ``if __name__ == "__main__"`` guard and notebooks work).
_CHILD = "from automl.backends.parallel import _child; _child()"


def _join(procs: list[subprocess.Popen[bytes]], grace: float | None) -> None:
    deadline = None if grace is None else time.monotonic() + grace
    for proc in procs:
        try:
            proc.wait(None if deadline is None else max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            proc.kill()  # its trial stays RUNNING until the next run recovers it (see automl.resume)
            proc.wait()
