"""The same searches under each pruner, side by side: wall time, best CV score, trials pruned, folds fitted.

For each seed and task, one search per pruner (``none``, ``median``, ``percentile``, ``wilcoxon``, ``hyperband``),
one after the other in this process, each into its own fresh SQLite study, with the task's default models (tabular
``breast_cancer``: every default model, the torch ``mlp`` included; nlp: the default ``rotten_tomatoes`` space),
the TPE sampler, a fixed ``--n-trials`` and the seed. The pruners' order rotates with the seed, so that load drift
on a shared machine does not always hit the same one. Per search:

* **wall**: wall time of its ``automl.search`` call;
* **best**: the study's best mean CV score (accuracy);
* **pruned**: trials pruned, of ``n_trials``;
* **folds**: folds fitted over all trials (``fold_scores`` of every trial), the work pruning saved;
* **reports**: intermediate values written per trial (each is a study write).

``--replay DB`` measures the pruners' decisions alone, without running searches: it takes the complete trials of
the study ``bench`` in the SQLite file ``DB`` (a search run with ``--pruner none``, so every trial has all its fold
scores and fit seconds) and feeds their fold scores, in trial order, to each pruner through the same
:class:`~automl.cv.FoldReporter` the runner uses, in an in-memory study. Per pruner: trials pruned, fold fit
seconds spent (of the recorded total), and the best CV score kept. This is deterministic and needs little CPU
(the recorded fits are not redone), so it holds on a loaded machine; what it leaves out: the sampler's reaction to
pruned trials, and epoch-level reports of torch trials (a ``none`` search records fold ends only), which
understates what ``median``/``percentile`` save on ``mlp`` trials.

Run from the repository root: ``.venv/bin/python benchmarks/pruners.py`` (results: docs/benchmarks.md), or
``.venv/bin/automl search --task tabular --pruner none --n-trials 20 --seed 0 --storage sqlite:///t.db --study
bench`` and then ``.venv/bin/python benchmarks/pruners.py --replay t.db``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import optuna
from optuna.trial import TrialState

import automl
from automl.backends.optuna_backend import OptunaReporter
from automl.cv import FoldReporter
from automl.exceptions import TrialStopped
from automl.metrics import get_metric
from automl.samplers import PRUNERS, make_pruner, reporting

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _docs import machine_line  # noqa: E402

TASKS = ("tabular", "nlp")


def run_one(task: str, pruner: str, seed: int, n_trials: int, folder: Path) -> dict[str, float]:
    """One search of ``task`` under ``pruner``; its measures."""
    storage = f"sqlite:///{folder / f'{task}-{pruner}-{seed}.db'}"
    start = time.perf_counter()
    result = automl.search(task, n_trials=n_trials, seed=seed, pruner=pruner, study="bench", storage=storage)
    wall = time.perf_counter() - start
    trials = result.study.trials
    return {
        "wall": wall,
        "best": result.study.best_value,
        "pruned": sum(t.state == TrialState.PRUNED for t in trials),
        "failed": sum(t.state == TrialState.FAIL for t in trials),
        "folds": sum(len(t.user_attrs.get("fold_scores", [])) for t in trials),
        "reports": statistics.mean(len(t.intermediate_values) for t in trials),
    }


def replay(recorded: list[optuna.trial.FrozenTrial], pruner: str) -> dict[str, float]:
    """Feed the fold scores of ``recorded`` (complete trials, in order) to ``pruner``; what it would have spent.
    (The study's name is fixed: Hyperband assigns trials to brackets by a hash of it and the trial number.)"""
    folds = len(recorded[0].user_attrs["fold_scores"])
    study = optuna.create_study(study_name="replay", direction="maximize", pruner=make_pruner(pruner, folds))
    spent, pruned = 0.0, 0
    for frozen in recorded:
        scores, seconds = frozen.user_attrs["fold_scores"], frozen.user_attrs["fit_seconds"]
        trial = study.ask()
        reporter = FoldReporter(OptunaReporter(trial), get_metric(None, "classification"), reporting(pruner))
        try:
            for fold, score in enumerate(scores):
                spent += seconds[fold]
                reporter.fold_done(fold, score)
        except TrialStopped:
            pruned += 1
            study.tell(trial, state=TrialState.PRUNED)
        else:
            study.tell(trial, sum(scores) / len(scores))
    total = sum(sum(t.user_attrs["fit_seconds"]) for t in recorded)
    return {"pruned": pruned, "fit_s": spent, "fit_share": spent / total, "best": study.best_value}


def main_replay(path: Path, pruners: list[str]) -> None:
    """Replay the study ``bench`` in ``path`` under each pruner and print a table."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.load_study(study_name="bench", storage=f"sqlite:///{path}")
    recorded = sorted(study.get_trials(states=(TrialState.COMPLETE,)), key=lambda t: t.number)
    models = sorted({key.split(".")[1] for t in recorded for key in t.params if key.startswith("model.")})
    print(f"# replay of {len(recorded)} complete trials of {path.name} ({', '.join(models)}); "
          f"best {max(t.value for t in recorded):.4f}")
    print("\n| pruner | pruned | fold fit s spent | share of `none` | best CV kept |")
    print("|---|---|---|---|---|")
    for pruner in pruners:
        row = replay(recorded, pruner)
        print(f"| {pruner} | {row['pruned']} | {row['fit_s']:.1f} | {row['fit_share']:.0%} | {row['best']:.4f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", default=",".join(TASKS))
    parser.add_argument("--pruners", default=",".join(PRUNERS))
    parser.add_argument("--n-trials", type=int, default=20)
    parser.add_argument("--seeds", default="0,1")
    parser.add_argument("--json", type=Path, help="also write every measurement here")
    parser.add_argument("--replay", type=Path, help="replay the complete trials of study 'bench' in this SQLite file")
    args = parser.parse_args()
    tasks, pruners = args.tasks.split(","), args.pruners.split(",")
    if args.replay:
        main_replay(args.replay, pruners)
        return
    seeds = [int(s) for s in args.seeds.split(",")]
    print(f"# {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC, {machine_line(('automl', 'optuna'))}, "
          f"n_trials={args.n_trials}, seeds={seeds}", flush=True)
    rows: list[dict[str, object]] = []
    with tempfile.TemporaryDirectory(prefix="automl-pruners-") as tmp:
        for seed in seeds:
            order = pruners[seed % len(pruners):] + pruners[:seed % len(pruners)]
            for task in tasks:
                for pruner in order:
                    row = {"task": task, "pruner": pruner, "seed": seed,
                           **run_one(task, pruner, seed, args.n_trials, Path(tmp))}
                    rows.append(row)
                    print(json.dumps(row), flush=True)
                    if args.json:
                        args.json.write_text(json.dumps(rows, indent=1))
    print("\n| task | pruner | wall s (per seed) | best CV (per seed) | pruned | folds fitted | reports/trial |")
    print("|---|---|---|---|---|---|---|")
    for task in tasks:
        for pruner in pruners:
            mine = [r for r in rows if r["task"] == task and r["pruner"] == pruner]

            def cells(key: str, form: str, mine: list[dict[str, object]] = mine) -> str:
                return ", ".join(format(r[key], form) for r in mine)

            print(f"| {task} | {pruner} | {cells('wall', '.0f')} | {cells('best', '.4f')} | {cells('pruned', 'd')} | "
                  f"{cells('folds', 'd')} | {cells('reports', '.1f')} |")

if __name__ == "__main__":
    main()
