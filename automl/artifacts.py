"""Model directories: writing a :class:`~automl.model.Model` to disk and reading it back without running code from
the directory.

A model directory holds:

* ``model.json``: the card (study, trial, parameters, metric and scores, data fingerprint, classes, input schema,
  plugins with their distributions and versions, library versions, the files below);
* ``featurizer.skops`` (when the model has a featurizer) and ``estimator.skops`` (scikit-learn family): skops
  files, which describe objects as data; loading builds only the types a policy trusts (below) and refuses the
  file otherwise, listing the types it asked for;
* ``weights.safetensors`` (torch family): tensors only; the module is rebuilt by the installed model plugin from
  the card's parameters, then its weights are loaded.

Nothing is ever unpickled. **Trusted types** when loading a skops file: classes that skops trusts by default, classes
of scikit-learn, NumPy and SciPy, and classes or functions of the model plugin's own (installed) package. Anything
else (a function of another package, a class of a module the directory names) refuses the whole directory.
Loading also refuses a directory whose card is not a model card, lacks a file it lists, names a plugin that is
not installed in the same version, or whose schema does not match its featurizer; each with one line.
"""

from __future__ import annotations

import importlib
import inspect
import json
import os
import shutil
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from automl.exceptions import ConfigError
from automl.model import FittedModel, Model
from automl.protocols import Problem
from automl.registry import PluginRecord, Registry, discover
from automl.space import Candidates, configure

__all__ = ["CARD", "FORMAT", "load_model", "model_files", "save_model", "trusted_types", "write_card"]

#: Name of the card file in a model directory, and the format it declares.
CARD = "model.json"
FORMAT = "automl-model/1"
#: Packages whose classes a skops file may build (with those of the model plugin's package).
TRUSTED_PACKAGES = ("sklearn", "numpy", "scipy")


def _plugin_package(record: PluginRecord) -> str:
    """Top-level package of a plugin's entry point (``automl_plugins`` for the built-ins)."""
    return record.value.partition(":")[0].split(".")[0]


def trusted_types(names: list[str], plugin_package: str) -> tuple[list[str], list[str]]:
    """Split the type names a skops file asks for (beyond skops' defaults) into ``(trusted, refused)``: classes
    of :data:`TRUSTED_PACKAGES`, and classes or functions of ``plugin_package``. Names of any other package are
    refused by name, without importing anything; a name of a trusted package is looked up by importing its module
    (installed scikit-learn, NumPy or SciPy code) to check that it is a class."""
    trusted, refused = [], []
    for name in names:
        module, _, attribute = name.rpartition(".")
        top = module.split(".")[0]
        if top == plugin_package:
            trusted.append(name)
            continue
        try:
            is_class = top in TRUSTED_PACKAGES and inspect.isclass(getattr(importlib.import_module(module), attribute))
        except (ImportError, AttributeError, ValueError):
            is_class = False
        (trusted if is_class else refused).append(name)
    return trusted, refused


def _load_skops(path: Path, plugin_package: str) -> Any:
    import skops.io as sio

    try:
        names = sio.get_untrusted_types(file=path)
    except Exception as exc:  # not a skops file at all (e.g. a pickle put in its place)
        raise ConfigError(f"{path}: not a readable skops file ({type(exc).__name__}: {exc}); refused") from exc
    trusted, refused = trusted_types(names, plugin_package)
    if refused:
        raise ConfigError(f"{path}: asks to build {', '.join(refused)}, which automl does not trust (only "
                          f"scikit-learn, NumPy, SciPy and {plugin_package} types); refused")
    try:
        return sio.load(path, trusted=trusted)
    except Exception as exc:
        raise ConfigError(f"{path}: cannot be loaded: {type(exc).__name__}: {exc}") from exc


def _record(registry: Registry, kind: str, entry: dict[str, Any], where: Path) -> PluginRecord:
    try:
        record = registry.get(kind, entry["name"])
    except Exception as exc:
        raise ConfigError(f"{where}: needs the {kind} plugin {entry['name']!r} ({entry['origin']}): {exc}") from exc
    if record.origin != entry["origin"]:
        raise ConfigError(f"{where}: was written with the {kind} plugin {entry['name']!r} from {entry['origin']}, "
                          f"but {record.origin} is installed; install the same version")
    return record


def _card(directory: Path) -> dict[str, Any]:
    path = directory / CARD
    if not path.is_file():
        raise ConfigError(f"{directory}: not a model directory (no {CARD})")
    try:
        card = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ConfigError(f"{path}: not a readable model card: {exc}") from exc
    if not isinstance(card, dict) or card.get("format") != FORMAT:
        raise ConfigError(f"{path}: not an automl model card (format {FORMAT!r} expected)")
    for name in card.get("files", {}).values():
        if not isinstance(name, str) or Path(name).name != name or not (directory / name).is_file():
            raise ConfigError(f"{directory}: the file {name!r} the card lists is missing")
    return card


def write_card(directory: Path, card: dict[str, Any]) -> None:
    """Write ``card`` as the ``model.json`` of ``directory`` (replacing it whole, never half written)."""
    staging = directory / f".{CARD}.tmp"
    staging.write_text(json.dumps(card, indent=2, default=str), encoding="utf-8")
    os.replace(staging, directory / CARD)


