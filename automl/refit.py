"""From a study to a model: refit a trial's configuration on all the study's search rows.

:func:`refit` reads what the study was created for (task, where its data comes from, its fingerprint, metric,
folds, seed, holdout, plugins), loads the data again and checks it is the same, sets the same held-out rows aside,
and fits the chosen trial's configuration (the best by default) on the remaining rows with the installed plugins
(refused when their versions differ from the study's). The fit is seeded with the trial's seed (the study's seed
plus 1000 times the trial number, as its folds were), so two refits of a trial give the same model.
:func:`score_holdout` does the same right after a search and stores the held-out score on the study.
"""

from __future__ import annotations

import platform
from pathlib import Path
from typing import Any

import optuna
from optuna.trial import TrialState

from automl import __version__
from automl.datasets import Dataset
from automl.devices import resolve_device
from automl.exceptions import ConfigError, StudyMismatchError
from automl.holdout import ATTR as HOLDOUT_ATTR
from automl.holdout import split_holdout
from automl.job import DataRef, Workload
from automl.metrics import Metric, get_metric
from automl.model import FittedModel, Model, fit
from automl.registry import PluginRecord, Registry, discover
from automl.schema import schema_of, write_rows
from automl.space import Candidates, Config, configure
from automl.study import spec_of

__all__ = ["choose_trial", "refit", "score_holdout", "study_rows", "write_holdout"]


def study_rows(ref: dict[str, Any], fingerprint: str, holdout: str, seed: int) -> tuple[Dataset, Dataset | None]:
    """A study's data read again from ``ref`` (:class:`~automl.job.DataRef` fields), checked against its
    ``fingerprint``: ``(search rows, held-out rows or None)``, split as the study's ``holdout`` and ``seed`` say."""
    full = DataRef(**ref).load()
    if full.fingerprint != fingerprint:
        raise StudyMismatchError(f"the data ({ref.get('data') or 'default'}) changed since the study: fingerprint "
                                 f"{full.fingerprint}, the study's {fingerprint}")
    if not holdout:
        return full, None
    rows, held_out, identity = split_holdout(full, float(holdout.partition(":")[0]), seed)
    if identity != holdout:
        raise StudyMismatchError(f"the held-out rows come out differently here ({identity}, the study's {holdout}: "
                                 "scikit-learn version?)")
    return rows, held_out


def choose_trial(study: optuna.Study, number: int | None) -> optuna.trial.FrozenTrial:
    """Trial ``number`` of ``study`` (complete), or its best trial; a multi-objective study needs a number (one of
    its Pareto-optimal trials, say)."""
    if number is None:
        if len(study.directions) > 1:
            front = ", ".join(str(t.number) for t in study.best_trials)
            raise ConfigError(f"study {study.study_name!r} has several objectives: choose a trial with --trial "
                              f"(the Pareto front: {front or 'empty'})")
        try:
            return study.best_trial
        except ValueError as exc:
            raise ConfigError(f"study {study.study_name!r} has no complete trial to refit") from exc
    trials = {t.number: t for t in study.get_trials(deepcopy=False)}
    if number not in trials:
        raise ConfigError(f"study {study.study_name!r} has no trial {number} (trials 0..{len(trials) - 1})")
    if trials[number].state != TrialState.COMPLETE:
        raise ConfigError(f"trial {number} of study {study.study_name!r} is {trials[number].state.name.lower()}, "
                          "not complete: it has no score to stand on")
    return trials[number]


def _plugins(spec: dict[str, Any], registry: Registry, kind: str, group: str) -> tuple[PluginRecord, ...]:
    records = []
    for name, origin in spec["space"].get(group, {}).items():
        record = registry.get(kind, name)
        if record.origin != origin:
            raise StudyMismatchError(f"the study was searched with the {kind} plugin {name!r} from {origin}, but "
                                     f"{record.origin} is installed; install that version to refit it")
        records.append(record)
    return tuple(records)


