"""Shared fixtures: a throw-away storage per test, a real PostgreSQL server, small datasets that train in a blink,
and refitted model directories."""

from __future__ import annotations

import itertools
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from automl.datasets import Dataset, make_dataset

#: Set (by .ci/run) to fail, rather than skip, the PostgreSQL tests when no server can be started.
REQUIRE_POSTGRES = "AUTOML_REQUIRE_POSTGRES"


@pytest.fixture
def storage(tmp_path: Path) -> str:
    """A SQLite storage URL in the test's temporary folder."""
    return f"sqlite:///{tmp_path / 'studies.db'}"


@pytest.fixture
def blobs() -> Dataset:
    """120 rows of two well-separated numeric classes (tabular classification)."""
    rng = np.random.default_rng(0)
    X = np.vstack([rng.normal(-2, 1, (60, 4)), rng.normal(2, 1, (60, 4))])
    y = np.array(["a"] * 60 + ["b"] * 60)
    return make_dataset("blobs", "tabular", pd.DataFrame(X, columns=list("pqrs")), y, "builtin")


@pytest.fixture
def blobs_csv(tmp_path: Path, blobs: Dataset) -> Path:
    """The blobs dataset as a CSV file with a ``label`` column."""
    frame = blobs.X.copy()
    frame["label"] = np.asarray(blobs.classes)[blobs.y]
    path = tmp_path / "blobs.csv"
    frame.to_csv(path, index=False)
    return path


def _postgres_bin() -> Path | None:
    """The folder of Debian's PostgreSQL server programs (the newest installed version), or one on PATH."""
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parent.parent.name))
    if versions:
        return versions[-1].parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """A real PostgreSQL server for the session, on 127.0.0.1 and a free port, trust authentication, fsync off;
    yields its base URL (``postgresql+psycopg://postgres@127.0.0.1:PORT``). PostgreSQL refuses to run as root,
    so as root the data folder (under /tmp: pytest's folders are not reachable by other users) belongs to the
    ``postgres`` user and the server runs as it."""
    bindir = _postgres_bin()
    if bindir is None:
        message = "PostgreSQL's server programs are not installed (Debian: apt-get install postgresql)"
        if os.environ.get(REQUIRE_POSTGRES):
            pytest.fail(message)
        pytest.skip(message)
    folder = Path(tempfile.mkdtemp(prefix="automl-pg-"))
    as_user: list[str] = []
    if os.geteuid() == 0:
        shutil.chown(folder, "postgres", "postgres")
        as_user = ["runuser", "-u", "postgres", "--"]
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    data = folder / "data"
    subprocess.run([*as_user, str(bindir / "initdb"), "-D", str(data), "-U", "postgres", "-A", "trust", "--no-sync"],
                   check=True, capture_output=True)
    options = f"-p {port} -k {folder} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200"
    subprocess.run([*as_user, str(bindir / "pg_ctl"), "-D", str(data), "-w", "-l", str(folder / "log"), "-o",
                    options, "start"], check=True, capture_output=True)
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:{port}"
    finally:
        subprocess.run([*as_user, str(bindir / "pg_ctl"), "-D", str(data), "-w", "-m", "immediate", "stop"],
                       capture_output=True)
        shutil.rmtree(folder, ignore_errors=True)


_databases = itertools.count()


@pytest.fixture
def postgres(postgres_server: str) -> str:
    """The URL of a fresh, empty database on the session's PostgreSQL server."""
    import psycopg

    name = f"test_{os.getpid()}_{next(_databases)}"
    with psycopg.connect(postgres_server.replace("postgresql+psycopg", "postgresql") + "/postgres",
                         autocommit=True) as connection:
        connection.execute(f"CREATE DATABASE {name}")
    return f"{postgres_server}/{name}"


@dataclass(frozen=True)
class Refitted:
    """A small searched study with held-out rows, and the model directory of its best trial."""

    storage: str
    study: str
    data: Path
    model_dir: Path


def mixed_table(n: int = 160, shift: float = 1.5, kept: float = 0.8, seed: int = 1) -> pd.DataFrame:
    """Two classes of ``n`` rows: numbers ``p, q, r`` around ``-shift`` and ``+shift``, a category ``color`` that
    tells the class for a share ``kept`` of the rows (``green`` for the others), and a ``label`` column."""
    rng = np.random.default_rng(seed)
    half = n // 2
    frame = pd.DataFrame(np.vstack([rng.normal(-shift, 1, (half, 3)), rng.normal(shift, 1, (half, 3))]),
                         columns=["p", "q", "r"])
    frame["color"] = np.where(rng.random(n) < kept, ["red"] * half + ["blue"] * half, "green")
    frame["label"] = ["a"] * half + ["b"] * half
    return frame


@pytest.fixture
def table_of() -> Callable[..., pd.DataFrame]:
    """:func:`mixed_table`, for tests that need other rows than the ``refitted`` fixture's."""
    return mixed_table


@pytest.fixture(scope="session")
def refitted(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], Refitted]:
    """``refitted(model)``: a 2-trial, 2-fold tabular search of ``model`` over a CSV with numeric and category
    columns and a 25% holdout, refitted into a model directory; made once per model and session (tests copy what
    they change)."""
    import automl

    made: dict[str, Refitted] = {}

    def make(model: str) -> Refitted:
        if model not in made:
            root = tmp_path_factory.mktemp(f"refitted-{model}")
            data = root / "mixed.csv"
            mixed_table().to_csv(data, index=False)
            url = f"sqlite:///{root / 'studies.db'}"
            result = automl.search("tabular", data, models=[model], n_trials=2, folds=2, holdout=0.25, storage=url,
                                   study=model)
            automl.refit(result.study, out=root / "model")
            made[model] = Refitted(url, model, data, root / "model")
        return made[model]

    return make


@pytest.fixture
def moons_csv(tmp_path: Path) -> Path:
    """600 rows of two interleaved half-moons (plus 4 noise columns) as a CSV with a ``label`` column: a linear
    model reaches about 0.87, trees and neighbours about 0.9 and more, at a higher cost."""
    from sklearn.datasets import make_moons

    X, y = make_moons(600, noise=0.25, random_state=0)
    noise = np.random.default_rng(0).normal(size=(600, 4))
    frame = pd.DataFrame(np.hstack([X, noise]), columns=list("abcdef"))
    frame["label"] = np.where(y == 1, "yes", "no")
    path = tmp_path / "moons.csv"
    frame.to_csv(path, index=False)
    return path
