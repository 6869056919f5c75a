"""CUDA checks of per-trial resources, for a machine with a GPU (run it whenever one is available).

What it checks and measures, printing a markdown report (for docs/benchmarks.md) and exiting non-zero on a failed
check:

1. Device planning: ``plan_resources("auto", ...)`` spreads ``n_jobs`` workers over the visible GPUs.
2. One torch trial through the backend-neutral runner on ``cuda:0``: the trial records the device, and the fold
   work runs there (peak CUDA memory > 0).
3. ``automl.search(task="vision", models=["small_cnn"], device="cuda", n_jobs=N)``: every trial records a
   ``cuda:*`` device and each worker index its own GPU (round robin); trials per minute against ``n_jobs=1``.
4. ``sentence_embeddings``' encoder follows the trial's device (:func:`automl.devices.trial_device`), if the
   transformers extra is installed.
5. The model lifecycle on the GPU: a small_cnn study with a holdout refitted on ``cuda``, loaded on ``cuda`` and
   on the CPU: both reproduce the stored held-out score; batch prediction rows/s on each; a ``dynamic-int8``
   copy loaded with ``device="cuda"`` runs on the CPU and predicts.

The ray backend cannot be checked this way where Ray's wheel cannot be brought to the GPU machine.

Usage (repository root; optuna and the other wheels the GPU machine lacks installed first, see
``scripts/gpu_check.sh``): ``python scripts/gpu_check.py [--trials 8] [--n-jobs 2] [--out report.md]``.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import optuna
import torch

import automl
from automl.backends.parallel import plan_resources
from automl.cv import make_splits
from automl.datasets import load_dataset
from automl.devices import using_device
from automl.metrics import get_metric
from automl.registry import discover
from automl.reporter import MemoryReporter
from automl.runner import Resources, TrialRunner
from automl.space import Candidates, compose

failures: list[str] = []
lines: list[str] = []


def check(ok: bool, what: str) -> None:
    """Record one check: a line in the report, and a failure if it did not hold."""
    lines.append(f"- {'ok' if ok else 'FAILED'}: {what}")
    if not ok:
        failures.append(what)


def search_rate(n_jobs: int, trials: int, storage: str) -> tuple[float, list[dict]]:
    """Trials per minute of a small_cnn search on digits with ``n_jobs`` workers on ``device="cuda"``."""
    start = time.perf_counter()
    result = automl.search("vision", models=["small_cnn"], n_trials=trials, folds=3, device="cuda", n_jobs=n_jobs,
                           pruner="none", storage=storage, study=f"gpu-{n_jobs}")
    minutes = (time.perf_counter() - start) / 60
    return trials / minutes, [t.user_attrs["resources"] for t in result.study.trials]


def lifecycle() -> None:
    """Check 5 of the module docstring."""
    from automl.compress import compress
    from automl.holdout import ATTR
    from automl.predict import predict_file
    from automl.refit import write_holdout

    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        study = automl.search("vision", models=["small_cnn"], n_trials=2, folds=2, holdout=0.2, device="cuda",
                              storage=f"sqlite:///{root / 'm.db'}", study="m").study
        automl.refit(study, out=root / "model", device="cuda")
        rows = write_holdout(study, root / "held_out.npz")
        big = root / "big.npz"
        held = np.load(rows, allow_pickle=False)
        np.savez(big, X=np.tile(held["X"], (100, 1, 1, 1)), y=np.tile(held["y"], 100))
        rates = {}
        for device in ("cuda", "cpu"):
            model = automl.load_model(root / "model", device=device)
            done = predict_file(model, rows)
            check(done.score == study.user_attrs[ATTR]["score"],
                  f"a model loaded on {device} reproduces the held-out score ({done.score} vs "
                  f"{study.user_attrs[ATTR]['score']})")
            predict_file(model, big)  # warm-up
            rates[device] = predict_file(model, big).rows_per_second
        lines.append(f"\n| small_cnn, automl predict of {len(held['y']) * 100:,} digits | rows/s |\n|---|---:|\n"
                     + "".join(f"| {device} | {rate:,.0f} |\n" for device, rate in rates.items()))
        compress(root / "model", "dynamic-int8", root / "int8")
        quantized = automl.load_model(root / "int8", device="cuda")
        check(quantized.fitted.device == "cpu" and predict_file(quantized, rows).score is not None,
              "a dynamic-int8 model asked for cuda runs on the CPU")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, default=8)
    parser.add_argument("--n-jobs", type=int, default=2)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    if not torch.cuda.is_available():
        sys.exit("no CUDA device: run this on a machine with a GPU")
    gpus = torch.cuda.device_count()
    lines.append(f"## GPU check, {torch.cuda.get_device_name(0)} x{gpus}, torch {torch.__version__}\n")

    planned = [r.device for r in plan_resources("auto", None, 2 * gpus)]
    check(planned == [f"cuda:{i % gpus}" for i in range(2 * gpus)], f"plan_resources spreads workers: {planned}")

    data = load_dataset("vision", "digits")
    record = discover().get("model", "small_cnn")
    adam = discover().get("optimizer", "adam")
    runner = TrialRunner(data, make_splits(data, 3, 0)[:1], get_metric(None, data.kind),
                         Candidates((record,), (adam,), ()), seed=0)
    trial = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0)).ask()
    compose(trial, runner.candidates)  # one configuration, drawn as a search would
    torch.cuda.reset_peak_memory_stats()
    reporter = MemoryReporter()
    runner.run(trial.params, reporter, Resources(device="cuda:0"), number=0)
    check(reporter.attrs["resources"]["device"] == "cuda:0", "a runner trial records device cuda:0")
    check(torch.cuda.max_memory_allocated() > 0, f"its fold ran on the GPU ({torch.cuda.max_memory_allocated()} B)")

    with tempfile.TemporaryDirectory() as folder:
        storage = f"sqlite:///{folder}/gpu.db"
        one, _ = search_rate(1, args.trials, storage)
        many, resources = search_rate(args.n_jobs, args.trials, storage)
    devices = {r["worker"]: r["device"] for r in resources}
    check(all(d.startswith("cuda:") for d in devices.values()), f"search trials record CUDA devices: {devices}")
    check(all(devices[w] == f"cuda:{w % gpus}" for w in devices), "each worker index has its round-robin GPU")
    lines.append(f"\n| small_cnn on digits, 3 folds, {args.trials} trials | trials/min |\n|---|---:|\n"
                 f"| n_jobs=1 | {one:.1f} |\n| n_jobs={args.n_jobs} | {many:.1f} |\n")

    try:
        from automl_plugins.nlp import _pretrained, pretrained

        with using_device("cuda:0"):
            vectors = _pretrained.encode(pretrained.default_checkpoint(), ["a fine film", "dull"], 32)
        check(vectors.shape[0] == 2, "sentence_embeddings encodes on the trial's device")
    except ImportError as exc:
        lines.append(f"- skipped: sentence_embeddings ({exc})")

    lifecycle()

    report = "\n".join(lines) + "\n"
    print(report)
    if args.out is not None:
        args.out.write_text(report)
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
