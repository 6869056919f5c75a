#!/usr/bin/env python
"""The default NLP search of two automl installs side by side, against the two-line pipeline a user would write.

Each repeat runs ``automl search --task nlp --storage sqlite:///<fresh temp dir>/s.db`` (default options otherwise)
with the ``--old`` and the ``--new`` executable, alternating which goes first, then times the two-line pipeline
(``make_union(TfidfVectorizer(ngram_range=(1, 2)), TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5)))`` then
``LogisticRegression(C=4)``) with 5-fold ``cross_val_score`` on the same data and the same splits as the searches
(``automl.cv.make_splits(data, 5, 0)``), in this process on one thread. Per search: wall time of the command (start
to exit, so start-up counts), the best 5-fold score and trial counts read back from its study, and when the search
first held a trial scoring at least the pipeline (``reached``, seconds from the command's start, from the trials'
completion times). Per repeat: the ratio new/old of the wall times; their range over the repeats.

``--write`` (re)writes the "Default NLP search" section of docs/benchmarks.md (command, machine, date, table).

Usage: ``.venv/bin/python benchmarks/nlp_default.py [--old /tmp/automl-old/.venv/bin/automl]
[--new .venv/bin/automl] [--repeats 2] [--json FILE] [--write]`` (each repeat: both searches and the pipeline,
about 3 minutes on 2 idle cores).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _docs import DOCS, machine_line, write_generated  # noqa: E402

HEADING = "## Default NLP search"
MARKERS = ("<!-- nlp_default.py: begin -->", "<!-- nlp_default.py: end -->")


def run_search(executable: str) -> dict[str, Any]:
    """Run the default NLP search of ``executable`` on a fresh SQLite file; its wall time, best score, trials and
    the completion time (from the command's start) of each complete trial with its score."""
    import optuna

    with tempfile.TemporaryDirectory(prefix="nlp-default-") as tmp:
        url = f"sqlite:///{tmp}/s.db"
        started, wall_start = dt.datetime.now(), time.perf_counter()
        done = subprocess.run([executable, "search", "--task", "nlp", "--storage", url], capture_output=True,
                              text=True)
        wall = time.perf_counter() - wall_start
        if done.returncode != 0:
            raise SystemExit(f"{executable} search failed ({done.returncode}): {done.stderr.strip()[-500:]}")
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        [name] = optuna.get_all_study_names(url)
        study = optuna.load_study(study_name=name, storage=url)
        states = [t.state.name for t in study.trials]
        completed = sorted(((t.datetime_complete - started).total_seconds(), t.value) for t in study.trials
                           if t.state == optuna.trial.TrialState.COMPLETE)
        return {"wall": wall, "best": study.best_value, "model": study.best_params["model"],
                "complete": states.count("COMPLETE"), "pruned": states.count("PRUNED"), "completed": completed}


def two_line_pipeline() -> dict[str, Any]:
    """5-fold accuracy and wall time of the hand-written pipeline on the search's data and splits, one thread."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import cross_val_score
    from sklearn.pipeline import make_pipeline, make_union
    from threadpoolctl import threadpool_limits

    from automl.cv import make_splits
    from automl.datasets import load_dataset

    data = load_dataset("nlp")
    splits = make_splits(data, 5, 0)
    pipeline = make_pipeline(make_union(TfidfVectorizer(ngram_range=(1, 2)),
                                        TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5))),
                             LogisticRegression(C=4, max_iter=2000))
    start = time.perf_counter()
    with threadpool_limits(1):
        scores = cross_val_score(pipeline, data.X, data.y, cv=splits, n_jobs=1)
    return {"wall": time.perf_counter() - start, "score": float(scores.mean())}


def reached(run: dict[str, Any], target: float) -> float | None:
    """Seconds from the command's start to its first complete trial scoring at least ``target``."""
    return next((seconds for seconds, value in run["completed"] if value >= target - 1e-9), None)


def table(repeats: list[dict[str, Any]]) -> str:
    lines = ["| repeat | side | wall s | best 5-fold | best model | trials (complete/pruned) | reached pipeline at s "
             "| new/old wall |", "|---|---|---|---|---|---|---|---|"]
    for index, rep in enumerate(repeats, 1):
        target = rep["pipeline"]["score"]
        for side in ("old", "new"):
            run = rep[side]
            at = reached(run, target)
            ratio = f"{rep['new']['wall'] / rep['old']['wall']:.2f}" if side == "new" else ""
            lines.append(f"| {index} | {side} | {run['wall']:.1f} | {run['best']:.4f} | {run['model']} | "
                         f"{run['complete']}/{run['pruned']} | {'not reached' if at is None else f'{at:.1f}'} | "
                         f"{ratio} |")
        lines.append(f"| {index} | two-line pipeline | {rep['pipeline']['wall']:.1f} | {target:.4f} | "
                     "union + LogisticRegression(C=4) | | | |")
    return "\n".join(lines)


def summary(repeats: list[dict[str, Any]]) -> str:
    ratios = [rep["new"]["wall"] / rep["old"]["wall"] for rep in repeats]
    bests = [rep["new"]["best"] for rep in repeats]
    return (f"new/old wall time: {min(ratios):.2f}-{max(ratios):.2f} over {len(ratios)} repeat(s); new best 5-fold "
            f"{min(bests):.4f}-{max(bests):.4f}; two-line pipeline "
            f"{min(rep['pipeline']['score'] for rep in repeats):.4f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--old", default="/tmp/automl-old/.venv/bin/automl", help="automl executable, old commit")
    parser.add_argument("--new", default=str(Path(sys.executable).parent / "automl"), help="automl executable, new")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--json", type=Path, help="also store the raw results here")
    parser.add_argument("--write", action="store_true", help="write the docs/benchmarks.md section")
    parser.add_argument("--doc", type=Path, default=DOCS, help=argparse.SUPPRESS)
    args = parser.parse_args()
    for executable in (args.old, args.new):
        if not os.access(executable, os.X_OK):
            parser.error(f"not an executable: {executable}")
    repeats = []
    for index in range(args.repeats):
        rep: dict[str, Any] = {}
        for side in ("old", "new") if index % 2 == 0 else ("new", "old"):
            rep[side] = run_search(getattr(args, side))
            print(f"repeat {index + 1} {side}: {rep[side]['wall']:.1f} s, best {rep[side]['best']:.4f}", flush=True)
        rep["pipeline"] = two_line_pipeline()
        print(f"repeat {index + 1} pipeline: {rep['pipeline']['wall']:.1f} s, {rep['pipeline']['score']:.4f}",
              flush=True)
        repeats.append(rep)
    result = f"{table(repeats)}\n\n{summary(repeats)}"
    print(result)
    if args.json:
        args.json.write_text(json.dumps(repeats, indent=1))
    if args.write:
        command = " ".join(["benchmarks/nlp_default.py", *map(shlex.quote, sys.argv[1:])])
        load = "load average %.2f, %.2f, %.2f" % os.getloadavg()
        write_generated(HEADING, f"Command: `.venv/bin/python {command}` (old: {args.old}; new: {args.new})\n\n"
                                 f"Machine: {machine_line(())}{load}. Date: {dt.date.today().isoformat()}.\n\n"
                                 f"{result}", MARKERS, args.doc)


if __name__ == "__main__":
    main()
