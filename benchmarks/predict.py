"""Batch prediction throughput: ``automl predict`` (a model directory, a file) against the same fitted objects
called by hand, side by side, and compressed torch models against their originals.

For each case a one-trial study of one model is searched and refitted into a model directory (not timed), its
rows are written to a file (tables: CSV; texts: CSV; images: .npz), repeated up to ``--rows`` rows. Then, in one
process, alternating ``--repeats`` times:

* **automl, file**: :func:`automl.predict.predict_file` on the model directory loaded once: read the file, check it
  against the schema, predict in batches of 4,096 rows; rows per second of the whole call;
* **automl, rows**: the prediction loop alone (:attr:`~automl.predict.Predictions.rows_per_second`: conform
  excluded, file reading excluded);
* **by hand**: the same fitted featurizer and estimator (or torch module) on the rows already in memory, one call
  (``featurizer.transform`` then ``predict_proba`` / the module under ``torch.no_grad`` in 4,096-row batches):
  what a hand-written script would do.

``automl rows / by hand`` is the headline ratio (the cost of the schema check and the batching); the file rate
adds reading. ``--compress`` adds the torch models after ``dynamic-int8``. On the CPU with ``--device cpu``; on a
GPU machine run it with ``--device cuda`` too.

Run from the repository root: ``.venv/bin/python benchmarks/predict.py`` (results: docs/benchmarks.md).
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
from typing import Any

import numpy as np
import optuna
import torch

import automl
from automl.compress import compress
from automl.datasets import subset
from automl.model import Model
from automl.predict import predict_file
from automl.refit import study_rows
from automl.schema import read_rows, write_rows

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _docs import machine_line  # noqa: E402

#: (task, data, model): the cases measured.
CASES = [("tabular", "breast_cancer", "linear"), ("tabular", "breast_cancer", "random_forest"),
         ("tabular", "breast_cancer", "hist_gradient_boosting"), ("tabular", "breast_cancer", "mlp"),
         ("nlp", "rotten_tomatoes", "tfidf_nb"), ("vision", "digits", "small_cnn")]


def _by_hand(model: Model, rows: Any, batch: int = 4096) -> float:
    """Rows per second of the fitted objects called directly on rows in memory."""
    fitted = model.fitted
    start = time.perf_counter()
    features = rows if fitted.problem.featurizer is None else fitted.problem.featurizer.transform(rows)
    if fitted.trained is not None:
        module = fitted.trained.module.eval()
        with torch.no_grad():
            for first in range(0, len(features), batch):
                chunk = features[first:first + batch]
                module(torch.as_tensor(np.asarray(chunk), dtype=torch.long if np.asarray(chunk).dtype.kind in "iu"
                                       else torch.float32))
    else:
        fitted.estimator.predict_proba(features)
    return len(rows) / (time.perf_counter() - start)


def _case(task: str, data: str, model_name: str, folder: Path, args: argparse.Namespace) -> list[dict[str, Any]]:
    url = f"sqlite:///{folder / 'studies.db'}"
    result = automl.search(task, data, models=[model_name], n_trials=1, folds=2, seed=args.seed, storage=url,
                           study=f"{task}-{model_name}", pruner="none")
    model_dir = folder / f"{task}-{model_name}"
    automl.refit(result.study, out=model_dir, device=args.device)
    spec = automl.load_model(model_dir).card["data"]
    rows, _ = study_rows(spec["ref"], spec["fingerprint"], spec["holdout"], spec["seed"])
    wanted = len(rows) if task == "nlp" else max(args.rows, len(rows))  # texts: the corpus once (12,808 rows)
    many = subset(rows, np.resize(np.arange(len(rows)), wanted))
    file = write_rows(many, folder / f"{task}-{model_name}{'.npz' if task == 'vision' else '.csv'}")
    dirs = [("original", model_dir)]
    if args.compress and automl.load_model(model_dir).fitted.trained is not None:
        compress(model_dir, "dynamic-int8", folder / f"{task}-{model_name}-int8")
        dirs.append(("dynamic-int8", folder / f"{task}-{model_name}-int8"))
    measured = []
    for label, directory in dirs:
        model = automl.load_model(directory, device=args.device)
        in_memory, _ = read_rows(model.card["schema"], file)
        runs: dict[str, list[float]] = {"file": [], "rows": [], "hand": []}
        predict_file(model, file)  # warm-up
        for _ in range(args.repeats):
            start = time.perf_counter()
            done = predict_file(model, file)
            runs["file"].append(len(done.table) / (time.perf_counter() - start))
            runs["rows"].append(done.rows_per_second)
            runs["hand"].append(_by_hand(model, in_memory))
        med = {key: statistics.median(values) for key, values in runs.items()}
        measured.append({"case": f"{task} `{model_name}`" + ("" if label == "original" else f" ({label})"),
                         "n": len(many), **med})
        print(f"{measured[-1]['case']}: {med['rows']:,.0f} rows/s (by hand {med['hand']:,.0f})", file=sys.stderr)
    return measured


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=50_000, help="rows per prediction file (repeated rows)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--compress", action="store_true", help="also the torch models after dynamic-int8")
    args = parser.parse_args()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    load_before = os.getloadavg()
    started = time.perf_counter()
    rows = []
    with tempfile.TemporaryDirectory(prefix="automl-bench-") as folder:
        for task, data, model_name in CASES:
            case_folder = Path(folder) / f"{task}-{model_name}"
            case_folder.mkdir()
            rows.extend(_case(task, data, model_name, case_folder, args))
    print(f"## Batch prediction, {datetime.now():%Y-%m-%d}\n")
    print(f"`{' '.join(['.venv/bin/python', 'benchmarks/predict.py', *sys.argv[1:]])}`: one refitted model per row, "
          f"predicting a file of its own training rows repeated to {args.rows:,} rows (texts: the corpus once), device "
          f"{args.device}; medians of {args.repeats} runs, rows per second.\n")
    print("| model | rows | automl predict, file | automl, prediction loop | by hand | loop / by hand |")
    print("|---|---:|---:|---:|---:|---:|")
    for row in rows:
        print(f"| {row['case']} | {row['n']:,} | {row['file']:,.0f} | {row['rows']:,.0f} | {row['hand']:,.0f} | "
              f"{row['rows'] / row['hand']:.2f} |")
    print(f"\nMachine: {machine_line(('automl', 'torch'))} ({torch.get_num_threads()} threads); load average "
          f"{load_before[0]:.2f} before, {os.getloadavg()[0]:.2f} after; {time.perf_counter() - started:.0f} s in all.")


if __name__ == "__main__":
    main()
