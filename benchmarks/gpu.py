"""Trials per minute of TextCNN-sized trials on one GPU: a naive sequential loop against automl's engine packing
several trials onto the GPU, and batched training of stacked models as a reference.

Every variant runs the *same trial*: one fixed ``textcnn`` configuration (:data:`FULL`), k-fold CV on the same
rows and splits (:func:`automl.cv.make_splits`), the plugin's own featurizer (word ids, vocabulary fitted per
training fold) and module, AdamW at a constant learning rate, the validation rows scored after every epoch. Only
the way trials are run differs:

* **naive**: what a user's first objective looks like: a plain sequential loop, fp32, the rows kept on the host
  and copied to the GPU batch by batch (``DataLoader`` over CPU tensors), one trial after the other;
* **automl, n_jobs=K**: ``automl.search(task="nlp", models=["textcnn"], n_jobs=K, device="cuda")``, the engine's
  real path: K worker processes (the calling one included) share the GPU (:func:`automl.backends.parallel.
  plan_resources` gives every worker ``cuda:0`` on a one-GPU machine), each trial under bf16 autocast with its
  fold's rows moved to the GPU once (:mod:`automl.training`); random sampler, no pruner, SQLite study. The fixed
  configuration reaches the engine as queued trials (``Study.enqueue_trial``), topped up from a thread while the
  search runs so the queue stays short; a trial with other parameters (the queue ran dry) is counted apart;
* **stacked** (reference): ``--stacked`` copies of the module trained as one with ``torch.func`` (``vmap`` over
  ``stack_module_state``), bf16, rows on the GPU; each copy is a trial (its own initial weights).

Each part runs for about ``--seconds``: naive and stacked loop until that much time has passed (the trial running
then finishes); an engine run gets as many trials as the rate measured before it predicts for that time (the first
guessed at 4x naive, each next one scaled linearly from the one before), with a ``timeout`` as a safety net.
Recorded per variant: trials/min,
speed-up against naive, the device memory in use at its peak above the idle level (``torch.cuda.mem_get_info``,
sampled every 0.25 s, all processes), and for the engine three rates: while all K workers were running trials
(the headline: the packed steady state), over the whole trial span, and over the whole call (with starting the
worker processes). Also the trial's work, counted once (``torch.utils.flop_counter`` over one epoch of one fold,
times epochs and folds), and the device name.

``--smoke`` runs the same code paths on the CPU with tiny sizes in seconds (the test suite does). Results go to
stdout as markdown and to ``--json``; ``--write`` puts them in the "GPU trial packing" section of
docs/benchmarks.md (only from a GPU run); ``--from-json FILE --write`` does so from a run made elsewhere (e.g. the
JSON a lent GPU machine left, see scripts/gpu_check.sh).

Run from the repository root: ``.venv/bin/python benchmarks/gpu.py`` (sized for about 5 minutes on one GPU).
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import math
import sys
import tempfile
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import optuna
import pandas as pd
import torch
from automl_plugins.nlp.textcnn import TextCNN

import automl
from automl.cv import make_splits
from automl.datasets import Dataset, load_dataset
from automl.protocols import Problem
from automl.reporter import FAIL_REASON

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _docs import DOCS, machine_line, write_section  # noqa: E402

SECTION = "## GPU trial packing"
#: Line width of the section's paragraphs (that of docs/benchmarks.md).
WIDTH = 118
#: The model plugin every variant builds its featurizer and module with.
TEXTCNN = TextCNN()


@dataclasses.dataclass(frozen=True)
class Sizes:
    """One trial's configuration and the run's sizes."""

    rows: int | None  #: rows of rotten_tomatoes used (``None``: all 12,808)
    folds: int
    max_vocab: int
    dim: int
    filters: int
    kernels: str
    epochs: int
    batch_size: int
    lr: float
    n_jobs: tuple[int, ...]  #: engine workers per run
    stacked: int  #: models trained as one in the stacked variant
    seconds: float  #: time box of each part
    threads: int | None = None  #: torch threads of every process (``None``: the engine's default)

    def params(self) -> dict[str, Any]:
        """The trial's parameters as automl names them (what is queued in the engine's study)."""
        model = {"max_vocab": self.max_vocab, "dim": self.dim, "kernels": self.kernels, "filters": self.filters,
                 "epochs": self.epochs, "batch_size": self.batch_size}
        return {"model": "textcnn", **{f"model.textcnn.{k}": v for k, v in model.items()}, "optimizer": "adamw",
                "optimizer.adamw.lr": self.lr, "optimizer.adamw.schedule": "constant", "regularizer.dropout": False}

    def model_params(self) -> dict[str, Any]:
        """The ``textcnn`` plugin's own parameters."""
        prefix = "model.textcnn."
        return {k[len(prefix):]: v for k, v in self.params().items() if k.startswith(prefix)}


