"""A study's identity: what it was created for, and the refusal to mix another task, dataset or metric into it."""

from __future__ import annotations

import re
from dataclasses import MISSING, asdict, dataclass, field, fields
from typing import Any

import optuna

from automl.exceptions import ConfigError, StudyMismatchError
from automl.quiet import no_experimental_warnings
from automl.storage import display_url, open_storage, resolve_url

__all__ = ["ATTR", "COST_NAMES", "StudySpec", "check_compatible", "copy_study", "default_study_name", "metric_names",
           "open_study", "spec_of", "validate_study_name"]

#: Study user attribute holding the :class:`StudySpec`.
ATTR = "automl"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._\-]{0,127}$")
#: The objective name of each cost (:mod:`automl.costs`), its unit included: optuna-dashboard's axes and
#: ``trials_dataframe()``'s columns read them.
COST_NAMES = {"latency": "latency_ms", "size": "size_bytes", "params": "params"}


@dataclass(frozen=True)
class StudySpec:
    """Everything that defines what a study's trial values mean."""

    task: str
    dataset: str
    source: str
    fingerprint: str
    kind: str
    metric: str
    direction: str
    folds: int
    seed: int
    splits: str
    space: dict[str, dict[str, str]] = field(default_factory=dict)
    #: ``"<fraction>:<digest of the held-out rows>"`` when rows were set aside (see :mod:`automl.holdout`).
    holdout: str = ""
    #: Where the data comes from (:class:`automl.job.DataRef` fields), so that a refit reads it again; not checked
    #: (the fingerprint is).
    data: dict[str, Any] = field(default_factory=dict)
    #: Costs minimized next to the metric (:mod:`automl.costs`), in objective order; empty: one objective.
    costs: list[str] = field(default_factory=list)
    #: The automl version that created the study, and the Optuna storage schema (alembic revision) it was created
    #: in. Neither is checked on resume: a newer automl opens an older study (see docs/reliability.md).
    automl_version: str = ""
    storage_schema: str = ""


_CHECKED = ("task", "fingerprint", "kind", "metric", "folds", "seed", "splits", "holdout", "costs")
#: What a study made before a field existed holds for it.
_DEFAULTS = {f.name: f.default_factory() if f.default_factory is not MISSING else f.default for f in fields(StudySpec)}


def validate_study_name(name: str) -> str:
    """Study names are 1-128 letters, digits, ``.``, ``_`` or ``-``, starting with a letter or digit."""
    if not isinstance(name, str) or not _NAME.fullmatch(name):  # match() would let a trailing newline in
        raise ConfigError(f"invalid study name {name!r}: use 1-128 letters, digits, '.', '_' or '-' "
                          "(starting with a letter or digit)")
    return name


def default_study_name(task: str, dataset: str) -> str:
    """``<task>-<dataset>``, with characters a study name may not hold replaced by ``_``."""
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "_", f"{task}-{dataset}").strip("._-")
    return validate_study_name(cleaned[:128] or task)


def check_compatible(name: str, stored: dict[str, Any], spec: StudySpec) -> None:
    """Raise :class:`StudyMismatchError` when ``spec`` differs from the ``stored`` one in anything that matters."""
    wanted = asdict(spec)
    stored = {key: stored.get(key, _DEFAULTS.get(key)) for key in wanted} | stored
    diffs = [f"{key} {stored.get(key)!r} (this run: {wanted[key]!r})"
             for key in _CHECKED if stored.get(key) != wanted[key]]
    if stored.get("fingerprint") != spec.fingerprint:
        diffs.insert(0, f"dataset {stored.get('dataset')!r} from {stored.get('source')!r}")
    hints = []
    if stored.get("costs") != spec.costs:
        hints.append(f"--objectives {','.join([stored.get('metric'), *stored['costs']])}" if stored.get("costs")
                     else "no --objectives")
    if stored.get("holdout") != spec.holdout:
        fraction = str(stored.get("holdout") or "").partition(":")[0]
        hints.append(f"--holdout {fraction}" if fraction else "no --holdout")
    for group in ("models", "optimizers", "regularizers"):
        before, now = set(stored.get("space", {}).get(group, {})), set(spec.space.get(group, {}))
        if before != now:
            diffs.append(f"{group} {sorted(before)} (this run: {sorted(now)})")
            if before:  # the default set depends on the installed plugins and, for heavy models, on the device
                hints.append(f"--{group} {','.join(sorted(before))}")
    if diffs:
        raise StudyMismatchError(
            f"study {name!r} was created with " + "; ".join(diffs) +
            ". Use another --study name, or the settings the study was created with" +
            (f" (they were: {' '.join(hints)})" if hints else "") + "."
        )


