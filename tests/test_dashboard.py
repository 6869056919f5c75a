"""optuna-dashboard, pointed at a storage automl wrote, lists the study and its trials: through its JSON API, and
in a real (headless) browser, which shows the study's name, its trials and the metric's name on the chart's axis.
``automl dashboard`` listens on 127.0.0.1 only unless ``--host`` says otherwise."""

from __future__ import annotations

import contextlib
import html.parser
import json
import os
import shutil
import signal
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
#: Set (by .ci/run) to fail, rather than skip, the browser test when Chromium is missing.
REQUIRE_BROWSER = "AUTOML_REQUIRE_BROWSER"
#: Virtual milliseconds headless Chromium lets a page run before it dumps it: optuna-dashboard fetches the study,
#: then draws its charts; 8000 is what they were measured to need (shared/README.md). Virtual time runs ahead
#: when the page is idle: a load takes about 4 s of real time.
VIRTUAL_TIME_MS = 8000
#: /proc/net/tcp's spelling of 127.0.0.1 and of 0.0.0.0 (every interface).
LOOPBACK, EVERY_INTERFACE = "0100007F", "00000000"


def free_port(host: str = HOST) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
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


def stop(process: subprocess.Popen) -> None:
    """Terminate ``process``; kill it if it has not exited 10 s later."""
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@contextlib.contextmanager
def automl_dashboard(log: Path, *args: str, cwd: Path | None = None,
                     env: dict[str, str] | None = None) -> Iterator[subprocess.Popen]:
    """``automl dashboard ARGS`` running as a subprocess (its output in ``log``); stopped on the way out, whatever
    happened."""
    with open(log, "w") as sink:
        server = subprocess.Popen([sys.executable, "-m", "automl", "dashboard", *args], cwd=cwd, env=env,
                                  stdin=subprocess.DEVNULL, stdout=sink, stderr=subprocess.STDOUT)
    try:
        yield server
    finally:
        stop(server)


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
        stop(server)


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
    assert detail["objective_names"] == ["accuracy"]  # the names optuna-dashboard labels its axes with
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


needs_proc_net = pytest.mark.skipif(not Path("/proc/net/tcp").exists(),
                                    reason="reads listening sockets from /proc/net/tcp")


@needs_proc_net
def test_automl_dashboard_serves_the_default_storage_on_loopback_only(tmp_path: Path, blobs_csv: Path) -> None:
    url = f"sqlite:///{tmp_path / 'studies' / 'automl.db'}"
    automl.search("tabular", blobs_csv, models=["hist_gradient_boosting"], n_trials=1, folds=3, storage=url,
                  study="served")
    port = free_port()
    log = tmp_path / "dashboard.log"
    env = {k: v for k, v in os.environ.items() if k != "AUTOML_STORAGE"}
    # cwd holds studies/automl.db: the default storage
    with automl_dashboard(log, "--port", str(port), cwd=tmp_path, env=env) as server:
        listing = wait_for(f"http://{HOST}:{port}", "/api/studies", server, log)
        assert [s["study_name"] for s in listing["study_summaries"]] == ["served"]
        assert _listening_addresses(port) == {LOOPBACK}  # 127.0.0.1, nothing else


@needs_proc_net
def test_automl_dashboard_listens_on_every_interface_when_host_says_so(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'empty.db'}"
    open_storage(url, heartbeat=False)
    port = free_port("0.0.0.0")
    log = tmp_path / "dashboard.log"
    with automl_dashboard(log, "--storage", url, "--host", "0.0.0.0", "--port", str(port)) as server:
        assert wait_for(f"http://{HOST}:{port}", "/api/studies", server, log)["study_summaries"] == []
        assert _listening_addresses(port) == {EVERY_INTERFACE}
    assert f"http://0.0.0.0:{port}" in log.read_text()


def test_automl_dashboard_refuses_a_missing_storage(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "automl", "dashboard", "--storage",
                           f"sqlite:///{tmp_path / 'none.db'}"], cwd=tmp_path, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines()[-1] == f"error: storage 'sqlite:///{tmp_path / 'none.db'}': no database " \
                                                   f"file at {tmp_path / 'none.db'}"
    assert not (tmp_path / "none.db").exists()


# --- in a real browser ---------------------------------------------------------------------------------------------


