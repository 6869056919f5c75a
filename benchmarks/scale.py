#!/usr/bin/env python
"""How a tabular search's cost grows with the rows: ``automl search`` on generated tables of 10k, 100k and 1M rows.

Each table is ``sklearn.datasets.make_classification`` with 20 numeric columns (10 informative, 4 redundant, 5 %
of the labels flipped, seeded: the same table every run) and a ``label`` column, written to a temporary folder
(Parquet by default, ``--format csv`` as a user's export would be). On each the benchmark runs the command line as
a user would, ``automl search --task tabular --data FILE --n-trials N`` (a fixed budget of trials, default 3;
``--timeout T`` budgets seconds instead; ``--models`` restricts the models, otherwise a default search chooses them,
k-NN only up to 50,000 rows, so the first configurations differ below and above that size) on a fresh
SQLite study, and records the wall time of the whole command (start-up and data loading included), its CPU time
(user + system, of the command and its children: on a machine shared with other work this is the figure that
stays put, and scikit-learn trials run on one thread, so it is close to the wall time of a quiet machine), the
trials it finished, pruned or failed, the models it tried, and the best 5-fold accuracy. A budget of trials shows
the growth of a trial's cost with the rows even on a busy machine, where a budget of seconds may end before the
first trial.

``--acceptance`` adds the case of issue 11: a 200,000-row CSV and ``--n-trials 6`` (no timeout), timed the same
way; ``--reference URL`` (a study storage holding the same search run by an older automl on the same file, e.g.
``sqlite:////tmp/scale/old.db``) puts that study's best score and trials next to it. ``--table ROWS PATH`` only
writes the generated table of ``ROWS`` rows to ``PATH`` (the same file the benchmark searches), to run other
versions on it.

Usage: ``.venv/bin/python benchmarks/scale.py [--sizes 10000,100000,1000000] [--n-trials 3 | --timeout S]
[--format parquet] [--models M,N] [--acceptance] [--reference URL] [--write]``; ``--write`` replaces the "Data
size" section of docs/benchmarks.md with the results, the command, the machine and the date.
"""

from __future__ import annotations

import argparse
import datetime
import os
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import optuna
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _docs import machine_line, write_section  # noqa: E402

AUTOML = Path(sys.executable).parent / "automl"
SECTION = "## Data size"
ACCEPTANCE_ROWS = 200_000
ACCEPTANCE_TRIALS = 6


def table(rows: int, seed: int = 0) -> pd.DataFrame:
    """The generated table of ``rows`` rows: 20 float columns ``x0..x19`` and a binary ``label``."""
    from sklearn.datasets import make_classification

    X, y = make_classification(n_samples=rows, n_features=20, n_informative=10, n_redundant=4, n_classes=2,
                               flip_y=0.05, class_sep=0.8, random_state=seed)
    frame = pd.DataFrame(X.astype(np.float32), columns=[f"x{i}" for i in range(20)])
    frame["label"] = y
    return frame


def write_table(rows: int, path: Path) -> None:
    """Write the table of ``rows`` rows to ``path`` (CSV or Parquet, by its suffix)."""
    frame = table(rows)
    if path.suffix == ".parquet":
        frame.to_parquet(path, index=False)
    else:
        frame.to_csv(path, index=False, float_format="%.6g")


@dataclass
class Run:
    """One ``automl search`` command and the study it left."""

    case: str
    rows: int
    budget: str
    wall: float
    cpu: float | None
    complete: int
    pruned: int
    failed: int
    best: float | None
    best_model: str | None
    models: dict[str, int]
    returncode: int


def study_summary(storage: str) -> tuple[int, int, int, float | None, str | None, dict[str, int]]:
    """(complete, pruned, failed, best value, best model, trials per model) of the only study in ``storage``."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    names = optuna.get_all_study_names(storage)
    if not names:  # the command failed before it created its study
        return 0, 0, 0, None, None, {}
    study = optuna.load_study(study_name=names[0], storage=storage)
    trials = study.get_trials(deepcopy=False)
    count = {state: sum(t.state == state for t in trials) for state in optuna.trial.TrialState}
    done = [t for t in trials if t.state == optuna.trial.TrialState.COMPLETE]
    best = max(done, key=lambda t: t.value) if done else None
    models: dict[str, int] = {}
    for t in trials:
        models[t.params.get("model", "?")] = models.get(t.params.get("model", "?"), 0) + 1
    return (count[optuna.trial.TrialState.COMPLETE], count[optuna.trial.TrialState.PRUNED],
            count[optuna.trial.TrialState.FAIL], best.value if best else None,
            best.params.get("model") if best else None, models)


def run_search(case: str, data: Path, rows: int, budget: list[str], folder: Path) -> Run:
    """Time ``automl search --task tabular --data DATA <budget>`` on a fresh study in ``folder``."""
    database = folder / f"rows{rows}-{len(list(folder.glob('*.db')))}.db"
    storage = f"sqlite:///{database}"
    command = [str(AUTOML), "search", "--task", "tabular", "--data", str(data), "--storage", storage, *budget]
    print(f"[{case}] {' '.join(command)}", file=sys.stderr, flush=True)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    if done.returncode != 0:
        print(done.stderr[-2000:], file=sys.stderr)
    summary = study_summary(storage)
    run = Run(case, rows, " ".join(budget), wall, cpu, *summary, returncode=done.returncode)
    print(f"[{case}] {wall:.1f} s ({cpu:.1f} s CPU), best {run.best}, trials {run.models}", file=sys.stderr, flush=True)
    return run


def reference_run(storage: str, rows: int) -> Run:
    """The summary of an older version's study in ``storage`` (its wall time from the trials' own timestamps)."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    name = optuna.get_all_study_names(storage)[0]
    trials = optuna.load_study(study_name=name, storage=storage).get_trials(deepcopy=False)
    starts = [t.datetime_start for t in trials if t.datetime_start]
    ends = [t.datetime_complete for t in trials if t.datetime_complete]
    span = (max(ends) - min(starts)).total_seconds() if starts and ends else float("nan")
    return Run("reference", rows, f"{len(trials)} trials stored", span, None, *study_summary(storage), returncode=0)