#: A mid-range draw of textcnn's space on the default 12,808 snippets, 5-fold: about 2.3 TFLOP a trial, the size of
#: the GPU figures the issue quotes (64 filters counted 1.88 TFLOP on the CPU).
FULL = Sizes(rows=None, folds=5, max_vocab=8000, dim=64, filters=78, kernels="3-4-5", epochs=3, batch_size=64,
             lr=2e-3, n_jobs=(1, 4, 8, 16), stacked=32, seconds=30.0)
#: The same paths on the CPU in seconds (the smallest values textcnn's space allows).
SMOKE = Sizes(rows=240, folds=2, max_vocab=2000, dim=32, filters=32, kernels="1-2-3", epochs=2, batch_size=64,
              lr=2e-3, n_jobs=(1, 2), stacked=2, seconds=0.5, threads=1)


def log(message: str) -> None:
    """A progress line on stderr."""
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# --- the trial's pieces, shared by the in-process variants -----------------------------------------------------


@dataclasses.dataclass
class Fold:
    """One fold featurized as the plugin does it: token ids (host arrays) and labels."""

    X_train: np.ndarray
    y_train: np.ndarray
    X_valid: np.ndarray
    y_valid: np.ndarray
    problem: Problem


def featurize(data: Dataset, train: np.ndarray, valid: np.ndarray, sizes: Sizes, seed: int) -> Fold:
    """Fit the plugin's featurizer on the training rows of one fold, transform both sides."""
    featurizer = TEXTCNN.featurizer(sizes.model_params()).fit(data.X[train])
    X_train, X_valid = featurizer.transform(data.X[train]), featurizer.transform(data.X[valid])
    problem = Problem(task="nlp", kind="classification", n_outputs=data.n_outputs, input_shape=X_train.shape[1:],
                      featurizer=featurizer, seed=seed)
    return Fold(X_train, data.y[train], X_valid, data.y[valid], problem)


def build(fold: Fold, sizes: Sizes, seed: int) -> torch.nn.Module:
    """The plugin's module for ``fold``, initialized from ``seed``."""
    torch.manual_seed(seed)
    return TEXTCNN.build(sizes.model_params(), fold.problem)


def naive_trial(data: Dataset, splits: list, sizes: Sizes, device: torch.device, seed: int) -> float:
    """One trial as a first hand-written objective runs it: fp32, host rows copied batch by batch. Returns the
    mean of the folds' last-epoch validation accuracy."""
    from torch.utils.data import DataLoader, TensorDataset

    scores = []
    for fold_index, (train, valid) in enumerate(splits):
        fold = featurize(data, train, valid, sizes, seed + fold_index)
        module = build(fold, sizes, seed + fold_index).to(device)
        optimizer = torch.optim.AdamW(module.parameters(), lr=sizes.lr, weight_decay=0.0)
        train_rows = TensorDataset(torch.as_tensor(fold.X_train), torch.as_tensor(fold.y_train, dtype=torch.long))
        loader = DataLoader(train_rows, batch_size=sizes.batch_size, shuffle=True)
        valid_rows = DataLoader(TensorDataset(torch.as_tensor(fold.X_valid)), batch_size=2048)
        for _ in range(sizes.epochs):
            module.train()
            for X_batch, y_batch in loader:
                loss = torch.nn.functional.cross_entropy(module(X_batch.to(device)), y_batch.to(device))
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
            module.eval()
            with torch.no_grad():  # the epoch's validation score, as a pruned objective would report it
                predicted = torch.cat([module(X.to(device)).argmax(1).cpu() for (X,) in valid_rows]).numpy()
        scores.append(float((predicted == fold.y_valid).mean()))
    return float(np.mean(scores))


