"""optuna-dashboard, pointed at a storage automl wrote, lists the study and its trials (through its JSON API)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import automl
from automl.storage import open_storage

HOST = "127.0.0.1"
DASHBOARD = Path(sys.executable).with_name("optuna-dashboard")
#: Never use an HTTP proxy from the environment: the server is local.
OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def get_json(base: str, path: str) -> Any:
    with OPENER.open(f"{base}{path}", timeout=10) as response:
        assert response.status == 200
        return json.load(response)


def wait_for(base: str, path: str, server: subprocess.Popen, log: Path, limit: float = 30.0) -> Any:
    """Poll ``path`` every 0.2 s until the server answers it; fail after ``limit`` seconds or if it exits."""
    deadline = time.monotonic() + limit
    while True:
        try:
            return get_json(base, path)
        except (urllib.error.URLError, ConnectionError, TimeoutError) as exc:
            if server.poll() is not None:
                pytest.fail(f"optuna-dashboard exited with {server.returncode}:\n{log.read_text()}")
            if time.monotonic() > deadline:
                pytest.fail(f"optuna-dashboard did not answer {path} within {limit} s ({exc}):\n{log.read_text()}")
        time.sleep(0.2)


@pytest.fixture
def dashboard(tmp_path: Path, blobs_csv: Path) -> Iterator[tuple[str, Any]]:
    """A 2-trial automl study in a SQLite file, served by optuna-dashboard: ``(base URL, /api/studies answer)``."""
    if not DASHBOARD.is_file():
        pytest.fail(f"{DASHBOARD} is missing: install the dev extra (optuna-dashboard)")
    url = f"sqlite:///{tmp_path / 'studies.db'}"
    open_storage(url, heartbeat=False)  # create the tables first: the server and the search never race to do it
    port = free_port()
    log = tmp_path / "dashboard.log"
    with open(log, "w") as sink:
        server = subprocess.Popen(
            [str(DASHBOARD), url, "--host", HOST, "--port", str(port), "--server", "wsgiref"],
            stdin=subprocess.DEVNULL, stdout=sink, stderr=subprocess.STDOUT,
        )
    try:
        # the server starts up while the search runs; it reads the storage on each request
        automl.search("tabular", blobs_csv, models=["hist_gradient_boosting"], n_trials=2, folds=3, storage=url,
                      study="dash")
        base = f"http://{HOST}:{port}"
        yield base, wait_for(base, "/api/studies", server, log)
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def test_dashboard_lists_the_study_and_its_trials(dashboard: tuple[str, Any]) -> None:
    base, listing = dashboard
    studies = {s["study_name"]: s for s in listing["study_summaries"]}
    assert set(studies) == {"dash"}
    summary = studies["dash"]
    assert summary["directions"] == ["maximize"]
    attrs = {a["key"]: a["value"] for a in summary["user_attrs"]}
    assert json.loads(attrs["automl"])["task"] == "tabular"

    detail = get_json(base, f"/api/studies/{summary['study_id']}")
    assert detail["name"] == "dash"
    trials = detail["trials"]
    assert [t["number"] for t in trials] == [0, 1]
    assert all(t["state"] == "Complete" for t in trials)
    for trial in trials:
        params = {p["name"]: p["param_external_value"] for p in trial["params"]}
        assert params["model"] == "hist_gradient_boosting"
        assert any(name.startswith("model.hist_gradient_boosting.") for name in params)
        user_attrs = {a["key"] for a in trial["user_attrs"]}
        assert {"fold_scores", "cv_std"} <= user_attrs
    assert len(detail["best_trials"]) == 1


def _listening_addresses(port: int) -> set[str]:
    """Local addresses of the TCP sockets listening on ``port`` (from /proc/net/tcp and tcp6)."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        if not Path(table).exists():
            continue
        for line in Path(table).read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            address, hex_port = local.split(":")
            if state == "0A" and int(hex_port, 16) == port:  # 0A: LISTEN
                found.add(address)
    return found


@pytest.mark.skipif(not Path("/proc/net/tcp").exists(), reason="reads listening sockets from /proc/net/tcp")
def test_automl_dashboard_serves_the_default_storage_on_loopback_only(tmp_path: Path, blobs_csv: Path) -> None:
    url = f"sqlite:///{tmp_path / 'studies' / 'automl.db'}"
    automl.search("tabular", blobs_csv, models=["hist_gradient_boosting"], n_trials=1, folds=3, storage=url,
                  study="served")
    port = free_port()
    log = tmp_path / "dashboard.log"
    env = {k: v for k, v in os.environ.items() if k != "AUTOML_STORAGE"}
    with open(log, "w") as sink:  # cwd holds studies/automl.db: the default storage
        server = subprocess.Popen([sys.executable, "-m", "automl", "dashboard", "--port", str(port)], cwd=tmp_path,
                                  env=env, stdin=subprocess.DEVNULL, stdout=sink, stderr=subprocess.STDOUT)
    try:
        listing = wait_for(f"http://{HOST}:{port}", "/api/studies", server, log)
        assert [s["study_name"] for s in listing["study_summaries"]] == ["served"]
        assert _listening_addresses(port) == {"0100007F"}  # 127.0.0.1, nothing else
    finally:
        server.terminate()
        server.wait(timeout=10)


def test_automl_dashboard_refuses_a_missing_storage(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "automl", "dashboard", "--storage",
                           f"sqlite:///{tmp_path / 'none.db'}"], cwd=tmp_path, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines()[-1] == f"error: storage 'sqlite:///{tmp_path / 'none.db'}': no database " \
                                                   f"file at {tmp_path / 'none.db'}"
    assert not (tmp_path / "none.db").exists()