def markdown(runs: list[Run], command: str, took: float) -> str:
    """The body of the "Data size" section of docs/benchmarks.md."""
    load = " / ".join(f"{x:.2f}" for x in os.getloadavg())
    lines = ["`benchmarks/scale.py`: `automl search --task tabular` on generated tables (make_classification, 20 "
             "numeric columns, 2 classes, seeded), timed from the command's start to its exit (data loading "
             "included); CPU s = user + system time of the command (scikit-learn trials run on one thread, so on "
             "a busy machine it is the steadier figure). Best = best mean 5-fold accuracy of the study.", "",
             "```", command, "```", "",
             f"Date: {datetime.date.today().isoformat()}; the whole run took {took:.0f} s.",
             f"Machine: {machine_line()}; load average (1/5/15 min) {load} at the end of the run.", "",
             "| case | rows | budget | wall s | CPU s | complete / pruned / failed | best | best model "
             "| trials by model |",
             "|---|---:|---|---:|---:|---|---:|---|---|"]
    for run in runs:
        best = f"{run.best:.4f}" if run.best is not None else "-"
        models = ", ".join(f"{name} {n}" for name, n in sorted(run.models.items()))
        status = "" if run.returncode == 0 else f" (exit {run.returncode})"
        cpu = f"{run.cpu:.1f}" if run.cpu is not None else "-"
        lines.append(f"| {run.case}{status} | {run.rows:,} | {run.budget} | {run.wall:.1f} | {cpu} | {run.complete} / "
                     f"{run.pruned} / {run.failed} | {best} | {run.best_model or '-'} | {models} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="10000,100000,1000000", help="rows of each table, comma-separated")
    budget = parser.add_mutually_exclusive_group()
    budget.add_argument("--n-trials", type=int, default=3, help="--n-trials of each search")
    budget.add_argument("--timeout", type=float, help="--timeout of each search (seconds), instead of --n-trials")
    parser.add_argument("--format", choices=("parquet", "csv"), default="parquet")
    parser.add_argument("--models", help="--models of each search (default: all the search chooses)")
    parser.add_argument("--acceptance", action="store_true", help="also the 200,000-row CSV, --n-trials 6")
    parser.add_argument("--reference", help="storage URL of the same acceptance search by another version")
    parser.add_argument("--table", nargs=2, metavar=("ROWS", "PATH"), help="only write the table of ROWS rows")
    parser.add_argument("--write", action="store_true", help="update the 'Data size' section of docs/benchmarks.md")
    args = parser.parse_args()
    if args.table:
        write_table(int(args.table[0]), Path(args.table[1]))
        return
    start = time.perf_counter()
    runs = []
    budget = ["--timeout", f"{args.timeout:g}"] if args.timeout else ["--n-trials", str(args.n_trials)]
    budget += ["--models", args.models] if args.models else []
    with tempfile.TemporaryDirectory(prefix="automl-scale-") as tmp:
        folder = Path(tmp)
        for rows in (int(s) for s in args.sizes.split(",") if s):
            data = folder / f"scale{rows}.{args.format}"
            write_table(rows, data)
            runs.append(run_search(f"{rows:,} rows", data, rows, budget, folder))
        if args.acceptance:
            data = folder / f"big{ACCEPTANCE_ROWS // 1000}k.csv"
            write_table(ACCEPTANCE_ROWS, data)
            runs.append(run_search("200k acceptance", data, ACCEPTANCE_ROWS,
                                   ["--n-trials", str(ACCEPTANCE_TRIALS)], folder))
            if args.reference:
                runs.append(reference_run(args.reference, ACCEPTANCE_ROWS))
    body = markdown(runs, ".venv/bin/python benchmarks/scale.py " + " ".join(sys.argv[1:]),
                    time.perf_counter() - start)
    print(f"{SECTION}\n\n{body}")
    if args.write:
        write_section(SECTION, body)


if __name__ == "__main__":
    main()