def _card(study: optuna.Study, trial: optuna.trial.FrozenTrial, config: Config, fitted: FittedModel,
          rows: Dataset, metric: Metric, spec: dict[str, Any]) -> dict[str, Any]:
    import sklearn
    import torch

    def plugin(record: PluginRecord | None) -> dict[str, str] | None:
        return None if record is None else {"name": record.name, "origin": record.origin, "entry_point": record.value}

    trained = fitted.trained
    return {
        "study": study.study_name, "trial": trial.number, "params": trial.params,
        "metric": {"name": metric.name, "direction": metric.direction},
        "scores": {"cv": trial.values[0], "cv_std": trial.user_attrs.get("cv_std"),
                   "fold_scores": trial.user_attrs.get("fold_scores"), "folds": spec["folds"], "holdout": None},
        "costs": trial.user_attrs.get("costs"),
        "data": {"name": rows.name, "source": rows.source, "fingerprint": spec["fingerprint"], "ref": spec["data"],
                 "holdout": spec.get("holdout", ""), "seed": spec["seed"], "fitted_rows": len(rows)},
        "task": rows.task, "kind": rows.kind, "classes": list(rows.classes) if rows.classes else None,
        "schema": schema_of(rows),
        "problem": {"n_outputs": fitted.problem.n_outputs, "input_shape": list(fitted.problem.input_shape),
                    "seed": fitted.problem.seed},
        "torch": None if trained is None else {"y_mean": trained.y_mean, "y_std": trained.y_std},
        "plugins": {"model": plugin(config.model), "optimizer": plugin(config.optimizer),
                    "regularizers": [plugin(record) for record, _ in config.regularizers]},
        "compression": None,
        "versions": {"automl": __version__, "optuna": optuna.__version__, "scikit-learn": sklearn.__version__,
                     "torch": torch.__version__, "python": platform.python_version()},
    }


def _fit_trial(spec: dict[str, Any], trial: optuna.trial.FrozenTrial, cands: Candidates, rows: Dataset,
               device: str) -> tuple[Config, FittedModel]:
    config = configure(trial.params, cands)
    torch_device = resolve_device(device) if config.model.plugin.family == "torch" else None
    fitted, _ = fit(config, rows.X, rows.y, task=rows.task, kind=rows.kind, n_outputs=rows.n_outputs,
                    seed=spec["seed"] + 1000 * trial.number, device=torch_device)
    return config, fitted


def score_holdout(study: optuna.Study, workload: Workload, *, device: str = "auto") -> dict[str, Any] | None:
    """Refit the best trial of ``study`` on the workload's search rows, score it on its held-out rows, store
    ``{"trial", "score", "rows"}`` on the study (:data:`automl.holdout.ATTR`) and return it; nothing when the
    study has no complete trial or the stored score is already the best trial's."""
    assert workload.held_out is not None, "a workload without a holdout has nothing to score"
    if len(study.directions) > 1 or not study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)):
        return None
    best = study.best_trial
    stored = study.user_attrs.get(HOLDOUT_ATTR)
    if stored and stored.get("trial") == best.number:
        return stored
    _, fitted = _fit_trial(spec_of(study), best, workload.candidates, workload.dataset, device)
    record = {"trial": best.number, "score": fitted.score(workload.held_out.X, workload.held_out.y, workload.metric),
              "rows": len(workload.held_out)}
    study.set_user_attr(HOLDOUT_ATTR, record)
    return record


def refit(study: optuna.Study, *, trial: int | None = None, out: str | Path | None = None, device: str = "auto",
          registry: Registry | None = None) -> Model:
    """Fit trial ``trial`` (default: the best) of ``study`` on all the study's search rows and return the
    :class:`~automl.model.Model`; with ``out``, also write it there as a model directory
    (:func:`automl.artifacts.save_model`)."""
    spec = spec_of(study)
    if not spec.get("data"):
        raise ConfigError(f"study {study.study_name!r} does not record where its data comes from (it was made by "
                          "an older automl); it cannot be refitted")
    chosen = choose_trial(study, trial)
    rows, held_out = study_rows(spec["data"], spec["fingerprint"], spec.get("holdout", ""), spec["seed"])
    registry = registry or discover()
    cands = Candidates(*(_plugins(spec, registry, kind, group) for kind, group in
                         (("model", "models"), ("optimizer", "optimizers"), ("regularizer", "regularizers"))))
    metric = get_metric(spec["metric"], rows.kind)
    config, fitted = _fit_trial(spec, chosen, cands, rows, device)
    card = _card(study, chosen, config, fitted, rows, metric, spec)
    if held_out is not None:  # the same refit and rows as the study's own held-out score, for any trial
        card["scores"]["holdout"] = {"score": fitted.score(held_out.X, held_out.y, metric), "rows": len(held_out)}
    model = Model(fitted, card)
    if out is not None:
        from automl.artifacts import save_model

        save_model(model, out)
    return model


def write_holdout(study: optuna.Study, path: str | Path) -> Path:
    """Write the held-out rows of ``study`` with their labels to ``path`` (see :func:`automl.schema.write_rows`),
    for checking a refitted model with ``automl predict``."""
    spec = spec_of(study)
    if not spec.get("holdout"):
        raise ConfigError(f"study {study.study_name!r} has no held-out rows (search it with --holdout)")
    _, held_out = study_rows(spec["data"], spec["fingerprint"], spec["holdout"], spec["seed"])
    assert held_out is not None
    return write_rows(held_out, Path(path))