def _plain_numbers(obj: Any, seen: set[int] | None = None) -> None:
    """Turn the NumPy integers of dicts inside ``obj`` (a fitted vectorizer's vocabulary) into Python ints, in
    place: skops writes each NumPy scalar as a file of its own, which made a 30,000-term vocabulary a 21 MB file
    that took 20 s to write; as plain ints it takes under a second. Indices keep their meaning."""
    seen = set() if seen is None else seen
    if id(obj) in seen:
        return
    seen.add(id(obj))
    if isinstance(obj, dict):
        for key, value in obj.items():
            if isinstance(value, np.integer):
                obj[key] = int(value)
            else:
                _plain_numbers(value, seen)
    elif isinstance(obj, (list, tuple)):
        for item in obj:
            _plain_numbers(item, seen)
    elif hasattr(obj, "__dict__") and not isinstance(obj, (type, np.ndarray)):
        _plain_numbers(vars(obj), seen)


def _skops_bytes(obj: Any) -> bytes:
    import skops.io as sio

    _plain_numbers(obj)
    return sio.dumps(obj, compression=zipfile.ZIP_DEFLATED)


def model_files(fitted: FittedModel) -> dict[str, bytes]:
    """The files of a model directory that hold ``fitted`` (all but the card), by name: ``featurizer.skops`` when
    it has a featurizer, then ``weights.safetensors`` (torch) or ``estimator.skops`` (scikit-learn)."""
    files: dict[str, bytes] = {}
    if fitted.problem.featurizer is not None:
        files["featurizer.skops"] = _skops_bytes(fitted.problem.featurizer)
    if fitted.trained is not None:
        from safetensors.torch import save

        from automl.compression import module_tensors

        files["weights.safetensors"] = save(module_tensors(fitted.trained.module))
    else:
        files["estimator.skops"] = _skops_bytes(fitted.estimator)
    return files


def save_model(model: Model, directory: str | Path) -> Path:
    """Write ``model`` to the new (or empty) folder ``directory``; returns its path. The files are written to a
    temporary folder first and moved into place at the end, so a failed save leaves nothing half written."""
    target = Path(directory)
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise ConfigError(f"{target}: exists and is not an empty folder; choose another --out")
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".automl-model-", dir=target.parent))
    try:
        files = {}
        for name, content in model_files(model.fitted).items():
            (staging / name).write_bytes(content)
            files[name.partition(".")[0]] = name
        card = {**model.card, "format": FORMAT, "files": files}
        write_card(staging, card)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(staging, 0o777 & ~umask)  # a folder like any other, not mkdtemp's private one
        if target.exists():
            target.rmdir()
        os.replace(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    model.card = card
    return target


def load_model(directory: str | Path, *, device: str = "cpu", registry: Registry | None = None) -> Model:
    """Read the model directory ``directory`` (see the module docstring for what is checked and refused); torch
    models are put on ``device``."""
    where = Path(directory)
    card = _card(where)
    try:
        return _build(where, card, registry or discover(), device)
    except (KeyError, TypeError) as exc:  # a card with a field missing or of the wrong type
        raise ConfigError(f"{where / CARD}: malformed model card ({type(exc).__name__}: {exc}); refused") from exc


def _build(where: Path, card: dict[str, Any], registry: Registry, device: str) -> Model:
    plugins = card["plugins"]
    model = _record(registry, "model", plugins["model"], where)
    optimizer = _record(registry, "optimizer", plugins["optimizer"], where) if plugins.get("optimizer") else None
    regularizers = tuple(_record(registry, "regularizer", entry, where) for entry in plugins.get("regularizers", []))
    config = configure(card["params"], Candidates((model,), (optimizer,) if optimizer else (), regularizers))
    package = _plugin_package(model)
    featurizer = _load_skops(where / card["files"]["featurizer"], package) if "featurizer" in card["files"] else None
    schema = card["schema"]
    if schema.get("kind") == "table" and hasattr(featurizer, "feature_names_in_"):
        fitted_on = [str(c) for c in featurizer.feature_names_in_]
        if fitted_on != [c["name"] for c in schema["columns"]]:
            raise ConfigError(f"{where}: the card's input columns do not match those its featurizer was fitted on "
                              f"({', '.join(fitted_on)}); refused")
    problem = Problem(card["task"], card["kind"], card["problem"]["n_outputs"],
                      tuple(card["problem"]["input_shape"]), featurizer, card["problem"]["seed"])
    if model.plugin.family != "torch":
        estimator = _load_skops(where / card["files"]["estimator"], package)
        return Model(FittedModel(config, problem, estimator=estimator), card)
    from automl.compression import load_module

    if (card.get("compression") or {}).get("method") == "dynamic-int8":
        device = "cpu"  # a dynamically quantized module runs on the CPU whatever was asked
    trained = load_module(config, problem, card, where / card["files"]["weights"], device)
    return Model(FittedModel(config, problem, trained=trained, device=device), card)
