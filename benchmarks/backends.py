"""Per-trial overhead of the ray backend against the in-process optuna backend, on one study, side by side.

Both backends add trials of the same workload to the *same* SQLite study, one after the other in one process:
``--trials`` trials through the first, then as many more through the second; the order alternates between
repeats, so that load drift on a shared machine hits both. Trials run one at a time (``n_jobs=1``), so the
difference is the backend's own cost per trial, not parallelism; the ray backend starts (and stops) its own local
Ray cluster, as ``automl search --backend ray`` does.

Per backend and run:

* **call**: wall time of its ``automl.search`` call (ray: with starting and stopping the local cluster);
* **span**: its trials' span in the study (first trial created to last finished): the trial loop;
* **fold work**: the sum of the trials' ``fit_seconds`` (featurize, fit, predict, score), the same work on both;
* **per trial**: span / trials, and **non-fit per trial**: (span - fold work) / trials, what the backend adds.

The ray/optuna ratio of *per trial* is the headline; ``--concurrent`` adds one ray run with as many trials at once
as the cluster holds (the cores), for what parallel Ray trials give back on this machine.

Run from the repository root: ``.venv/bin/python benchmarks/backends.py`` (results: docs/benchmarks.md).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

import optuna

import automl

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _docs import machine_line  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def _trials_of(study: optuna.Study, numbers: range) -> list[optuna.trial.FrozenTrial]:
    return [t for t in study.trials if t.number in numbers]


def run_backend(backend: str, study_name: str, storage: str, total: int, args: argparse.Namespace,
                n_jobs: int | None = 1) -> dict[str, float]:
    """Add trials through ``backend`` until the study holds ``total``; measure them."""
    before = len(optuna.load_study(study_name=study_name, storage=storage).trials) if total > args.trials else 0
    start = time.perf_counter()
    result = automl.search("tabular", args.data, models=[args.model], n_trials=total, folds=args.folds,
                           sampler="random", pruner="none", seed=args.seed, study=study_name, storage=storage,
                           backend=backend, n_jobs=n_jobs, threads=1)
    call = time.perf_counter() - start
    trials = _trials_of(result.study, range(before, total))
    assert len(trials) == args.trials and all(t.state.name == "COMPLETE" for t in trials), [t.state for t in trials]
    span = (max(t.datetime_complete for t in trials) - min(t.datetime_start for t in trials)).total_seconds()
    fit = sum(sum(t.user_attrs["fit_seconds"]) for t in trials)
    return {"call": call, "span": span, "fit": fit, "per_trial": span / len(trials),
            "non_fit": (span - fit) / len(trials)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, default=20, help="trials per backend and run")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--model", default="linear", help="a fast model, so that overhead shows")
    parser.add_argument("--data", default="breast_cancer")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--concurrent", action="store_true", help="also one ray run with concurrent trials")
    args = parser.parse_args()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    load_before = os.getloadavg()
    started = time.perf_counter()
    rows: dict[str, list[dict[str, float]]] = {"optuna": [], "ray": []}
    with tempfile.TemporaryDirectory(prefix="automl-bench-") as folder:
        for repeat in range(args.repeats):
            storage = f"sqlite:///{Path(folder) / f'run{repeat}.db'}"
            order = ("optuna", "ray") if repeat % 2 == 0 else ("ray", "optuna")
            for i, backend in enumerate(order):
                rows[backend].append(run_backend(backend, "same", storage, args.trials * (i + 1), args))
            print(f"run {repeat + 1}: " + ", ".join(f"{b} {rows[b][-1]['per_trial']:.3f} s/trial" for b in order),
                  file=sys.stderr)
        concurrent = None
        if args.concurrent:
            concurrent = run_backend("ray", "concurrent", f"sqlite:///{Path(folder) / 'c.db'}", args.trials, args,
                                     n_jobs=None)
    med = {b: {k: statistics.median(r[k] for r in rs) for k in rs[0]} for b, rs in rows.items()}
    ratio = med["ray"]["per_trial"] / med["optuna"]["per_trial"]
    print(f"## Backends: ray vs optuna, {datetime.now():%Y-%m-%d}\n")
    print(f"`{' '.join(['.venv/bin/python', 'benchmarks/backends.py', *sys.argv[1:]])}`: {args.trials} `{args.model}`"
          f" trials of {args.folds}-fold CV on `{args.data}` per backend and run, one at a time, both backends on one "
          f"SQLite study in the temporary folder; medians of {args.repeats} runs.\n")
    print("| backend | call s | trial span s | fold work s | s/trial | non-fit s/trial |")
    print("|---|---:|---:|---:|---:|---:|")
    for backend in ("optuna", "ray"):
        m = med[backend]
        print(f"| {backend} | {m['call']:.2f} | {m['span']:.2f} | {m['fit']:.2f} | {m['per_trial']:.3f} | "
              f"{m['non_fit']:.3f} |")
    if concurrent is not None:
        print(f"| ray, trials at once | {concurrent['call']:.2f} | {concurrent['span']:.2f} | {concurrent['fit']:.2f} "
              f"| {concurrent['per_trial']:.3f} | {concurrent['non_fit']:.3f} |")
    print(f"\n**ray/optuna per trial: {ratio:.2f}x**; the ray backend adds "
          f"{med['ray']['non_fit'] - med['optuna']['non_fit']:+.3f} s of non-fit time per trial, and its call "
          f"{med['ray']['call'] - med['ray']['span']:.1f} s outside the trials (starting and stopping the local "
          f"cluster, against {med['optuna']['call'] - med['optuna']['span']:.1f} s).\n")
    per_run = "; ".join(f"{b}: " + ", ".join(f"{r['per_trial']:.3f}" for r in rows[b]) for b in ("optuna", "ray"))
    print(f"Per-run s/trial: {per_run}.\n")
    print(f"Machine: {machine_line(('automl', 'optuna', 'ray'))}; load average {load_before[0]:.2f} before, "
          f"{os.getloadavg()[0]:.2f} after; {time.perf_counter() - started:.0f} s in all.")


if __name__ == "__main__":
    main()
