from __future__ import annotations

import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pytest

from automl.exceptions import ConfigError
from automl.storage import DEFAULT_STORAGE, ENV_VAR, open_storage, resolve_url


def test_url_precedence(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENV_VAR, raising=False)
    assert resolve_url(None) == DEFAULT_STORAGE == "sqlite:///studies/automl.db"
    monkeypatch.setenv(ENV_VAR, "sqlite:///env.db")
    assert resolve_url(None) == "sqlite:///env.db"
    assert resolve_url("sqlite:///arg.db") == "sqlite:///arg.db"


def test_sqlite_folder_is_created_on_demand(tmp_path: Path) -> None:
    db = tmp_path / "deep" / "er" / "s.db"
    storage = open_storage(f"sqlite:///{db}")
    optuna.create_study(storage=storage, study_name="x")
    assert db.is_file()


@pytest.mark.parametrize("url", ["notaurl", "nosuchdialect://x/y"])
def test_unusable_urls_are_config_errors(url: str) -> None:
    with pytest.raises(ConfigError, match="storage"):
        open_storage(url)


def test_unwritable_location_is_a_config_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(ConfigError, match="cannot create folder"):
        open_storage(f"sqlite:///{blocker / 'sub' / 's.db'}")


def test_heartbeat_and_retry_are_configured(storage: str) -> None:
    rdb = open_storage(storage)
    assert rdb.get_heartbeat_interval() is not None
    assert rdb.get_heartbeat_stale_trial_callback() is not None
    assert open_storage(storage, heartbeat=False).get_heartbeat_interval() is None


def test_processes_creating_a_brand_new_database_at_once_do_not_crash(tmp_path: Path) -> None:
    """Workers import everything, wait at a barrier, then create the same new SQLite file at the same moment."""
    url = f"sqlite:///{tmp_path / 'race.db'}"
    go = tmp_path / "go"
    code = ("import pathlib, sys, optuna; from automl.storage import open_storage; "
            "pathlib.Path(sys.argv[2] + '.ready' + sys.argv[3]).touch(); "
            "go = pathlib.Path(sys.argv[2])\n"
            "while not go.exists(): pass\n"
            "optuna.create_study(storage=open_storage(sys.argv[1]), study_name='race', load_if_exists=True)")
    workers = [subprocess.Popen([sys.executable, "-c", code, url, str(go), str(i)], cwd=tmp_path,
                                stderr=subprocess.PIPE, text=True)
               for i in range(4)]
    deadline = time.monotonic() + 120
    while len(list(tmp_path.glob("go.ready*"))) < len(workers) and time.monotonic() < deadline:
        time.sleep(0.01)
    go.touch()
    errors = [(w.wait(timeout=120), w.stderr.read()) for w in workers]
    assert all(rc == 0 for rc, _ in errors), errors
    assert optuna.get_all_study_names(url) == ["race"]


def test_reading_a_missing_sqlite_file_does_not_create_it(tmp_path: Path) -> None:
    db = tmp_path / "typo" / "none.db"
    with pytest.raises(ConfigError, match="no database file at"):
        open_storage(f"sqlite:///{db}", create=False)
    assert not db.parent.exists()


def test_reading_a_sqlite_file_that_is_not_a_study_storage_leaves_it_alone(tmp_path: Path) -> None:
    import sqlite3

    db = tmp_path / "other.db"
    with sqlite3.connect(db) as connection:
        connection.execute("CREATE TABLE mine (x INTEGER)")
    with pytest.raises(ConfigError, match="cannot open storage"):
        open_storage(f"sqlite:///{db}", heartbeat=False, create=False)
    with sqlite3.connect(db) as connection:
        tables = {row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert tables == {"mine"}
    assert not (tmp_path / "other.db.lock").exists()


def test_a_database_with_an_older_optuna_schema_says_what_to_run(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    storage = open_storage(url, heartbeat=False)
    oldest = storage.get_all_versions()[1]  # the revision before the current one
    with sqlite3.connect(tmp_path / "old.db") as connection:  # what an older Optuna would have left
        connection.execute("UPDATE alembic_version SET version_num = ?", (oldest,))
    with pytest.raises(ConfigError) as info:
        open_storage(url)
    assert str(info.value) == (f"storage {url!r} has a table schema optuna {optuna.__version__} cannot use; if an "
                               f"older Optuna set it up, upgrade it (back it up first): optuna storage upgrade "
                               f"--storage '{url}'")
    upgrade = subprocess.run([str(Path(sys.executable).with_name("optuna")), "storage", "upgrade", "--storage", url],
                             capture_output=True, text=True, timeout=120)
    assert upgrade.returncode == 0, upgrade.stderr
    assert open_storage(url).get_current_version() == storage.get_head_version()  # the advice works


def test_searches_need_sqlite_or_postgresql(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="searches run on SQLite or PostgreSQL storages .* not mysql"):
        open_storage("mysql+pymysql://user@127.0.0.1/db")


def test_a_study_copied_from_sqlite_to_postgresql_keeps_its_trials_and_resumes(
        blobs_csv: Path, storage: str, postgres: str) -> None:
    import automl

    kwargs = {"models": ["hist_gradient_boosting"], "folds": 3, "study": "moving"}
    original = automl.search("tabular", blobs_csv, n_trials=4, storage=storage, **kwargs).study
    copied = automl.copy_study("moving", storage, postgres)
    assert copied.user_attrs == original.user_attrs  # the study's identity travels with it
    fields = ("number", "state", "params", "values", "intermediate_values", "user_attrs", "system_attrs")
    assert [[getattr(t, f) for f in fields] for t in copied.trials] == [
        [getattr(t, f) for f in fields] for t in original.trials]
    resumed = automl.search("tabular", blobs_csv, n_trials=6, storage=postgres, **kwargs).study
    assert len(resumed.trials) == 6 and [t.params for t in resumed.trials[:4]] == [t.params for t in original.trials]
    with pytest.raises(ConfigError, match="already holds a study 'moving'"):
        automl.copy_study("moving", storage, postgres)


def test_a_study_with_running_trials_is_not_copied(storage: str, tmp_path: Path) -> None:
    import automl

    study = optuna.create_study(storage=open_storage(storage), study_name="busy")
    study.ask()
    with pytest.raises(ConfigError, match=r"has running trials \[0\]: stop its searches"):
        automl.copy_study("busy", storage, f"sqlite:///{tmp_path / 'other.db'}")


def test_messages_never_show_a_storage_password() -> None:
    from automl.storage import display_url

    assert display_url("postgresql+psycopg://ann:s3cret@db.example/studies") == (
        "postgresql+psycopg://ann:***@db.example/studies")
    with pytest.raises(ConfigError) as refused:
        open_storage("mysql://ann:s3cret@db.example/studies")
    assert "s3cret" not in str(refused.value) and "ann:***@" in str(refused.value)
