"""End to end: the example third-party package of ``examples/automl-plugin-example`` (one model, one optimizer,
one regularizer), pip-installed as a real distribution, is discovered, checked and sampled by the CLI, and its own
test suite passes against the install. Broken copies of it, generated from the example, are reported clearly
while the host keeps working: (a) a plugin module that raises ImportError, (b) a model with an invalid search
space.

Installs go to ``--target`` folders put on ``PYTHONPATH`` of CLI subprocesses: nothing leaks into the venv, and
nothing needs the network (``--no-index --no-build-isolation``; hatchling is in the venv). Each package is
installed once per module.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
import tomllib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import optuna
import pytest

from automl.testing import synthetic_dataset

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "automl-plugin-example"
GROUPS = {"model": "automl.models", "optimizer": "automl.optimizers", "regularizer": "automl.regularizers"}
COMPLETE = optuna.trial.TrialState.COMPLETE

DATA = "data.csv"  # a small generated table (automl.testing.synthetic_dataset) in each package's root: fast trials
IMPORT_ERROR = "tabular_resnet needs the fastkernels extension, which is not installed"
BAD_SPACE_REASON = "parameter 'scale': a log range needs low > 0, got low=0.0"


@dataclass(frozen=True)
class Package:
    """One installed copy of the example: its source, ``--target`` site, distribution and plugins."""

    root: Path  # working folder of the CLI calls
    source: Path
    site: Path
    storage: str  # SQLite URL of its studies
    dist: str
    version: str
    names: dict[str, str]  # plugin kind -> entry-point name
    values: dict[str, str]  # plugin kind -> "module:attribute"

    @property
    def origin(self) -> str:
        return f"{self.dist} {self.version}"

    def module_file(self, kind: str) -> Path:
        """Source file of the module that the ``kind`` entry point names (src/ or flat layout)."""
        relative = self.values[kind].partition(":")[0].replace(".", "/") + ".py"
        for path in (self.source / "src" / relative, self.source / relative):
            if path.is_file():
                return path
        raise AssertionError(f"no {relative} in {self.source}")


def read_package(source: Path, root: Path, studies: Path) -> Package:
    project = tomllib.loads((source / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    entry_points = project.get("entry-points", {})
    names, values = {}, {}
    for kind, group in GROUPS.items():
        assert len(entry_points.get(group, {})) == 1, f"{source.name}: expected one {group} entry point"
        [(names[kind], values[kind])] = entry_points[group].items()
    return Package(root, source, root / "site", f"sqlite:///{studies / root.name}.db", project["name"],
                   project["version"], names, values)


def pip_install(package: Path, site: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "--no-build-isolation", "--no-index",
         "--no-cache-dir", "--disable-pip-version-check", "--quiet", "--target", str(site), str(package)],
        capture_output=True, text=True, timeout=300,
    )
    assert done.returncode == 0, f"pip install {package} failed:\n{done.stdout}\n{done.stderr}"


def env_with(site: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(site)
    env["PYTHONDONTWRITEBYTECODE"] = "1"  # the example's own tests run in its source folder: leave it clean
    env["OMP_NUM_THREADS"] = "1"  # small fits in parallel processes on a small machine: no thread oversubscription
    env["COLUMNS"] = "400"  # rich tables: one line per row, nothing ellipsized
    env["NO_COLOR"] = "1"
    for name in ("AUTOML_STORAGE", "AUTOML_DISABLE_PLUGIN_AUTOLOAD", "AUTOML_PLUGINS"):
        env.pop(name, None)
    return env


def cli(package: Package, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "automl", *args], cwd=package.root, env=env_with(package.site),
                          capture_output=True, text=True, timeout=timeout)


def search(package: Package, study: str, *args: str) -> tuple[subprocess.CompletedProcess[str], optuna.Study]:
    """``automl search --task tabular`` of the generated table into study ``study`` of the package's storage:
    the run and the study."""
    done = cli(package, "search", "--task", "tabular", "--data", DATA, "--target", "label", "--folds", "2",
               "--threads", "1", "--pruner", "none", "--storage", package.storage, "--study", study, "-q", *args)
    return done, optuna.load_study(study_name=study, storage=package.storage)


def table_row(output: str, name: str) -> list[str]:
    """Cells of the rich-table row whose first cell is ``name``."""
    for line in output.splitlines():
        cells = [c.strip() for c in line.strip().strip("│┃|").split("│")]
        if cells and cells[0] == name:
            return cells
    raise AssertionError(f"no row {name!r} in:\n{output}")


def write_data(root: Path) -> None:
    data = synthetic_dataset("tabular", "classification", n=100)
    data.X.assign(label=data.y).to_csv(root / DATA, index=False)


def copy_example(tmp_path_factory: pytest.TempPathFactory, studies: Path, label: str,
                 change: Callable[[Package], None]) -> Package:
    """A copy of the example renamed ``automl-plugin-example-<label>`` 0.2.0, changed by ``change``, installed."""
    root = tmp_path_factory.mktemp(label)
    write_data(root)
    source = root / "pkg"  # not an importable name: cwd of the CLI is root
    shutil.copytree(EXAMPLE, source, ignore=shutil.ignore_patterns("__pycache__", "*.pyc", ".pytest_cache",
                                                                   "build", "dist", "*.egg-info"))
    pyproject = source / "pyproject.toml"
    text, renamed = re.subn(r'(?m)^name = "([^"]+)"$', rf'name = "\1-{label}"', pyproject.read_text("utf-8"), count=1)
    text, versioned = re.subn(r'(?m)^version = "[^"]+"$', 'version = "0.2.0"', text, count=1)
    assert renamed == versioned == 1, "the example's pyproject.toml has no `name = ...` / `version = ...` line"
    pyproject.write_text(text, encoding="utf-8")
    package = read_package(source, root, studies)
    change(package)
    pip_install(source, package.site)
    return package


@dataclass(frozen=True)
class OwnTests:
    """The example's own test suite, running in the background against the install (a second core is free while
    the CLI calls run one thread each)."""

    process: subprocess.Popen[bytes]
    log: Path


@pytest.fixture(scope="module")
def studies(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Folder of the study databases: in memory (tmpfs) where there is one. Trials report every epoch, and on a
    disk each SQLite commit waits for fsync: that halved the searches' wall time on the 2-core box."""
    shm = Path("/dev/shm")
    if not (shm.is_dir() and os.access(shm, os.W_OK)):
        yield tmp_path_factory.mktemp("studies")
        return
    folder = Path(tempfile.mkdtemp(prefix="automl-test-plugin-package-", dir=shm))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory, studies: Path) -> Iterator[tuple[Package, OwnTests]]:
    root = tmp_path_factory.mktemp("example")
    write_data(root)
    package = read_package(EXAMPLE, root, studies)
    pip_install(EXAMPLE, package.site)
    log = root / "own-tests.log"
    with log.open("wb") as out:
        process = subprocess.Popen([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
                                   cwd=package.source, env=env_with(package.site), stdout=out,
                                   stderr=subprocess.STDOUT)
    try:
        yield package, OwnTests(process, log)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


@pytest.fixture(scope="module")
def example(installed: tuple[Package, OwnTests]) -> Package:
    return installed[0]


@pytest.fixture(scope="module")
def import_broken(tmp_path_factory: pytest.TempPathFactory, studies: Path) -> Package:
    """The example whose model module raises ImportError (as a missing dependency would)."""

    def break_import(package: Package) -> None:
        with package.module_file("model").open("a", encoding="utf-8") as module:
            module.write(f"\nraise ImportError({IMPORT_ERROR!r})\n")

    return copy_example(tmp_path_factory, studies, "broken", break_import)


@pytest.fixture(scope="module")
def bad_space(tmp_path_factory: pytest.TempPathFactory, studies: Path) -> Package:
    """The example whose model suggests a log-scaled float with low = 0: it imports and validates fine."""

    def break_space(package: Package) -> None:
        attribute = package.values["model"].partition(":")[2]
        with package.module_file("model").open("a", encoding="utf-8") as module:
            module.write(f"\n\ndef _bad_search_space(self, space):\n"
                         f"    space.suggest_float('scale', 0.0, 1.0, log=True)\n\n\n"
                         f"{attribute}.search_space = _bad_search_space\n")

    return copy_example(tmp_path_factory, studies, "badspace", break_space)


# -- the example, installed ---------------------------------------------------------------------------------------


def test_the_example_is_a_package_with_one_entry_point_per_group(example):
    pyproject = tomllib.loads((example.source / "pyproject.toml").read_text(encoding="utf-8"))
    assert pyproject["build-system"]["build-backend"] == "hatchling.build"
    assert any(re.match(r"automl\b", dep) for dep in pyproject["project"]["dependencies"])
    entry_points = (example.site / f"{example.dist.replace('-', '_')}-{example.version}.dist-info"
                    / "entry_points.txt").read_text(encoding="utf-8")
    for kind, group in GROUPS.items():
        assert f"[{group}]\n{example.names[kind]} = {example.values[kind]}" in entry_points
    assert (example.source / "tests").is_dir() and (example.source / "README.md").is_file()


def test_plugins_list_shows_the_three_plugins_ok_with_their_distribution(example):
    done = cli(example, "plugins", "list")
    assert done.returncode == 0, done.stderr
    applies = {"model": ("tabular", "torch"), "optimizer": ("torch",), "regularizer": ("torch",)}
    for kind, name in example.names.items():
        row = table_row(done.stdout, name)
        assert [row[0], row[1], *row[3:]] == [name, kind, example.origin, "ok"], row
        assert all(word in row[2] for word in applies[kind]), row
    builtin = table_row(done.stdout, "mlp")  # the built-ins are still there
    assert builtin[3].startswith("automl ") and builtin[4] == "ok"


def test_plugins_check_passes_the_three_plugins(example):
    done = cli(example, "plugins", "check", *example.names.values())
    assert done.returncode == 0, f"{done.stdout}\n{done.stderr}"
    for kind, name in example.names.items():
        row = table_row(done.stdout, name)
        assert row[:4] == [name, kind, example.origin, "pass"], row
    assert "tabular/regression" in table_row(done.stdout, example.names["model"])[4]


def test_a_search_samples_the_three_plugins_and_stores_their_params(example):
    model, optimizer, regularizer = (example.names[k] for k in GROUPS)
    done, study = search(example, "example", "--models", model, "--optimizers", optimizer,
                         "--regularizers", regularizer, "--n-trials", "3", "--sampler", "random")
    assert done.returncode == 0, f"{done.stdout}\n{done.stderr}"
    assert [t.state for t in study.trials] == [COMPLETE] * 3, [t.user_attrs.get("fail_reason") for t in study.trials]
    for trial in study.trials:
        assert (trial.params["model"], trial.params["optimizer"]) == (model, optimizer)
        own = {p.split(".")[0] for p in trial.params if p.startswith((f"model.{model}.", f"optimizer.{optimizer}."))}
        assert own == {"model", "optimizer"}, trial.params
        switched_on = trial.params[f"regularizer.{regularizer}"]
        assert switched_on == any(p.startswith(f"regularizer.{regularizer}.") for p in trial.params), trial.params
    assert max(t.value for t in study.trials) > 0.7  # accuracy on a learnable two-class table
    assert any(t.params[f"regularizer.{regularizer}"] for t in study.trials)  # seed 0 switches it on
    space = study.user_attrs["automl"]["space"]  # the study records which plugins (and versions) it was made of
    assert space == {"models": {model: example.origin}, "optimizers": {optimizer: example.origin},
                     "regularizers": {regularizer: example.origin}}


def test_the_examples_own_tests_pass_against_the_install(installed):
    own = installed[1]  # `pytest` in the example's folder, started when the example was installed
    returncode = own.process.wait(timeout=300)
    output = own.log.read_text(encoding="utf-8", errors="replace")
    assert returncode == 0, output
    assert re.search(r"\b\d+ passed\b", output) and "skipped" not in output, output


# -- (a) a plugin module that fails to import ---------------------------------------------------------------------


def test_a_plugin_failing_to_import_is_listed_broken_and_the_rest_keeps_working(import_broken):
    package = import_broken
    model = package.names["model"]
    listed = cli(package, "plugins", "list")
    assert listed.returncode == 0, listed.stderr
    assert table_row(listed.stdout, model) == [model, "model", "?", package.origin,
                                               f"broken: import failed: ImportError: {IMPORT_ERROR}"]
    # the entry points name one module per plugin: the package's other plugins load
    for kind in ("optimizer", "regularizer"):
        assert table_row(listed.stdout, package.names[kind])[3:] == [package.origin, "ok"]
    assert table_row(listed.stdout, "mlp")[4] == "ok"

    # every working tabular model may be chosen; the broken one never is
    done, study = search(package, "tabular", "--n-trials", "2")
    assert done.returncode == 0, f"{done.stdout}\n{done.stderr}"
    assert [t.state for t in study.trials] == [COMPLETE] * 2, [t.user_attrs.get("fail_reason") for t in study.trials]
    assert all(t.params["model"] != model for t in study.trials)

    asked = cli(package, "search", "--task", "tabular", "--models", model, "--n-trials", "1",
                "--storage", package.storage, "--study", "asked", "-q")
    assert asked.returncode == 2
    assert f"model plugin {model!r} ({package.origin}) is broken: import failed: ImportError: {IMPORT_ERROR}" \
        in asked.stderr


# -- (b) a model with an invalid search space ---------------------------------------------------------------------


def test_plugins_check_reports_the_bad_search_space(bad_space):
    model = bad_space.names["model"]
    done = cli(bad_space, "plugins", "check", model)
    assert done.returncode == 1, f"{done.stdout}\n{done.stderr}"
    assert table_row(done.stdout, model) == [
        model, "model", bad_space.origin, "FAIL",
        f"SearchSpaceError: model plugin {model!r} ({bad_space.origin}): {BAD_SPACE_REASON}"]
    assert "1 of 1 plugins failed their checks" in done.stderr


def test_a_search_naming_other_models_is_unaffected_by_the_bad_space(bad_space):
    done, study = search(bad_space, "others", "--models", "linear,k_neighbors", "--n-trials", "2")
    assert done.returncode == 0, f"{done.stdout}\n{done.stderr}"
    assert [t.state for t in study.trials] == [COMPLETE] * 2


def test_a_search_that_could_pick_the_bad_space_leaves_it_out_before_any_trial(bad_space):
    """Every candidate's space is drawn before the first trial: the bad model is left out with one warning line,
    and a search that names it stops with one error line before creating its study."""
    model = bad_space.names["model"]
    reason = f"model plugin {model!r} ({bad_space.origin}): {BAD_SPACE_REASON}"

    done, study = search(bad_space, "open", "--n-trials", "2")
    assert done.returncode == 0, f"{done.stdout}\n{done.stderr}"
    assert f"warning: {reason} -- left out of this search" in done.stderr
    assert [t.state for t in study.trials] == [COMPLETE] * 2
    assert all(t.params["model"] != model for t in study.trials)
    assert model not in study.user_attrs["automl"]["space"]["models"]

    named = cli(bad_space, "search", "--task", "tabular", "--data", DATA, "--target", "label", "--models",
                f"{model},linear", "--storage", bad_space.storage, "--study", "named", "-q")
    assert named.returncode == 2, f"{named.stdout}\n{named.stderr}"
    assert named.stderr.strip() == f"error: {reason}"
    assert "named" not in optuna.get_all_study_names(bad_space.storage)
