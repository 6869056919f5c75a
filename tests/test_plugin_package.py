"""End to end: the example package of docs/plugins.md, pip-installed as a real distribution, works with the CLI;
a package whose plugin fails to import is listed as broken and does not stop a search.

The package is extracted from the doc alone (its fenced blocks named ``file=…``), so the doc cannot drift from
what works. Installs go to ``--target`` folders put on ``PYTHONPATH`` of CLI subprocesses: nothing leaks into
the venv, and nothing needs the network (``--no-index --no-build-isolation``, hatchling is in the venv).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path

import optuna
import pytest

DOC = Path(__file__).resolve().parents[1] / "docs" / "plugins.md"
FENCE = re.compile(r"^```[\w-]+ file=(?P<path>\S+)[^\n]*\n(?P<body>.*?)^```[ \t]*$", re.MULTILINE | re.DOTALL)

BROKEN_PYPROJECT = """\
[build-system]
requires = ["hatchling>=1.26"]
build-backend = "hatchling.build"

[project]
name = "automl-broken"
version = "0.2.0"
dependencies = ["automl"]

[project.entry-points."automl.models"]
broken_knn = "automl_broken:Model"

[tool.hatch.build.targets.wheel]
packages = ["automl_broken"]
"""

BROKEN_MODULE = 'raise ImportError("automl-broken needs the libfoo extension")\n'


@dataclass(frozen=True)
class Installed:
    root: Path
    package: Path
    site: Path
    dist: str
    version: str
    plugin: str


def doc_files() -> dict[str, str]:
    """The example package's files, by path, from the fenced ``file=`` blocks of docs/plugins.md."""
    files = {m["path"]: m["body"] for m in FENCE.finditer(DOC.read_text(encoding="utf-8"))}
    assert "pyproject.toml" in files, f"no ```toml file=pyproject.toml block in {DOC}"
    return files


def write_tree(root: Path, files: dict[str, str]) -> None:
    for rel, body in files.items():
        path = root / rel
        assert root in path.resolve().parents, rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(body, encoding="utf-8")


def pip_install(package: Path, site: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "--no-build-isolation", "--no-index",
         "--no-cache-dir", "--disable-pip-version-check", "--quiet", "--target", str(site), str(package)],
        capture_output=True, text=True, timeout=300,
    )
    assert done.returncode == 0, f"pip install {package.name} failed:\n{done.stdout}\n{done.stderr}"


def env_with(*sites: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(str(s) for s in sites)
    env["COLUMNS"] = "400"  # rich tables: one line per row, nothing ellipsized
    env["NO_COLOR"] = "1"
    env.pop("AUTOML_STORAGE", None)
    return env


def cli(*args: str, cwd: Path, sites: tuple[Path, ...], timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "automl", *args], cwd=cwd, env=env_with(*sites),
                          capture_output=True, text=True, timeout=timeout)


def table_row(output: str, name: str) -> list[str]:
    """Cells of the ``automl plugins list`` row whose first cell is ``name``."""
    for line in output.splitlines():
        cells = [c.strip() for c in line.strip().strip("│┃|").split("│")]
        if cells and cells[0] == name:
            return cells
    raise AssertionError(f"no row {name!r} in:\n{output}")