def open_study(storage: optuna.storages.BaseStorage, name: str, spec: StudySpec,
               sampler: optuna.samplers.BaseSampler, pruner: optuna.pruners.BasePruner) -> optuna.Study:
    """Create the study ``name`` for ``spec``, or load it after checking it was created for the same ``spec``; its
    objectives are named after the metric and costs (:func:`metric_names`)."""
    validate_study_name(name)
    wanted = [spec.direction, *["minimize"] * len(spec.costs)]
    study = optuna.create_study(storage=storage, study_name=name, directions=wanted, sampler=sampler, pruner=pruner,
                                load_if_exists=True)
    stored = study.user_attrs.get(ATTR)
    directions = [d.name.lower() for d in study.directions]
    if directions != wanted:
        objectives = ", ".join([spec.metric, *spec.costs])
        raise StudyMismatchError(f"study {name!r} optimizes {'/'.join(directions)}, but this search "
                                 f"({objectives}) needs {'/'.join(wanted)}; use another --study name")
    if stored is None:
        if study.trials:
            raise StudyMismatchError(f"study {name!r} exists but was not created by automl; use another --study name")
        study.set_user_attr(ATTR, asdict(spec))
    else:
        check_compatible(name, stored, spec)
    _name_objectives(study, spec)
    return study


def metric_names(spec: StudySpec) -> list[str]:
    """The names of ``spec``'s objectives, in order: the metric, then each cost with its unit (``latency_ms``)."""
    return [spec.metric, *(COST_NAMES.get(cost, cost) for cost in spec.costs)]


def _name_objectives(study: optuna.Study, spec: StudySpec) -> None:
    """Name ``study``'s objectives after ``spec`` (:meth:`optuna.Study.set_metric_names`), so that optuna-dashboard's
    axes read ``accuracy``, not ``Objective 0``. One write, only where the names differ: a new study, or one made
    before automl named them."""
    names = metric_names(spec)
    if study.metric_names != names:
        with no_experimental_warnings():
            study.set_metric_names(names)


def spec_of(study: optuna.Study) -> dict[str, Any]:
    """What ``study`` was created for, as stored (empty for a study automl did not create)."""
    return dict(study.user_attrs.get(ATTR, {}))


def copy_study(name: str, source: str | None, target: str, *, new_name: str | None = None) -> optuna.Study:
    """Copy study ``name`` with every trial from the storage at ``source`` to the one at ``target`` (e.g. from
    SQLite to PostgreSQL when a search outgrows one machine), as ``new_name`` (default: the same name); returns the
    copy. Searches then resume on the copy as on the original (its identity and queued trials travel with it).

    Refused (:class:`ConfigError`) while the study has RUNNING trials (a search is running on it: stop it first)
    and when ``target`` already holds a study of that name. Uses :func:`optuna.copy_study`.
    """
    new_name = validate_study_name(new_name or name)
    src = open_storage(source, heartbeat=False, create=False)
    dst = open_storage(target, heartbeat=False)
    if name not in optuna.get_all_study_names(src):
        known = ", ".join(sorted(optuna.get_all_study_names(src))) or "none"
        raise ConfigError(f"no study {name!r} in {display_url(resolve_url(source))} (studies: {known})")
    if new_name in optuna.get_all_study_names(dst):
        raise ConfigError(f"{display_url(target)} already holds a study {new_name!r}; choose another name for the copy")
    running = [t.number for t in optuna.load_study(study_name=name, storage=src).get_trials(
        deepcopy=False, states=(optuna.trial.TrialState.RUNNING,))]
    if running:
        raise ConfigError(f"study {name!r} has running trials {running}: stop its searches (a re-run recovers the "
                          "trials of a dead one) before copying it")
    optuna.copy_study(from_study_name=name, from_storage=src, to_storage=dst, to_study_name=new_name)
    return optuna.load_study(study_name=new_name, storage=dst)