def stacked_trials(data: Dataset, splits: list, sizes: Sizes, device: torch.device, seed: int) -> list[float]:
    """``sizes.stacked`` trials trained as one (``torch.func.vmap`` over stacked weights), bf16 on CUDA, rows on the
    device. Each model has its own initial weights; all see the same batches. Returns each model's mean score."""
    from torch.func import functional_call, stack_module_state, vmap

    autocast = torch.autocast(device.type, dtype=torch.bfloat16, enabled=device.type == "cuda")
    scores = np.zeros((sizes.stacked, len(splits)))
    for fold_index, (train, valid) in enumerate(splits):
        fold = featurize(data, train, valid, sizes, seed + fold_index)
        modules = [build(fold, sizes, seed + 1000 * m + fold_index).to(device) for m in range(sizes.stacked)]
        params, buffers = stack_module_state(modules)
        base = modules[0].to("meta")

        def call(p: dict[str, torch.Tensor], b: dict[str, torch.Tensor], X: torch.Tensor,
                 base: torch.nn.Module = base) -> torch.Tensor:
            return functional_call(base, (p, b), (X,))

        forward = vmap(call, in_dims=(0, 0, None), randomness="different")
        optimizer = torch.optim.AdamW(params.values(), lr=sizes.lr, weight_decay=0.0)  # per element: per model
        X, y = torch.as_tensor(fold.X_train, device=device), torch.as_tensor(fold.y_train, device=device)
        Xv = torch.as_tensor(fold.X_valid, device=device)
        yv = torch.as_tensor(fold.y_valid, device=device)
        generator = torch.Generator(device=device).manual_seed(seed + fold_index)
        for _ in range(sizes.epochs):
            base.train()
            order = torch.randperm(len(X), generator=generator, device=device)
            for start in range(0, len(X), sizes.batch_size):
                batch = order[start:start + sizes.batch_size]
                with autocast:
                    logits = forward(params, buffers, X[batch]).float()  # (models, batch, classes)
                # the sum of the models' mean losses: each model's gradient is its own loss's
                loss = torch.nn.functional.cross_entropy(logits.flatten(0, 1), y[batch].repeat(sizes.stacked),
                                                         reduction="sum") / len(batch)
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
            base.eval()
            with torch.no_grad(), autocast:
                predicted = torch.cat([forward(params, buffers, Xv[i:i + 2048]).argmax(2)
                                       for i in range(0, len(Xv), 2048)], dim=1)
        scores[:, fold_index] = (predicted == yv).float().mean(dim=1).cpu().numpy()
    return scores.mean(axis=1).tolist()


def trial_flops(data: Dataset, splits: list, sizes: Sizes, device: torch.device) -> float:
    """Floating-point operations of one trial: one training epoch of the first fold counted
    (``torch.utils.flop_counter``), times epochs and folds, plus the validation passes."""
    from torch.utils.flop_counter import FlopCounterMode

    train, valid = splits[0]
    fold = featurize(data, train, valid, sizes, 0)
    module = build(fold, sizes, 0).to(device)
    optimizer = torch.optim.AdamW(module.parameters(), lr=sizes.lr)
    X, y = torch.as_tensor(fold.X_train, device=device), torch.as_tensor(fold.y_train, device=device)
    with FlopCounterMode(display=False) as counter:
        for start in range(0, len(X), sizes.batch_size):
            loss = torch.nn.functional.cross_entropy(module(X[start:start + sizes.batch_size]),
                                                     y[start:start + sizes.batch_size])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    epoch = counter.get_total_flops()
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        module(torch.as_tensor(fold.X_valid, device=device))
    return float((epoch + counter.get_total_flops()) * sizes.epochs * len(splits))


# --- measuring -------------------------------------------------------------------------------------------------


