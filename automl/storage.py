"""Where studies live: Optuna's RDB storage on any SQLAlchemy URL, SQLite under ``studies/`` by default."""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import optuna
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError

from automl.exceptions import ConfigError
from automl.quiet import no_experimental_warnings
from automl.resume import requeue

__all__ = ["DEFAULT_STORAGE", "ENV_VAR", "GRACE_PERIOD", "HEARTBEAT_INTERVAL", "SQLITE_TIMEOUT", "budget_lock",
           "open_storage", "resolve_url"]

#: Storage used when neither an explicit URL nor ``$AUTOML_STORAGE`` is given (relative to the working directory).
DEFAULT_STORAGE = "sqlite:///studies/automl.db"
ENV_VAR = "AUTOML_STORAGE"
#: Seconds between a running trial's heartbeats, and after which a silent trial counts as dead.
HEARTBEAT_INTERVAL = 10
GRACE_PERIOD = 30
#: Seconds a SQLite connection waits for another process's write lock before "database is locked" (busy timeout).
SQLITE_TIMEOUT = 60


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
def _file_lock(path: Path | None) -> Iterator[None]:
    """Hold an exclusive ``flock`` on ``path`` (created if missing); nothing when ``path`` is ``None``."""
    if path is None or os.name != "posix":
        yield
        return
    import fcntl

    with open(path, "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _creation_lock(db: Path | None) -> contextlib.AbstractContextManager[None]:
    """Serialize the first creation of a SQLite file: two processes creating its tables at once crash."""
    return _file_lock(db.with_name(db.name + ".lock") if db is not None else None)


def budget_lock(storage: optuna.storages.BaseStorage) -> contextlib.AbstractContextManager[None]:
    """A lock shared by every process on this machine that runs trials into ``storage``'s database.

    The backends hold it while they count a study's trials and create the next one, so that workers reserve
    budget slots one at a time (see :mod:`automl.backends.optuna_backend`). A SQLite file gets
    ``<file>.budget.lock`` beside it; another database a file in the temporary folder named after its URL (so
    workers on *other* machines are not covered); an in-memory storage (one process) no lock.
    """
    rdb = getattr(storage, "_backend", storage)  # optuna wraps an RDBStorage in a cache
    if not isinstance(rdb, optuna.storages.RDBStorage):
        return contextlib.nullcontext()
    db = _sqlite_path(rdb.url)
    if db is not None:
        return _file_lock(db.with_name(db.name + ".budget.lock"))
    if make_url(rdb.url).get_backend_name() == "sqlite":  # an in-memory SQLite database lives in one process
        return contextlib.nullcontext()
    digest = hashlib.sha256(rdb.url.encode()).hexdigest()[:16]
    return _file_lock(Path(tempfile.gettempdir()) / f"automl-budget-{digest}.lock")


def open_storage(url: str | None = None, *, heartbeat: bool = True,
                 create: bool = True) -> optuna.storages.RDBStorage:
    """Open (creating tables on first use) the RDB storage at ``url``, with trial heartbeats and retries.

    A SQLite file and its folder are created on demand, unless ``create`` is false (reading studies): then a
    missing file is an error rather than a new empty database. Failures are a :class:`ConfigError` naming the URL.
    """
    url = resolve_url(url)
    db = _sqlite_path(url)
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
        with _creation_lock(db if create else None), no_experimental_warnings():
            storage = optuna.storages.RDBStorage(url, engine_kwargs=engine_kwargs, skip_table_creation=not create,
                                                 **kwargs)
            if not create:
                optuna.get_all_study_names(storage)  # fails here when the database holds no Optuna tables
            return storage
    except RuntimeError as exc:  # Optuna's schema check: the tables were set up by an older (or newer) Optuna
        if "optuna storage upgrade" not in str(exc):
            raise
        raise ConfigError(f"storage {url!r} has a table schema optuna {optuna.__version__} cannot use; if an older "
                          f"Optuna set it up, upgrade it (back it up first): optuna storage upgrade --storage '{url}'"
                          ) from exc
    except (SQLAlchemyError, optuna.exceptions.StorageInternalError, ImportError, ValueError, OSError) as exc:
        raise ConfigError(f"cannot open storage {url!r}: {type(exc).__name__}: {str(exc).splitlines()[0]}") from exc
