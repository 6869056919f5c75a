"""Reading studies back: one summary row per study, a study's leaderboard or Pareto front (as trials, or as a
DataFrame with per-fold scores as columns), and all of it as JSON-ready data (:func:`describe`)."""

from __future__ import annotations

import datetime
from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

import optuna
from optuna.trial import FrozenTrial, TrialState

from automl.holdout import ATTR as HOLDOUT_ATTR
from automl.storage import open_storage
from automl.study import spec_of

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["StudyRow", "describe", "failures", "leaderboard", "list_studies", "pareto_front", "summarize", "top_trials",
           "trials_frame"]


@dataclass(frozen=True)
class StudyRow:
    """One study of a storage, as ``automl studies`` lists it."""

    name: str
    task: str
    dataset: str
    metric: str
    direction: str
    states: dict[str, int]
    best_value: float | None
    updated: datetime.datetime | None
    #: k of the study's k-fold CV, and its held-out score (``{"trial", "score", "rows"}``) when it has held-out rows
    #: that were scored; ``holdout_rows`` says whether rows were set aside at all.
    folds: int | None = None
    holdout: dict[str, Any] | None = None
    holdout_rows: bool = False
    #: The metric, then the costs of an accuracy-vs-cost study (:mod:`automl.costs`); ``[metric]`` otherwise.
    objectives: list[str] = field(default_factory=list)


def summarize(study: optuna.Study) -> StudyRow:
    """The :class:`StudyRow` of ``study``."""
    trials = study.get_trials(deepcopy=False)
    spec = spec_of(study)
    complete = [t for t in trials if t.state == TrialState.COMPLETE]
    best = study.best_value if complete and len(study.directions) == 1 else None
    stamps = [t.datetime_complete or t.datetime_start for t in trials]
    return StudyRow(
        name=study.study_name,
        task=spec.get("task", "?"),
        dataset=spec.get("dataset", "?"),
        metric=spec.get("metric", "?"),
        direction="/".join(d.name.lower() for d in study.directions),
        states=dict(Counter(t.state.name.lower() for t in trials)),
        best_value=best,
        updated=max((s for s in stamps if s is not None), default=None),
        folds=spec.get("folds"),
        holdout=study.user_attrs.get(HOLDOUT_ATTR),
        holdout_rows=bool(spec.get("holdout")),
        objectives=[spec.get("metric", "?"), *spec.get("costs", [])],
    )


def list_studies(storage: str | None = None) -> list[StudyRow]:
    """Summaries of every study in ``storage`` (default storage when ``None``), by name."""
    rdb = open_storage(storage, heartbeat=False, create=False)
    names = sorted(optuna.get_all_study_names(rdb))
    return [summarize(optuna.load_study(study_name=name, storage=rdb)) for name in names]


def top_trials(study: optuna.Study, k: int = 10) -> list[FrozenTrial]:
    """The ``k`` best complete trials, best first (none for a multi-objective study)."""
    if len(study.directions) != 1:
        return []  # multi-objective studies have no single ranking
    complete = [t for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)) if t.value is not None]
    reverse = study.direction == optuna.study.StudyDirection.MAXIMIZE
    return sorted(complete, key=lambda t: t.value, reverse=reverse)[:k]


def trials_frame(trials: list[FrozenTrial], objectives: list[str]) -> pd.DataFrame:
    """One row per trial: ``trial``, its objective values (columns named by ``objectives``: the metric, then any
    costs), ``std`` of the fold scores, ``model``, ``fold_1`` ... ``fold_k``, ``fit_seconds`` (all folds), and
    the parameters (namespaced names)."""
    import pandas as pd

    rows = []
    for trial in trials:
        folds = trial.user_attrs.get("fold_scores", [])
        rows.append({"trial": trial.number, **dict(zip(objectives, trial.values or [], strict=False)),
                     "std": trial.user_attrs.get("cv_std"), "model": trial.params.get("model"),
                     **{f"fold_{i + 1}": score for i, score in enumerate(folds)},
                     "fit_seconds": round(sum(trial.user_attrs.get("fit_seconds", [])), 3),
                     **{name: value for name, value in trial.params.items() if name != "model"}})
    return pd.DataFrame(rows)


def leaderboard(study: optuna.Study, k: int = 10) -> pd.DataFrame:
    """The ``k`` best complete trials as a DataFrame (see :func:`trials_frame`), best first; empty for a
    multi-objective study (see :func:`pareto_front`)."""
    return trials_frame(top_trials(study, k), summarize(study).objectives)


def pareto_front(study: optuna.Study) -> list[FrozenTrial]:
    """The Pareto-optimal complete trials of a multi-objective study, best metric first (for a single-objective
    study: its best trial)."""
    if len(study.directions) == 1:
        return top_trials(study, 1)
    sign = -1 if study.directions[0] == optuna.study.StudyDirection.MAXIMIZE else 1
    return sorted(study.best_trials, key=lambda t: (sign * t.values[0], *t.values[1:]))


def failures(study: optuna.Study) -> list[tuple[int, Any]]:
    """``(trial number, reason)`` of each failed trial."""
    return [(t.number, t.user_attrs.get("fail_reason", "unknown"))
            for t in study.get_trials(deepcopy=False, states=(TrialState.FAIL,))]


def describe(study: optuna.Study, top: int = 10) -> dict[str, Any]:
    """Everything ``automl show`` prints, as JSON-ready data: the summary, the best parameters, the leaderboard (or
    the Pareto front) with per-fold scores, and the failed trials with their reasons."""
    row = summarize(study)
    board = pareto_front(study) if len(row.objectives) > 1 else top_trials(study, top)
    frame = trials_frame(board, row.objectives)
    return {**asdict(row), "updated": row.updated.isoformat() if row.updated else None,
            "best_params": board[0].params if board and len(row.objectives) == 1 else None,
            "pareto_front" if len(row.objectives) > 1 else "leaderboard":
                frame.astype(object).where(frame.notna(), None).to_dict(orient="records"),
            "failures": [{"trial": number, "reason": reason} for number, reason in failures(study)]}