class MemoryPeak:
    """Peak device memory in use (all processes) above the level at the start, sampled every 0.25 s
    (``torch.cuda.mem_get_info``); ``None`` on the CPU."""

    def __init__(self, device: torch.device) -> None:
        self.cuda = device.type == "cuda"
        self.index = device.index or 0
        self.peak: float | None = None
        self._stop = threading.Event()

    def _used(self) -> int:
        free, total = torch.cuda.mem_get_info(self.index)
        return total - free

    def _sample(self, idle: int) -> None:
        peak = 0
        while not self._stop.wait(0.25):
            peak = max(peak, self._used() - idle)
        self.peak = max(peak, self._used() - idle) / 2**30

    @contextlib.contextmanager
    def watching(self) -> Iterator[MemoryPeak]:
        """Sample while the block runs; :attr:`peak` (GiB) is set when it ends."""
        if not self.cuda:
            yield self
            return
        torch.cuda.empty_cache()
        sampler = threading.Thread(target=self._sample, args=(self._used(),), daemon=True)
        sampler.start()
        try:
            yield self
        finally:
            self._stop.set()
            sampler.join()


def timed_loop(run_once: Callable[[], int], seconds: float) -> tuple[int, float]:
    """Call ``run_once`` (returning the trials it finished) until ``seconds`` have passed, at least once. Returns
    the trials and the elapsed seconds."""
    start, trials = time.perf_counter(), 0
    while True:
        trials += run_once()
        elapsed = time.perf_counter() - start
        if elapsed >= seconds:
            return trials, elapsed


def engine_rates(trials: list[optuna.trial.FrozenTrial]) -> dict[str, float]:
    """Trials/min of finished engine trials: over the span (first start to last finish), and while every worker
    was running trials (latest first start to earliest last finish among the workers; the span when that window
    is under a quarter of it)."""
    if not trials:
        return {"span": 0.0, "packed": 0.0, "span_s": 0.0}
    starts = [t.datetime_start.timestamp() for t in trials]
    ends = [t.datetime_complete.timestamp() for t in trials]
    span = max(ends) - min(starts)
    by_worker: dict[Any, list[int]] = {}
    for i, t in enumerate(trials):
        by_worker.setdefault(t.user_attrs.get("resources", {}).get("worker"), []).append(i)
    low = max(min(starts[i] for i in rows) for rows in by_worker.values())
    high = min(max(ends[i] for i in rows) for rows in by_worker.values())
    rate = 60 * len(trials) / span if span > 0 else 0.0
    packed = rate
    if high - low >= span / 4 and high > low:
        inside = sum(low < end <= high for end in ends)
        packed = 60 * inside / (high - low)
    return {"span": rate, "packed": packed, "span_s": span}


@contextlib.contextmanager
def feeding(name: str, storage: str, params: dict[str, Any], depth: int) -> Iterator[None]:
    """Keep ``depth`` trials of ``params`` queued in the study ``name`` while the block runs (a thread)."""
    study = automl.load_study(name, storage)
    stop = threading.Event()

    def top_up() -> None:
        while True:
            waiting = len(study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.WAITING,)))
            for _ in range(depth - waiting):
                study.enqueue_trial(params)
            if stop.wait(0.5):
                return

    for _ in range(depth):  # the first batch, before any worker starts
        study.enqueue_trial(params)
    feeder = threading.Thread(target=top_up, daemon=True)
    feeder.start()
    try:
        yield
    finally:
        stop.set()
        feeder.join()


def engine_options(sizes: Sizes, data_arg: str | None, device: str, folder: Path) -> dict[str, Any]:
    """The ``automl.search`` arguments of every engine run: one study, created by a first one-trial search (its
    trial, a random configuration, also starts CUDA in this process)."""
    options: dict[str, Any] = {"data": data_arg, "models": ["textcnn"], "optimizers": ["adamw"],
                               "regularizers": ["dropout"], "folds": sizes.folds, "seed": 0, "sampler": "random",
                               "pruner": "none", "device": device, "storage": f"sqlite:///{folder / 'pack.db'}",
                               "study": "pack", "threads": sizes.threads}
    automl.search("nlp", n_trials=1, **options)
    return options


