"""Fixtures of the backend tests: a real two-node Ray cluster, a package of test plugins the cluster's workers
load like any installed plugin, and the process table checks that nothing of Ray is left behind."""

from __future__ import annotations

import importlib
import os
import secrets
import signal
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import optuna
import pytest

from automl.backends import _ray_reaper
from automl.backends.ray_cluster import MARKER_VAR
from automl.envvars import environ

#: Model plugins of the contract tests: one that always fails, one that takes a known time per fold.
PLUGINS = '''"""Model plugins for automl's backend tests (distribution automl-contract-plugins)."""
import os
import time

from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.linear_model import LogisticRegression

from automl.protocols import API_VERSION, ModelPlugin


class Fails(ModelPlugin):
    name = "fails"
    api_version = API_VERSION
    tasks = frozenset({"tabular"})
    family = "sklearn"

    def search_space(self, space):
        space.suggest_float("x", 0.0, 1.0)

    def build(self, params, problem):
        raise RuntimeError("planned failure")


class SlowLogistic(ClassifierMixin, BaseEstimator):
    def __init__(self, C=1.0, seconds=0.5):
        self.C = C
        self.seconds = seconds

    def fit(self, X, y):
        time.sleep(self.seconds)
        self.model_ = LogisticRegression(C=self.C).fit(X, y)
        self.classes_ = self.model_.classes_
        return self

    def predict(self, X):
        return self.model_.predict(X)

    def predict_proba(self, X):
        return self.model_.predict_proba(X)


class Slow(ModelPlugin):
    name = "slow"
    api_version = API_VERSION
    tasks = frozenset({"tabular"})
    family = "sklearn"

    def search_space(self, space):
        space.suggest_float("C", 1e-3, 1e2, log=True)

    def build(self, params, problem):
        return SlowLogistic(C=params["C"], seconds=float(os.environ.get("AUTOML_TEST_SLOW_SECONDS", "0.5")))
'''
# Every Ray cluster of the test session (the shared one, and those searches start) uses token authentication with one
# random token: set before Ray is first imported here, since Ray reads its auth mode once per process.
os.environ.setdefault("RAY_AUTH_MODE", "token")
os.environ.setdefault("RAY_AUTH_TOKEN", secrets.token_hex(32))

ENTRY_POINTS = "[automl.models]\nfails = automl_contract_plugins:Fails\nslow = automl_contract_plugins:Slow\n"


@pytest.fixture(scope="session")
def plugin_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder holding the distribution ``automl-contract-plugins`` (module + dist-info with its entry points)."""
    site = tmp_path_factory.mktemp("contract-site")
    (site / "automl_contract_plugins.py").write_text(PLUGINS)
    info = site / "automl_contract_plugins-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: automl-contract-plugins\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(ENTRY_POINTS)
    return site


@pytest.fixture
def contract_plugins(plugin_site: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The test plugins installed for this test: on this process's path and on its subprocesses'."""
    monkeypatch.syspath_prepend(str(plugin_site))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(plugin_site), os.environ.get("PYTHONPATH")])))
    importlib.invalidate_caches()
    return plugin_site


_cluster_marker: list[str] = []  # the session cluster's marker, once it runs


def _session_pids() -> list[int]:
    """Processes started for a Ray cluster by automl (their environment carries a session marker), but for the
    test session's own cluster."""
    own = {f"{MARKER_VAR}={marker}".encode() for marker in _cluster_marker}
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            environ = (entry / "environ").read_bytes().split(b"\0")
        except OSError:
            continue
        if any(item.startswith(f"{MARKER_VAR}=".encode()) and item not in own for item in environ):
            found.append(int(entry.name))
    return found


@pytest.fixture
def ray_leftovers() -> Callable[[], list[int]]:
    """A check that no process of a Ray cluster started by a search is left: polls (0.2 s) up to 30 s while some
    are, then returns them, killed, so that a failure does not spill into other tests."""

    def check() -> list[int]:
        deadline = time.monotonic() + 30
        while (left := _session_pids()) and time.monotonic() < deadline:
            time.sleep(0.2)
        for pid in left:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        return left

    return check


Trials = list[optuna.trial.FrozenTrial]


@pytest.fixture
def signal_when() -> Callable[..., tuple[str, int, Trials]]:
    """A runner of commands that are interrupted at a chosen moment: ``signal_when(args, url, study, ready, sig,
    cwd=..., env=None, group=False)`` starts ``args``, polls the study every 0.1 s until ``ready(trials)`` holds,
    then sends ``sig`` to the command (``group``: to its whole process group, its workers too), and returns its
    output, exit status and the trials at that moment. The test fails when the command ends first or after 240 s."""

    def run(args: list[str], url: str, study: str, ready: Callable[[Trials], bool], sig: signal.Signals, *,
            cwd: Path, env: dict[str, str] | None = None, group: bool = False) -> tuple[str, int, Trials]:
        proc = subprocess.Popen(args, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                start_new_session=True)
        caught: Trials | None = None
        deadline = time.monotonic() + 240
        try:
            while caught is None and time.monotonic() < deadline and proc.poll() is None:
                try:
                    trials = optuna.load_study(study_name=study, storage=url).trials
                except (KeyError, ValueError):  # not created yet
                    trials = []
                if ready(trials):
                    caught = trials
                    (os.killpg if group else os.kill)(proc.pid, sig)
                time.sleep(0.1)
            output = proc.communicate(timeout=120)[0]
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        assert caught is not None, f"the moment to signal never came: {output}"
        return output, proc.returncode, caught

    return run


@pytest.fixture(scope="session")
def ray_cluster(plugin_site: Path) -> Iterator[str]:
    """A real two-node Ray cluster on this machine (Ray's ``cluster_utils.Cluster``): the head with one CPU, a
    second node with one CPU and one declared GPU (Ray hands out its id like a real one; this machine has none).
    The session's token authentication, the test plugins on the workers' path. Yields its address; at the end it is shut
    down through Ray's API and the process table is checked for anything left."""
    from ray.cluster_utils import Cluster

    marker = uuid.uuid4().hex
    path = os.pathsep.join(filter(None, [str(plugin_site), os.environ.get("PYTHONPATH")]))
    with environ({MARKER_VAR: marker, "PYTHONPATH": path}):  # the drivers of the tests keep neither
        cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1})
        cluster.add_node(num_cpus=1, num_gpus=1)
    _cluster_marker.append(marker)
    try:
        yield cluster.address
    finally:
        cluster.shutdown()
        _cluster_marker.remove(marker)
        deadline = time.monotonic() + 30
        while (left := _ray_reaper.session_pids(marker)) and time.monotonic() < deadline:
            time.sleep(0.2)
        if left:
            _ray_reaper.reap(marker, "/nonexistent")
            pytest.fail(f"Ray processes left after the cluster's shutdown: {left}")