@pytest.fixture
def chromium() -> str:
    """The Chromium program (Debian's ``chromium``; ``scripts/chromium.sh`` installs it). Its tests are skipped
    where it is missing, and fail instead under ``AUTOML_REQUIRE_BROWSER=1``."""
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    message = "Chromium is not installed (Debian: apt-get install chromium, or scripts/chromium.sh)"
    if os.environ.get(REQUIRE_BROWSER):
        pytest.fail(message)
    pytest.skip(message)


class _Page(html.parser.HTMLParser):
    """What a person sees in a rendered DOM: its text (scripts and styles left out), and the titles of the charts'
    y axes (plotly's ``<text class="ytitle">``)."""

    def __init__(self, dom: str) -> None:
        super().__init__()
        self.words: list[str] = []
        self.y_titles: list[str] = []
        self._hidden = 0
        self._in_y_title = False
        self.feed(dom)
        self.close()
        self.text = " ".join(self.words)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._hidden += tag in ("script", "style")
        self._in_y_title = tag == "text" and "ytitle" in (dict(attrs).get("class") or "").split()

    def handle_endtag(self, tag: str) -> None:
        self._hidden -= tag in ("script", "style")
        self._in_y_title = False

    def handle_data(self, data: str) -> None:
        if self._hidden or not data.strip():
            return
        self.words.extend(data.split())
        if self._in_y_title:
            self.y_titles.append(data.strip())


def render(chromium: str, url: str, profile: Path, screenshot: Path) -> _Page:
    """Load ``url`` in headless Chromium, let its scripts run for :data:`VIRTUAL_TIME_MS`, and return the page as
    drawn (a PNG of it in ``screenshot``, to look at when a test fails). Chromium runs in a session of its own,
    killed with all its helpers on the way out."""
    command = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
               "--no-proxy-server", f"--user-data-dir={profile}", f"--virtual-time-budget={VIRTUAL_TIME_MS}",
               "--window-size=1280,900", f"--screenshot={screenshot}", "--dump-dom", url]
    browser = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True, start_new_session=True)
    try:
        dom, errors = browser.communicate(timeout=120)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(browser.pid, signal.SIGKILL)
        browser.wait()
    assert browser.returncode == 0 and "<body" in dom, f"chromium exited with {browser.returncode}:\n{errors[-3000:]}"
    return _Page(dom)


@needs_proc_net
def test_the_study_page_shows_the_study_its_trials_and_the_metric_in_a_browser(
        chromium: str, tmp_path: Path, moons_csv: Path) -> None:
    url = f"sqlite:///{tmp_path / 'studies.db'}"
    open_storage(url, heartbeat=False)  # the tables exist before the server starts: it refuses a missing storage
    port = free_port()
    log = tmp_path / "dashboard.log"
    with automl_dashboard(log, "--storage", url, "--port", str(port)) as server:
        # the server starts up while the search runs; it reads the storage on each request
        result = automl.search("tabular", moons_csv, models=["linear"], n_trials=2, folds=2, storage=url,
                               study="browsed")
        values = {t.number: t.value for t in result.study.trials}
        assert len(values) == 2 and 1.0 not in values.values()  # a float the page and Python spell alike
        base = f"http://{HOST}:{port}"
        [summary] = wait_for(base, "/api/studies", server, log)["study_summaries"]
        assert _listening_addresses(port) == {LOOPBACK}  # no --host: this machine only
        page = f"{base}/dashboard/studies/{summary['study_id']}"
        study = render(chromium, page, tmp_path / "profile", tmp_path / "study.png")
        trials = render(chromium, f"{page}/trials", tmp_path / "profile", tmp_path / "trials.png")

    header = f"browsed (id={summary['study_id']})"
    assert header in study.text and header in trials.text, study.text[:500]
    # the history chart plots the metric by name (the study names its objective), not as "Objective 0"
    assert "accuracy" in study.y_titles, study.y_titles
    assert "Objective 0" not in study.text
    best = result.study.best_trial.number
    assert f"Best Trial (number={best})" in study.text
    # the trial list: both trials, complete, with their mean CV accuracy
    assert "2 Trials" in trials.text, trials.text[:500]
    for number in values:
        assert f"Trial {number} Complete" in trials.text
    assert f"Value {values[0]!r}" in trials.text  # the first trial's details are open
    assert (tmp_path / "study.png").read_bytes().startswith(b"\x89PNG")
