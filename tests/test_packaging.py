"""The wheel keeps the repo layout importable without claiming the generic top-level names ``cli``/``plugins``."""

from __future__ import annotations

import subprocess
import sys
import sysconfig
import tomllib
import zipfile
from pathlib import Path

import pytest

from automl.protocols import GROUPS

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(out),
                    str(ROOT)], check=True)
    (built,) = out.glob("automl-*.whl")
    return built


def test_wheel_ships_only_namespaced_top_level_names(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    top = {name.split("/")[0] for name in names}
    assert {"automl", "automl_plugins", "automl_cli.py"} <= top
    assert not {"cli.py", "plugins", "tests", "studies"} & top
    entry_points = zipfile.ZipFile(wheel).read(next(n for n in names if n.endswith("entry_points.txt"))).decode()
    assert "automl = automl_cli:main" in entry_points
    assert "automl_plugins.nlp.tfidf_linear:TfidfLinear" in entry_points


def test_fresh_venv_install_lists_plugins_next_to_colliding_modules(wheel: Path, tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "-q", "--no-deps", "--no-index",
                    str(wheel)], check=True)
    fresh_site = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                                check=True, capture_output=True, text=True).stdout.strip()
    # the fresh venv sees the dependencies (torch, optuna, ...) of this environment after its own packages
    (Path(fresh_site) / "deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    # other code that owns the generic names `cli` and `plugins`, first on the path
    decoys = tmp_path / "decoys"
    (decoys / "plugins").mkdir(parents=True)
    (decoys / "plugins" / "__init__.py").write_text("raise ImportError('decoy plugins package imported')\n")
    (decoys / "cli.py").write_text("raise ImportError('decoy cli module imported')\n")
    result = subprocess.run([str(venv / "bin" / "automl"), "plugins", "list"], cwd=decoys, capture_output=True,
                            text=True, env={"PYTHONPATH": str(decoys), "PATH": "/usr/bin:/bin", "COLUMNS": "200"})
    assert result.returncode == 0, result.stderr
    entry_points = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["entry-points"]
    for name in (name for group in GROUPS.values() for name in entry_points[group]):
        assert name in result.stdout
    assert "broken" not in result.stdout
    where = subprocess.run([str(python), "-c", "import automl, automl_cli; print(automl.__file__)"], cwd=decoys,
                           capture_output=True, text=True, check=True).stdout
    assert where.startswith(fresh_site)


def test_editable_install_maps_the_wheel_names_onto_the_working_tree(tmp_path: Path) -> None:
    """``pip install -e .``: ``automl``, ``automl_plugins`` and ``automl_cli`` are the repository's own files (a
    change is live without a reinstall), and the repository's ``plugins``/``cli`` do not become top-level names."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    # what `pip install -e .` does: the build backend's PEP 660 editable wheel, then installing it
    dist = tmp_path / "dist"
    subprocess.run([sys.executable, "-c", f"from hatchling.build import build_editable; build_editable({str(dist)!r})"],
                   cwd=ROOT, check=True)
    (editable,) = dist.glob("automl-*.whl")
    subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "-q", "--no-deps", "--no-index",
                    str(editable)], check=True)
    fresh_site = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                                check=True, capture_output=True, text=True).stdout.strip()
    (Path(fresh_site) / "deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")  # editables, torch, ...
    probe = ("import importlib.util, automl, automl_plugins, automl_cli, automl_plugins.nlp.tfidf_linear as m\n"
             "print(automl.__file__, automl_plugins.__file__, automl_cli.__file__, m.__file__)\n"
             "print(importlib.util.find_spec('plugins'), importlib.util.find_spec('cli'))\n")
    result = subprocess.run([str(python), "-c", probe], cwd=tmp_path, capture_output=True, text=True,
                            env={"PATH": "/usr/bin:/bin"})
    assert result.returncode == 0, result.stderr
    files, hidden = result.stdout.splitlines()
    assert files.split() == [str(ROOT / "automl" / "__init__.py"), str(ROOT / "plugins" / "__init__.py"),
                             str(ROOT / "cli.py"), str(ROOT / "plugins" / "nlp" / "tfidf_linear.py")]
    assert hidden == "None None"
