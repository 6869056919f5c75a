"""Worker processes for ``search(n_jobs=N)``: the calling process and N-1 processes it starts run one study.

Workers are processes, not threads (scikit-learn and torch trials are CPU-bound; threads would share the GIL),
started as fresh interpreters (``python -c``: like multiprocessing's ``spawn``, safe with torch and CUDA unlike
``fork``, and without re-running the caller's ``__main__``). Each extra worker calls :func:`automl.search` with
the same arguments and ``n_jobs=1``: it opens the study by name (checking it was created for the same data,
metric and folds), builds the same objective, and runs trials until the study's budget is met;
:class:`automl.backends.OptunaBackend` keeps the budget exact between them. Each worker records its pid on its
trials (:func:`automl.resume.record_worker`), so a worker that dies leaves nothing RUNNING past the next run (or
the other workers' next look).
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
from collections.abc import Iterator
from typing import Any

from automl.exceptions import AutomlError, ConfigError, PluginWarning

__all__ = ["JOIN_GRACE", "capped_threads", "thread_cap", "workers"]

#: Seconds workers get to stop on their own after Ctrl-C (they re-queue their trials) before they are terminated.
JOIN_GRACE = 30.0
_THREAD_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")


def thread_cap(n_jobs: int, threads: int | None) -> int | None:
    """Threads per worker when ``n_jobs`` workers share this machine: the cores divided among them, unless
    ``threads`` was given (then ``None``: the objective applies ``threads``) or there is one worker."""
    if threads is not None or n_jobs <= 1:
        return None
    return max(1, (os.cpu_count() or 1) // n_jobs)


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

    saved = {name: os.environ.get(name) for name in _THREAD_VARS}
    for name in _THREAD_VARS:  # read by torch (and BLAS) when they are imported later in this process
        os.environ[name] = str(cap)
    torch = sys.modules.get("torch")
    before = torch.get_num_threads() if torch is not None else None
    if torch is not None:
        torch.set_num_threads(cap)
    try:
        with threadpool_limits(limits=cap):
            yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        if torch is not None and before is not None:
            torch.set_num_threads(before)


def _interrupt_once(signum: int, frame: object) -> None:
    """The parent's stop signal, as Ctrl-C: the worker fails and re-queues its trial (a repeat is ignored)."""
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    raise KeyboardInterrupt


def _worker(kwargs: dict[str, Any], cap: int | None) -> None:
    """Body of an extra worker process: the same search, quietly, in this fresh interpreter."""
    # Ctrl-C in a terminal reaches every process of the command at once; their simultaneous writes (each failing
    # its trial) could stall on SQLite's write lock. Workers ignore it: the parent stops them one at a time.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, _interrupt_once)
    if cap is not None:
        for name in _THREAD_VARS:
            os.environ[name] = str(cap)
    import optuna

    from automl.search import search

    optuna.logging.set_verbosity(optuna.logging.WARNING)  # the parent shows the progress
    warnings.simplefilter("ignore", PluginWarning)  # the parent has shown them
    try:
        with capped_threads(cap):
            search(**kwargs)
    except KeyboardInterrupt:  # stopped by the parent: the search re-queued this worker's trial
        sys.exit(130)
    except AutomlError as exc:
        print(f"automl worker {os.getpid()}: error: {exc}", file=sys.stderr)
        sys.exit(2)


def _child() -> None:
    """Entry of a worker process: its arguments arrive as JSON on stdin (nothing is unpickled)."""
    message = json.load(sys.stdin)
    _worker(message["kwargs"], message["cap"])


@contextlib.contextmanager
def workers(n: int, kwargs: dict[str, Any], cap: int | None) -> Iterator[list[subprocess.Popen[bytes]]]:
    """Start ``n`` worker processes running ``search(**kwargs)``; on leaving, wait for them to finish.

    Leaving with an exception (Ctrl-C) stops the workers one at a time (SIGTERM, which a worker takes as Ctrl-C:
    it fails and re-queues its running trial), and kills those still running after :data:`JOIN_GRACE` seconds
    (the next run recovers their trials).
    A worker that exited with an error is an :class:`AutomlError` once all have stopped.
    """
    if n <= 0:
        yield []
        return
    if kwargs.get("registry") is not None:
        raise ConfigError("n_jobs > 1 runs the installed plugins in each worker: leave registry out")
    kwargs = {key: value for key, value in kwargs.items() if key != "registry"}
    try:
        payload = json.dumps({"kwargs": kwargs, "cap": cap}, default=_plain).encode()
    except TypeError as exc:
        raise ConfigError(f"n_jobs > 1 needs arguments that can be sent to worker processes: {exc}") from exc
    procs: list[subprocess.Popen[bytes]] = []
    try:
        for _ in range(n):
            proc = subprocess.Popen([sys.executable, "-c", _CHILD], stdin=subprocess.PIPE)
            procs.append(proc)
            assert proc.stdin is not None
            proc.stdin.write(payload)
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


def _plain(value: object) -> object:
    """JSON for the few non-JSON arguments of :func:`automl.search`: paths and tuples of names."""
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if isinstance(value, (tuple, set, frozenset)):
        return list(value)
    raise TypeError(f"{type(value).__name__} {value!r} is not JSON serializable")


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