@pytest.fixture(scope="module")
def knn(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    root = tmp_path_factory.mktemp("knn")
    package = root / "pkg-knn"  # not an importable name: cwd of the CLI is root
    files = doc_files()
    write_tree(package, files)
    project = tomllib.loads(files["pyproject.toml"])["project"]
    models = project["entry-points"]["automl.models"]
    assert len(models) == 1, models
    site = root / "site"
    pip_install(package, site)
    return Installed(root, package, site, project["name"], project["version"], next(iter(models)))


@pytest.fixture(scope="module")
def broken(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    root = tmp_path_factory.mktemp("broken")
    package = root / "pkg-broken"
    write_tree(package, {"pyproject.toml": BROKEN_PYPROJECT, "automl_broken/__init__.py": BROKEN_MODULE})
    site = root / "site"
    pip_install(package, site)
    return Installed(root, package, site, "automl-broken", "0.2.0", "broken_knn")


def test_the_doc_example_is_a_hatchling_package_with_one_model_entry_point(knn):
    pyproject = tomllib.loads((knn.package / "pyproject.toml").read_text())
    assert pyproject["build-system"]["build-backend"] in ("hatchling.build", "setuptools.build_meta")
    dist_info = knn.site / f"{knn.dist.replace('-', '_')}-{knn.version}.dist-info"
    assert (dist_info / "entry_points.txt").read_text().count("[automl.models]") == 1


def test_plugins_list_shows_the_installed_plugin_ok(knn):
    done = cli("plugins", "list", cwd=knn.root, sites=(knn.site,))
    assert done.returncode == 0, done.stderr
    name, kind, applies, origin, status = table_row(done.stdout, knn.plugin)
    assert (kind, origin, status) == ("model", f"{knn.dist} {knn.version}", "ok")
    assert "tabular" in applies
    assert table_row(done.stdout, "hist_gradient_boosting")[3].startswith("automl ")  # built-ins still there

    only_tabular = cli("plugins", "list", "--task", "tabular", cwd=knn.root, sites=(knn.site,))
    assert only_tabular.returncode == 0, only_tabular.stderr
    assert table_row(only_tabular.stdout, knn.plugin)[4] == "ok"


def test_search_with_the_plugin_stores_its_trials(knn):
    url = f"sqlite:///{knn.root / 's.db'}"
    done = cli("search", "--task", "tabular", "--models", knn.plugin, "--n-trials", "3", "--folds", "3",
               "--storage", url, "-q", cwd=knn.root, sites=(knn.site,))
    assert done.returncode == 0, f"{done.stdout}\n{done.stderr}"
    [name] = optuna.get_all_study_names(url)
    study = optuna.load_study(study_name=name, storage=url)
    complete = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    assert len(complete) == 3, [(t.state, t.user_attrs.get("fail_reason")) for t in study.trials]
    assert {t.params["model"] for t in study.trials} == {knn.plugin}
    for trial in complete:
        own = [p for p in trial.params if p != "model"]
        assert own and all(p.startswith(f"model.{knn.plugin}.") for p in own), trial.params
        assert 0.5 < trial.value <= 1.0


def test_the_doc_example_tests_pass(knn):
    tests = knn.package / "tests"
    if not tests.is_dir():
        pytest.skip("the doc's example package has no tests/ folder")
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tests)],
                          cwd=knn.package, env=env_with(knn.site), capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, f"{done.stdout}\n{done.stderr}"


def test_a_plugin_failing_to_import_is_listed_broken_and_search_still_works(knn, broken):
    sites = (knn.site, broken.site)
    listed = cli("plugins", "list", cwd=broken.root, sites=sites)
    assert listed.returncode == 0, listed.stderr
    name, kind, applies, origin, status = table_row(listed.stdout, broken.plugin)
    assert (kind, origin) == ("model", f"{broken.dist} {broken.version}")
    assert status == "broken: import failed: ImportError: automl-broken needs the libfoo extension"
    assert table_row(listed.stdout, knn.plugin)[4] == "ok"
    assert table_row(listed.stdout, "mlp")[4] == "ok"

    url = f"sqlite:///{broken.root / 's.db'}"
    # every working tabular model may be chosen (mlp too: one torch thread keeps it fast on a busy 2-core box)
    done = cli("search", "--task", "tabular", "--n-trials", "2", "--folds", "3", "--threads", "1", "--storage", url,
               "-q", cwd=broken.root, sites=sites)
    assert done.returncode == 0, f"{done.stdout}\n{done.stderr}"
    [name] = optuna.get_all_study_names(url)
    study = optuna.load_study(study_name=name, storage=url)
    states = [t.state for t in study.trials]
    assert states.count(optuna.trial.TrialState.COMPLETE) + states.count(optuna.trial.TrialState.PRUNED) == 2
    assert all(t.params["model"] != broken.plugin for t in study.trials)

    asked = cli("search", "--task", "tabular", "--models", broken.plugin, "--n-trials", "1", "--folds", "3",
                "--storage", url, "--study", "asked-for-broken", "-q", cwd=broken.root, sites=sites)
    assert asked.returncode == 2
    assert "broken" in asked.stderr and "libfoo" in asked.stderr