def engine_run(k: int, options: dict[str, Any], sizes: Sizes, expected: float) -> dict[str, Any]:
    """Add trials of the fixed configuration to the engine's study through ``automl.search`` with ``k`` workers,
    as many as last about ``sizes.seconds`` at ``expected`` trials/min (an estimate; ``1.5 * seconds + 30`` is the
    search's ``timeout``, a safety net)."""
    study = automl.load_study(options["study"], options["storage"])
    counted = sum(t.state.is_finished() and t.state != optuna.trial.TrialState.FAIL for t in study.trials)
    wanted = max(2 * k, math.ceil(expected * sizes.seconds / 60))
    params = sizes.params()
    began = datetime.now()  # the storage's trial times are naive local times
    start = time.perf_counter()
    with feeding(options["study"], options["storage"], params, depth=2 * k + 4):
        result = automl.search("nlp", n_trials=counted + wanted, timeout=1.5 * sizes.seconds + 30, n_jobs=k, **options)
    call = time.perf_counter() - start
    ran = [t for t in result.study.trials if t.datetime_start is not None and t.datetime_start >= began]
    done = [t for t in ran if t.state == optuna.trial.TrialState.COMPLETE]
    fixed = [t for t in done if t.params == params]
    rates = engine_rates(fixed)
    workers = {t.user_attrs["resources"]["worker"]: t.user_attrs["resources"]["device"] for t in fixed}
    failed = [t.user_attrs.get(FAIL_REASON, "") for t in ran if t.state == optuna.trial.TrialState.FAIL]
    return {"trials": len(fixed), "other_trials": len(done) - len(fixed), "failed": len(failed),
            "fail_reason": failed[0] if failed else None, "call_s": call,
            "span_s": rates["span_s"],
            "per_min": rates["packed"], "per_min_span": rates["span"], "per_min_call": 60 * len(fixed) / call,
            "workers": len(workers), "devices": sorted(set(workers.values())),
            "score": float(np.mean([t.value for t in fixed])) if fixed else None}


# --- the run ---------------------------------------------------------------------------------------------------


def prepare_data(sizes: Sizes, folder: Path) -> tuple[str | None, Dataset]:
    """The data argument of ``automl.search`` and the dataset it loads: the built-in default, or (``rows``) a CSV of
    its first rows."""
    if sizes.rows is None:
        return None, load_dataset("nlp")
    full = load_dataset("nlp")
    path = folder / "snippets.csv"
    labels = np.asarray(full.classes)[full.y[: sizes.rows]]
    pd.DataFrame({"text": full.X[: sizes.rows], "label": labels}).to_csv(path, index=False)
    return str(path), load_dataset("nlp", str(path))


def machine(device: torch.device) -> dict[str, Any]:
    """What the figures were measured on."""
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "the CPU"
    return {"device": name, "device_type": device.type, "line": machine_line(("automl", "optuna", "torch"))}


def _rate(report: dict[str, Any], name: str, default: float) -> float:
    """The trials/min measured for variant ``name``, or ``default`` (not measured, failed, or none done)."""
    found = next((v.get("per_min") for v in report["variants"] if v["name"] == name), None)
    return found or default


