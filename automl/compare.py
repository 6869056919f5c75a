"""Studies side by side: one row per study, ranked only when the rankings mean the same thing.

:func:`compare` opens studies that may live in different storages and summarizes each (task, dataset and its
fingerprint, metric, trials by state, best CV mean ± std, held-out score, time, best model), then the parameters
in which the studies' best configurations differ. Studies are ranked by their best CV score only when they share
the dataset (content fingerprint), the metric and the number of folds; otherwise they are listed in the order
given and :attr:`Comparison.unranked` says why.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import optuna
import pandas as pd
from optuna.trial import TrialState

from automl.exceptions import ConfigError
from automl.report import summarize
from automl.storage import display_url, open_storage, resolve_url
from automl.study import spec_of

__all__ = ["Comparison", "compare", "find_studies"]


@dataclass(frozen=True)
class Comparison:
    """The result of :func:`compare`.

    Attributes:
        studies: one row per study (columns: ``study``, ``storage``, ``task``, ``dataset``, ``fingerprint``,
            ``metric``, ``direction``, ``folds``, ``complete``, ``pruned``, ``failed``, ``best``, ``best_std``,
            ``holdout``, ``best_trial``, ``best_model``, ``seconds``, ``seconds_per_trial``), best first when ranked.
        params: the parameters in which the best configurations differ, a row per parameter and a column per study
            (``None`` where a study's best configuration has no such parameter).
        unranked: why the studies are not ranked (their datasets, metrics or folds differ; a multi-objective
            study), or ``None`` when they are.
    """

    studies: pd.DataFrame
    params: pd.DataFrame
    unranked: str | None

    def _repr_html_(self) -> str:
        note = f"<p>not ranked: {self.unranked}</p>" if self.unranked else ""
        return note + self.studies.to_html(index=False, na_rep="-") + self.params.to_html(na_rep="-")

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready data: ``{"studies": [...], "params": {study: {param: value}}, "ranked", "unranked"}``."""
        studies = self.studies.astype(object).where(self.studies.notna(), None).to_dict(orient="records")
        params = {str(c): {str(k): v for k, v in self.params[c].items() if v is not None} for c in self.params}
        return {"studies": studies, "params": params, "ranked": self.unranked is None, "unranked": self.unranked}


def _shown(url: str | None) -> str:
    return display_url(resolve_url(url))


def find_studies(names: Sequence[str], storages: Sequence[str | None]) -> list[tuple[optuna.Study, str]]:
    """Open each study of ``names`` in whichever of ``storages`` (default storage: ``None``) holds it; a name
    found in none, or in more than one, is refused (one line). Returns ``(study, storage URL for display)``."""
    if not names:
        raise ConfigError("name at least one study to compare")
    opened = [(url, open_storage(url, heartbeat=False, create=False)) for url in (list(storages) or [None])]
    holding = {url: set(optuna.get_all_study_names(rdb)) for url, rdb in opened}
    found = []
    for name in names:
        where = [(url, rdb) for url, rdb in opened if name in holding[url]]
        shown = [_shown(url) for url, _ in where]
        if not where:
            raise ConfigError(f"no study {name!r} in {', '.join(_shown(url) for url, _ in opened)}")
        if len(where) > 1:
            raise ConfigError(f"study {name!r} is in {' and '.join(shown)}: compare it from one storage only")
        url, rdb = where[0]
        found.append((optuna.load_study(study_name=name, storage=rdb), shown[0]))
    return found


def _row(study: optuna.Study, storage: str) -> dict[str, Any]:
    summary = summarize(study)
    spec = spec_of(study)
    trials = study.get_trials(deepcopy=False)
    complete = [t for t in trials if t.state == TrialState.COMPLETE]
    best = study.best_trial if complete and len(study.directions) == 1 else None
    ends = [t for t in trials if t.datetime_start and t.datetime_complete]
    seconds = sum((t.datetime_complete - t.datetime_start).total_seconds() for t in ends)  # type: ignore[operator]
    return {
        "study": study.study_name, "storage": storage, "task": summary.task, "dataset": summary.dataset,
        "fingerprint": spec.get("fingerprint"), "metric": summary.metric, "direction": summary.direction,
        "folds": summary.folds, "complete": summary.states.get("complete", 0),
        "pruned": summary.states.get("pruned", 0), "failed": summary.states.get("fail", 0),
        "best": summary.best_value, "best_std": best.user_attrs.get("cv_std") if best else None,
        "holdout": (summary.holdout or {}).get("score"), "best_trial": best.number if best else None,
        "best_model": best.params.get("model") if best else None,
        "seconds": round(seconds, 1), "seconds_per_trial": round(seconds / len(ends), 2) if ends else None,
    }


def _unranked(rows: list[dict[str, Any]]) -> str | None:
    for key, what in (("fingerprint", "datasets"), ("metric", "metrics"), ("direction", "directions"),
                      ("folds", "folds")):
        values = {row[key] for row in rows}
        if len(values) > 1:
            return f"their {what} differ ({', '.join(sorted(map(str, values)))})"
    if any("/" in row["direction"] for row in rows):
        return "a multi-objective study has no single best score"
    return None


def _param_differences(studies: list[optuna.Study]) -> pd.DataFrame:
    best = {}
    for study in studies:
        complete = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
        best[study.study_name] = study.best_params if complete and len(study.directions) == 1 else {}
    names = sorted({name for params in best.values() for name in params})
    frame = pd.DataFrame({study: [params.get(name) for name in names] for study, params in best.items()},
                         index=pd.Index(names, name="parameter"), dtype=object)
    if not len(frame):
        return frame
    frame = frame.astype(object).where(frame.notna(), None)  # missing: None, never NaN
    return frame[frame.apply(lambda row: len({repr(v) for v in row}) > 1, axis=1)]


def compare(studies: Sequence[str], storages: Sequence[str | None] = ()) -> Comparison:
    """Compare the named studies, each looked up in ``storages`` (default: the default storage); see the module
    docstring."""
    opened = find_studies(list(studies), storages)
    rows = [_row(study, url) for study, url in opened]
    unranked = _unranked(rows)
    frame = pd.DataFrame(rows)
    if unranked is None:
        maximize = rows[0]["direction"] == "maximize"
        frame = frame.sort_values("best", ascending=not maximize, na_position="last", kind="stable")
    return Comparison(frame.reset_index(drop=True), _param_differences([study for study, _ in opened]), unranked)
