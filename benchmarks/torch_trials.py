#!/usr/bin/env python
"""Small torch trials, side by side: an ``mlp`` trial against a ``hist_gradient_boosting`` trial, with the training
loop's step budget and thread rule (:mod:`automl.training`) and without them (the behaviour before: the model's
epochs and batch size as drawn, torch's default thread count).

Every run is ``automl.search(task="tabular", models=[model], n_trials=N, sampler="random", pruner="none")`` on a
fresh SQLite study (5 folds, seed 0), so the ``mlp`` runs with and without the rules draw the same configurations
and their CV scores compare trial by trial. Per-trial seconds are the trials' own start and end times in the study.

1. The built-in small tables (``--datasets``), each condition (``--busy``: nothing added, and one extra process
   spinning on a core, ``python -c "while True: pass"``), ``--repeats`` times: hgb, then mlp with the rules (new),
   then mlp without them (old).
2. A generated ``--big-rows`` x 20 table (``sklearn.datasets.make_classification``, written to a temporary CSV): an
   ``mlp`` trial with the rules, and one without them stopped at ``--old-timeout`` seconds (``trial_timeout``),
   and an hgb trial.

Usage: ``.venv/bin/python benchmarks/torch_trials.py [--datasets breast_cancer,wine] [--trials 3] [--repeats 2]
[--busy 0,1] [--big-rows 200000] [--big-trials 1] [--old-timeout 300] [--skip-big]``.
Results and their reading: docs/benchmarks.md ("Small torch trials").
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import os
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import automl  # isort: skip  (torch before scikit-learn, see automl/__init__.py)
from automl import training

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _docs import machine_line  # noqa: E402


@contextlib.contextmanager
def rules(on: bool) -> Iterator[None]:
    """With ``on`` false, train as before the step budget and thread rule: settings unchanged, torch's threads."""
    if on:
        yield
        return
    budgeted, default_threads = training.budgeted, training.default_threads
    training.budgeted = lambda settings, rows: settings  # type: ignore[assignment]
    training.default_threads = lambda X, rows: None  # type: ignore[assignment]
    try:
        yield
    finally:
        training.budgeted, training.default_threads = budgeted, default_threads  # type: ignore[assignment]


@contextlib.contextmanager
def busy(processes: int) -> Iterator[None]:
    """Run with ``processes`` extra processes each spinning on a core."""
    spinners = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(processes)]
    try:
        yield
    finally:
        for proc in spinners:
            proc.terminate()
            proc.wait()


def trials(model: str, data: str, n: int, *, new: bool, trial_timeout: float | None = None,
           target: str | None = None) -> list[dict[str, Any]]:
    """Run ``n`` trials of ``model`` on ``data``; per trial: seconds, CV value (None unless complete), threads."""
    with tempfile.TemporaryDirectory() as tmp, rules(new):
        result = automl.search(task="tabular", data=data, target=target, models=[model], n_trials=n,
                               sampler="random", pruner="none", storage=f"sqlite:///{tmp}/s.db", study="b",
                               trial_timeout=trial_timeout)
        return [{"seconds": (t.datetime_complete - t.datetime_start).total_seconds(), "value": t.value,
                 "threads": t.user_attrs.get("resources", {}).get("threads"), "state": t.state.name}
                for t in result.study.trials]


def show(label: str, runs: list[dict[str, Any]]) -> list[float]:
    seconds = [r["seconds"] for r in runs]
    values = ["-" if r["value"] is None else f"{r['value']:.4f}" for r in runs]
    print(f"  {label:<28} s/trial {' '.join(f'{s:6.2f}' for s in seconds)}  median {statistics.median(seconds):6.2f}"
          f"  cv {' '.join(values)}  threads {sorted({r['threads'] for r in runs}, key=str)}"
          f"{'' if all(r['state'] == 'COMPLETE' for r in runs) else '  states ' + ','.join(r['state'] for r in runs)}",
          flush=True)
    return seconds


def small(datasets: list[str], n: int, repeats: int, conditions: list[int]) -> None:
    for processes in conditions:
        for dataset in datasets:
            for repeat in range(repeats):
                print(f"{dataset}, {processes} busy process(es), repeat {repeat + 1}", flush=True)
                with busy(processes):
                    hgb = show("hist_gradient_boosting", trials("hist_gradient_boosting", dataset, n, new=True))
                    new = show("mlp (budget, thread rule)", trials("mlp", dataset, n, new=True))
                    old = show("mlp (before)", trials("mlp", dataset, n, new=False))
                base = statistics.median(hgb)
                print(f"  median mlp/hgb: new {statistics.median(new) / base:.2f}x, "
                      f"before {statistics.median(old) / base:.2f}x", flush=True)


def big(rows: int, n: int, old_timeout: float) -> None:
    import pandas as pd
    from sklearn.datasets import make_classification

    X, y = make_classification(n_samples=rows, n_features=20, n_informative=10, random_state=0)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "big.csv"
        frame = pd.DataFrame(X, columns=[f"x{i}" for i in range(20)])
        frame["label"] = y
        frame.to_csv(path, index=False)
        print(f"generated {rows} x 20 table", flush=True)
        show("hist_gradient_boosting", trials("hist_gradient_boosting", str(path), n, new=True, target="label"))
        show("mlp (budget, thread rule)", trials("mlp", str(path), n, new=True, target="label"))
        show(f"mlp (before, cut at {old_timeout:g} s)",
             trials("mlp", str(path), n, new=False, trial_timeout=old_timeout, target="label"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", default="breast_cancer,wine")
    parser.add_argument("--trials", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--busy", default="0,1", help="extra spinning processes of each condition")
    parser.add_argument("--big-rows", type=int, default=200_000)
    parser.add_argument("--big-trials", type=int, default=1)
    parser.add_argument("--old-timeout", type=float, default=300.0)
    parser.add_argument("--skip-big", action="store_true")
    parser.add_argument("--skip-small", action="store_true")
    args = parser.parse_args()
    print(f"{datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC, {machine_line()}; load average "
          f"{os.getloadavg()[0]:.1f}", flush=True)
    if not args.skip_small:
        small(args.datasets.split(","), args.trials, args.repeats, [int(b) for b in args.busy.split(",")])
    if not args.skip_big:
        big(args.big_rows, args.big_trials, args.old_timeout)


if __name__ == "__main__":
    main()