def measure(sizes: Sizes, device: torch.device, out: Path | None, command: str) -> dict[str, Any]:
    """Run every part; the results so far are written to ``out`` after each (a part that fails is recorded with
    its error, and the others still run)."""
    report: dict[str, Any] = {"command": command, "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
                              "machine": machine(device), "sizes": dataclasses.asdict(sizes), "variants": []}
    started = time.perf_counter()
    if sizes.threads is not None:
        torch.set_num_threads(sizes.threads)

    def save() -> None:
        report["total_s"] = round(time.perf_counter() - started, 1)
        base = next((v["per_min"] for v in report["variants"] if v["name"] == "naive" and "per_min" in v), None)
        for variant in report["variants"]:
            if "per_min" in variant and base:
                variant["speedup"] = variant["per_min"] / base
        if out is not None:
            out.write_text(json.dumps(report, indent=1) + "\n")

    def part(name: str, body: Callable[[], dict[str, Any]]) -> None:
        log(f"{name} ...")
        try:
            with MemoryPeak(device).watching() as memory:
                row = body()
            row["memory_gib"] = memory.peak
        except Exception as exc:  # noqa: BLE001 - one failing part must not lose the others' figures
            row = {"error": f"{type(exc).__name__}: {exc}"}
            log(f"{name} failed: {row['error']}")
        report["variants"].append({"name": name, **row})
        if "per_min" in row:
            log(f"{name}: {row['trials']} trials, {row['per_min']:.1f} trials/min")
        save()

    with tempfile.TemporaryDirectory(prefix="automl-gpu-") as tmp:
        folder = Path(tmp)
        data_arg, data = prepare_data(sizes, folder)
        splits = make_splits(data, sizes.folds, 0)
        log(f"{len(data)} rows, {sizes.folds} folds, on {report['machine']['device']}")
        if device.type == "cuda":
            torch.zeros(1, device=device)  # the CUDA context, outside every timed part
        report["trial_tflop"] = trial_flops(data, splits, sizes, device) / 1e12  # also warms the kernels up
        log(f"one trial: {report['trial_tflop']:.2f} TFLOP")

        def loop(trial: Callable[[int], list[float]]) -> dict[str, Any]:
            scores: list[float] = []

            def once() -> int:
                done = trial(1000 * len(scores))
                scores.extend(done)
                return len(done)

            trials, elapsed = timed_loop(once, sizes.seconds)
            return {"trials": trials, "seconds": elapsed, "per_min": 60 * trials / elapsed,
                    "score": float(np.mean(scores))}

        def naive() -> dict[str, Any]:
            return loop(lambda seed: [naive_trial(data, splits, sizes, device, seed)])

        def stacked() -> dict[str, Any]:
            return loop(lambda seed: stacked_trials(data, splits, sizes, device, seed))

        options: dict[str, Any] = {}

        def engine(k: int, expected: float) -> dict[str, Any]:
            if not options:  # the first engine part creates the study (a failure there fails that part)
                log("engine: creating its study ...")
                options.update(engine_options(sizes, data_arg, device.type, folder))
            return engine_run(k, options, sizes, expected)

        part("naive", naive)
        # the engine's rate scales at most linearly with its workers; its first run is guessed at 4x naive
        expected, workers = 4 * _rate(report, "naive", default=10.0), 1
        for k in sizes.n_jobs:
            expected *= k / workers
            part(f"automl n_jobs={k}", lambda k=k, e=expected: engine(k, e))
            expected, workers = _rate(report, f"automl n_jobs={k}", default=expected), k
        part(f"stacked x{sizes.stacked}", stacked)
    return report


# --- the report ------------------------------------------------------------------------------------------------


def _cell(value: Any, fmt: str, unit: str = "") -> str:
    return "–" if value is None else format(value, fmt) + unit


