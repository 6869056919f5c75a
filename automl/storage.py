"""Where studies live: Optuna's RDB storage, SQLite under ``studies/`` by default or PostgreSQL for many machines,
and the database locks that keep creating tables and reserving a study's budget safe between processes."""

from __future__ import annotations

import contextlib
import hashlib
import os
from collections.abc import Iterator
from pathlib import Path

import optuna
import sqlalchemy
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError
from sqlalchemy.pool import NullPool

from automl import optuna_compat
from automl.exceptions import ConfigError
from automl.quiet import no_experimental_warnings
from automl.resume import requeue

__all__ = ["DEFAULT_STORAGE", "ENV_VAR", "GRACE_PERIOD", "HEARTBEAT_INTERVAL", "SQLITE_TIMEOUT", "budget_lock",
           "display_url", "open_storage", "resolve_url"]

#: Storage used when neither an explicit URL nor ``$AUTOML_STORAGE`` is given (relative to the working directory).
DEFAULT_STORAGE = "sqlite:///studies/automl.db"
ENV_VAR = "AUTOML_STORAGE"
#: Seconds between a running trial's heartbeats, and after which a silent trial counts as dead.
HEARTBEAT_INTERVAL = 10
GRACE_PERIOD = 30
#: Seconds a SQLite connection waits for another process's write lock before "database is locked" (busy timeout).
SQLITE_TIMEOUT = 60


def display_url(url: str) -> str:
    """``url`` with its password (if any) shown as ``***``: what messages print of a storage URL."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return url


def resolve_url(url: str | None = None) -> str:
    """The storage URL: ``url``, else ``$AUTOML_STORAGE``, else :data:`DEFAULT_STORAGE`."""
    return url or os.environ.get(ENV_VAR) or DEFAULT_STORAGE


def _sqlite_path(url: str) -> Path | None:
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise ConfigError(f"storage URL {url!r} is not a SQLAlchemy URL: {exc}") from exc
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    return Path(parsed.database)


@contextlib.contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    """Hold an exclusive ``flock`` on ``path`` (created if missing)."""
    import fcntl

    with open(path, "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _lock_key(name: str) -> int:
    """A PostgreSQL advisory-lock key (a signed 64-bit integer) for the lock called ``name``."""
    return int.from_bytes(hashlib.sha256(f"automl:{name}".encode()).digest()[:8], "big", signed=True)


@contextlib.contextmanager
def _advisory_lock(url: str, name: str) -> Iterator[None]:
    """Hold PostgreSQL's session-level advisory lock ``name`` on a connection of its own.

    The connection is not pooled (``NullPool``): closing it closes the session, so the server frees the lock
    however this process leaves the block, and at once if the process dies (its socket closes).
    """
    engine = sqlalchemy.create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as connection:
            connection.execute(sqlalchemy.text("SELECT pg_advisory_lock(:key)"), {"key": _lock_key(name)})
            yield
    finally:
        engine.dispose()


def _dialect(url: str) -> str:
    return make_url(url).get_backend_name()


def _check_dialect(url: str) -> None:
    if _dialect(url) not in ("sqlite", "postgresql"):
        raise ConfigError(f"storage {display_url(url)!r}: searches run on SQLite or PostgreSQL storages (their locks "
                          f"keep a study's budget exact across processes and machines), not {_dialect(url)}")


def _creation_lock(url: str, db: Path | None) -> contextlib.AbstractContextManager[None]:
    """Serialize creating a database's tables: two processes doing it at once crash (SQLite: "table studies already
    exists"; PostgreSQL: a unique violation in its catalog). SQLite: a lock file beside the database file;
    PostgreSQL: an advisory lock (processes on any machine)."""
    if db is not None:
        return _file_lock(db.with_name(db.name + ".lock"))
    if _dialect(url) == "postgresql":
        return _advisory_lock(url, "schema")
    return contextlib.nullcontext()


def budget_lock(study: optuna.Study) -> contextlib.AbstractContextManager[None]:
    """A lock shared by every process that runs trials into ``study``, on any machine that reaches its database.

    Backends hold it while they count a study's trials and create the next one, so that workers reserve budget
    slots one at a time (see :mod:`automl.budget`). A SQLite database gets ``<file>.budget.lock`` beside it (a
    SQLite file is one machine's); a PostgreSQL one an advisory lock named after the study, held by the server
    (processes on several machines share it; a dead process's lock is freed with its connection); an in-memory
    storage (one process) no lock. A fresh context manager each call: they are single-use.
    """
    rdb = optuna_compat.rdb_storage(optuna_compat.study_storage(study))
    if rdb is None:
        return contextlib.nullcontext()
    url = optuna_compat.storage_url(rdb)
    db = _sqlite_path(url)
    if db is not None:
        return _file_lock(db.with_name(db.name + ".budget.lock"))
    if _dialect(url) == "postgresql":
        return _advisory_lock(url, f"budget:{study.study_name}")
    return contextlib.nullcontext()  # an in-memory SQLite database lives in one process


def open_storage(url: str | None = None, *, heartbeat: bool = True,
                 create: bool = True) -> optuna.storages.RDBStorage:
    """Open (creating tables on first use) the RDB storage at ``url``, with trial heartbeats and retries.

    A SQLite file and its folder are created on demand, unless ``create`` is false (reading studies): then a
    missing file is an error rather than a new empty database. Failures are a :class:`ConfigError` naming the URL.
    """
    url = resolve_url(url)
    db = _sqlite_path(url)
    if create:
        _check_dialect(url)
    engine_kwargs = {}
    if db is not None and not create and not db.is_file():
        raise ConfigError(f"storage {url!r}: no database file at {db}")
    if db is not None:
        try:
            db.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ConfigError(f"storage {url!r}: cannot create folder {db.parent}: {exc.strerror}") from exc
        engine_kwargs = {"connect_args": {"timeout": SQLITE_TIMEOUT}}
    kwargs = {}
    if heartbeat:
        kwargs = {
            "heartbeat_interval": HEARTBEAT_INTERVAL,
            "grace_period": GRACE_PERIOD,
            "heartbeat_stale_trial_callback": requeue,
        }
    try:
        with _creation_lock(url, db) if create else contextlib.nullcontext(), no_experimental_warnings():
            storage = optuna.storages.RDBStorage(url, engine_kwargs=engine_kwargs, skip_table_creation=not create,
                                                 **kwargs)
            if not create:
                optuna.get_all_study_names(storage)  # fails here when the database holds no Optuna tables
            return storage
    except RuntimeError as exc:  # Optuna's schema check: the tables were set up by an older (or newer) Optuna
        if "optuna storage upgrade" not in str(exc):
            raise
        raise ConfigError(f"storage {display_url(url)!r} has a table schema optuna {optuna.__version__} cannot use; "
                          "if an older Optuna set it up, upgrade it (back it up first): optuna storage upgrade "
                          f"--storage '{display_url(url)}'"
                          ) from exc
    except (SQLAlchemyError, optuna.exceptions.StorageInternalError, ImportError, ValueError, OSError) as exc:
        raise ConfigError(f"cannot open storage {display_url(url)!r}: {type(exc).__name__}: "
                          f"{str(exc).splitlines()[0]}") from exc
