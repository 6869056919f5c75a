"""Every use of Optuna's private or undocumented API, in one module.

automl needs a few things Optuna keeps to itself: the storage and id behind a study and a trial, the RDB storage
behind Optuna's cache wrapper, its stale-trial query and heartbeat table, and the logger its optimize loop reports
failed trials on. Each is reached here and nowhere else, and ``tests/test_optuna_compat.py`` has one test per
internal, so an Optuna upgrade that moves one fails loudly in one place (see the Optuna version range in
``pyproject.toml``).
"""

from __future__ import annotations

import optuna
import sqlalchemy
from sqlalchemy.engine import Engine

__all__ = ["OPTIMIZE_LOGGER", "engine", "grace_period", "heartbeat_trial_ids", "rdb_storage", "stale_trial_ids",
           "storage_url", "study_id", "study_storage", "trial_id"]

#: The logger ``Study.optimize`` reports a failed trial on (with its traceback); :mod:`automl.quiet` filters it.
OPTIMIZE_LOGGER = "optuna.study._optimize"


def study_storage(study: optuna.Study) -> optuna.storages.BaseStorage:
    """The storage ``study`` reads and writes (``Study._storage``)."""
    return study._storage


def study_id(study: optuna.Study) -> int:
    """The storage's id of ``study`` (``Study._study_id``)."""
    return study._study_id


def trial_id(trial: optuna.Trial | optuna.trial.FrozenTrial) -> int:
    """The storage's id of ``trial`` (``_trial_id`` of a live or a frozen trial; not its number)."""
    return trial._trial_id


def rdb_storage(storage: optuna.storages.BaseStorage) -> optuna.storages.RDBStorage | None:
    """The :class:`~optuna.storages.RDBStorage` behind ``storage``: itself, or the one Optuna's cache wrapper
    (``_CachedStorage._backend``) holds; ``None`` for other storages (in-memory, journal)."""
    rdb = getattr(storage, "_backend", storage)
    return rdb if isinstance(rdb, optuna.storages.RDBStorage) else None


def storage_url(rdb: optuna.storages.RDBStorage) -> str:
    """The SQLAlchemy URL ``rdb`` was opened with (``RDBStorage.url``, an undocumented attribute)."""
    return rdb.url


def engine(rdb: optuna.storages.RDBStorage) -> Engine:
    """The SQLAlchemy engine of ``rdb`` (``RDBStorage.engine``, an undocumented attribute)."""
    return rdb.engine


def grace_period(rdb: optuna.storages.RDBStorage) -> int | None:
    """Seconds of silence after which ``rdb`` counts a RUNNING trial as dead, or ``None`` without heartbeats
    (``RDBStorage.grace_period``, an undocumented attribute; Optuna's default is twice the heartbeat interval)."""
    interval = rdb.get_heartbeat_interval()
    if interval is None:
        return None
    return rdb.grace_period if rdb.grace_period is not None else 2 * interval


def stale_trial_ids(rdb: optuna.storages.RDBStorage, study: optuna.Study) -> set[int]:
    """Ids of ``study``'s RUNNING trials whose last heartbeat is older than the grace period
    (``RDBStorage._get_stale_trial_ids``; what :func:`optuna.storages.fail_stale_trials` fails)."""
    return set(rdb._get_stale_trial_ids(study_id(study)))


def heartbeat_trial_ids(rdb: optuna.storages.RDBStorage, ids: list[int]) -> set[int]:
    """Those of the trial ids ``ids`` that ever sent a heartbeat (rows of Optuna's ``trial_heartbeats`` table)."""
    if not ids:
        return set()
    query = sqlalchemy.text("SELECT trial_id FROM trial_heartbeats WHERE trial_id IN :ids").bindparams(
        sqlalchemy.bindparam("ids", expanding=True))
    with engine(rdb).connect() as connection:
        return {row[0] for row in connection.execute(query, {"ids": ids})}