def markdown(report: dict[str, Any]) -> str:
    """The body of the "GPU trial packing" section of docs/benchmarks.md."""
    m, s = report["machine"], report["sizes"]
    data = "the 12,808 rotten_tomatoes snippets" if s["rows"] is None else f"{s['rows']} rotten_tomatoes snippets"
    rows = ["| variant | trials | trials/min | speed-up vs naive | mean CV accuracy | device memory GiB | note |",
            "|---|---:|---:|---:|---:|---:|---|"]
    for v in report["variants"]:
        if "error" in v:
            rows.append(f"| {v['name']} | – | – | – | – | – | failed: {v['error'][:160]} |")
            continue
        note = ""
        if "per_min_call" in v:
            note = (f"over the span {v['per_min_span']:.1f}/min, the whole call {v['per_min_call']:.1f}/min "
                    f"({v['call_s']:.0f} s); {v['workers']} workers on {', '.join(v['devices'])}")
            if v["other_trials"]:
                note += f"; {v['other_trials']} trials of other configurations not counted"
            if v["failed"]:
                note += f"; {v['failed']} trials failed (the first: {v['fail_reason'][:100]})"
        rows.append(f"| {v['name']} | {v['trials']} | {v['per_min']:.1f} | {_cell(v.get('speedup'), '.1f', 'x')} | "
                    f"{_cell(v.get('score'), '.4f')} | {_cell(v.get('memory_gib'), '.2f')} | {note} |")
    ranked = sorted((v for v in report["variants"] if v.get("speedup")), key=lambda v: v["speedup"])
    best = (f"Fastest: {ranked[-1]['name']}, {ranked[-1]['speedup']:.1f}x naive (the issue's goal: 25x)."
            if ranked else "No variant finished.")
    run = f"`{report['command']}`, {report['date']}, on {m['device']} ({m['line']}); {report['total_s']:.0f} s in all."
    trial = (f"One trial: `textcnn` (dim {s['dim']}, {s['filters']} filters of widths {s['kernels']}, vocabulary "
             f"{s['max_vocab']:,}, {s['epochs']} epochs, batch {s['batch_size']}, AdamW lr {s['lr']}) in {s['folds']}-"
             f"fold CV on {data}, {report['trial_tflop']:.2f} TFLOP (counted); each part ran for about "
             f"{s['seconds']:.0f} s. *naive*: a sequential fp32 loop, rows copied from the host batch by batch; "
             "*automl n_jobs=K*: `automl.search` with K worker processes on the GPU (bf16, each fold's rows moved to "
             "the device once, random sampler, no pruner, SQLite study), trials/min while all K workers ran trials; "
             "*stacked xM*: M copies of the module trained as one with `torch.func.vmap` (bf16, rows on the device). "
             "Memory: device memory in use at the peak above the idle level, all processes.")
    paragraphs = [textwrap.fill(p, WIDTH, break_long_words=False, break_on_hyphens=False) for p in (run, trial)]
    return "\n".join([paragraphs[0], "", paragraphs[1], "", *rows, "", best])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--smoke", action="store_true", help="tiny sizes on the CPU (seconds)")
    parser.add_argument("--device", default="cuda", help="torch device (default cuda; --smoke uses cpu)")
    parser.add_argument("--seconds", type=float, default=None, help="time box of each part")
    parser.add_argument("--n-jobs", default=None, help="engine workers per run, comma-separated (default 1,4,8,16)")
    parser.add_argument("--stacked", type=int, default=None, help="models of the stacked variant (default 32)")
    parser.add_argument("--json", type=Path, default=None, help="write the results here (after every part)")
    parser.add_argument("--write", action="store_true", help="update the section of docs/benchmarks.md")
    parser.add_argument("--docs", type=Path, default=DOCS, help=argparse.SUPPRESS)
    parser.add_argument("--from-json", type=Path, default=None, help="report (and --write) a run made elsewhere")
    args = parser.parse_args()
    if args.from_json is not None:
        report = json.loads(args.from_json.read_text())
    else:
        sizes = SMOKE if args.smoke else FULL
        changes: dict[str, Any] = {}
        if args.seconds is not None:
            changes["seconds"] = args.seconds
        if args.n_jobs is not None:
            changes["n_jobs"] = tuple(int(k) for k in args.n_jobs.split(","))
        if args.stacked is not None:
            changes["stacked"] = args.stacked
        sizes = dataclasses.replace(sizes, **changes)
        device = torch.device("cpu" if args.smoke else args.device)
        if device.type == "cuda" and not torch.cuda.is_available():
            sys.exit("error: no CUDA device: run this on a machine with a GPU, or with --smoke on the CPU")
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        shown = [a for i, a in enumerate(sys.argv[1:]) if "--json" not in (a, sys.argv[i])]  # where it wrote: not shown
        command = " ".join(["python", "benchmarks/gpu.py", *shown])
        report = measure(sizes, device, args.json, command)
    body = markdown(report)
    print(f"{SECTION}\n\n{body}")
    if args.write:
        if report["machine"]["device_type"] != "cuda":
            sys.exit("error: --write records GPU runs only; this one ran on the CPU")
        write_section(SECTION, body, args.docs)


if __name__ == "__main__":
    main()
