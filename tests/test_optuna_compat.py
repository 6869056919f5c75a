"""One test per Optuna internal that automl touches (automl/optuna_compat.py): an upgrade that moves one fails here."""

from __future__ import annotations

import logging
from pathlib import Path

import optuna
import pytest
import sqlalchemy
from optuna.trial import TrialState

from automl import optuna_compat
from automl.storage import GRACE_PERIOD, open_storage


@pytest.fixture
def study(storage: str) -> optuna.Study:
    return optuna.create_study(storage=open_storage(storage), study_name="compat")


def test_study_storage_and_id(study: optuna.Study) -> None:
    storage = optuna_compat.study_storage(study)
    assert isinstance(storage, optuna.storages.BaseStorage)
    assert storage.get_study_id_from_name("compat") == optuna_compat.study_id(study)


def test_trial_id_of_live_and_frozen_trials(study: optuna.Study) -> None:
    study.ask()
    live = study.ask()
    storage = optuna_compat.study_storage(study)
    assert storage.get_trial(optuna_compat.trial_id(live)).number == live.number == 1
    frozen = study.trials[1]
    assert optuna_compat.trial_id(frozen) == optuna_compat.trial_id(live)


def test_rdb_storage_unwraps_optunas_cache(study: optuna.Study, storage: str) -> None:
    assert type(optuna_compat.study_storage(study)) is not optuna.storages.RDBStorage  # Optuna wraps it
    rdb = optuna_compat.rdb_storage(optuna_compat.study_storage(study))
    assert isinstance(rdb, optuna.storages.RDBStorage)
    assert optuna_compat.storage_url(rdb) == storage
    assert isinstance(optuna_compat.engine(rdb), sqlalchemy.engine.Engine)
    assert optuna_compat.rdb_storage(optuna.storages.InMemoryStorage()) is None


def test_grace_period(storage: str) -> None:
    assert optuna_compat.grace_period(open_storage(storage)) == GRACE_PERIOD
    assert optuna_compat.grace_period(open_storage(storage, heartbeat=False)) is None


def test_heartbeat_table_and_stale_trials(study: optuna.Study, storage: str) -> None:
    rdb = optuna_compat.rdb_storage(optuna_compat.study_storage(study))
    assert rdb is not None
    beating, silent = study.ask(), study.ask()
    rdb.record_heartbeat(optuna_compat.trial_id(beating))
    ids = [optuna_compat.trial_id(beating), optuna_compat.trial_id(silent)]
    assert optuna_compat.heartbeat_trial_ids(rdb, ids) == {optuna_compat.trial_id(beating)}
    assert optuna_compat.heartbeat_trial_ids(rdb, []) == set()
    assert optuna_compat.stale_trial_ids(rdb, study) == set()  # a fresh heartbeat
    with optuna_compat.engine(rdb).begin() as connection:  # the heartbeat an hour old
        connection.execute(sqlalchemy.text("UPDATE trial_heartbeats SET heartbeat = :old"),
                           {"old": "2000-01-01 00:00:00.000000"})
    assert optuna_compat.stale_trial_ids(rdb, study) == {optuna_compat.trial_id(beating)}
    assert [t.state for t in study.trials] == [TrialState.RUNNING, TrialState.RUNNING]


def test_optimize_reports_failed_trials_on_its_logger(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    def fail(trial: optuna.Trial) -> float:
        raise ValueError("boom")

    optuna.logging.enable_propagation()
    try:
        with caplog.at_level(logging.WARNING, logger=optuna_compat.OPTIMIZE_LOGGER):
            optuna.create_study().optimize(fail, n_trials=1, catch=(ValueError,))
    finally:
        optuna.logging.disable_propagation()
    assert any(r.name == optuna_compat.OPTIMIZE_LOGGER and "boom" in r.getMessage() for r in caplog.records)
