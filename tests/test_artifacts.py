"""Model directories: written whole, read back to the same model, and refused (one line, no code run) when tampered
with: a pickle payload, a type nobody trusts, a schema that does not match, a missing or foreign file."""

from __future__ import annotations

import json
import os
import pickle
import shutil
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import skops.io as sio
from cli_support import invoke

import automl
from automl.artifacts import CARD, save_model, trusted_types
from automl.exceptions import ConfigError


class _Payload:
    """Unpickling this runs ``open(path, "w")``: proof that a file was unpickled."""

    def __init__(self, path: Path) -> None:
        self.path = str(path)

    def __reduce__(self) -> tuple:
        return (open, (self.path, "w"))


def _copy(made_dir: Path, tmp_path: Path) -> Path:
    target = tmp_path / "model"
    shutil.copytree(made_dir, target)
    return target


def _rows(data: Path) -> pd.DataFrame:
    return pd.read_csv(data).drop(columns=["label"])


@pytest.mark.parametrize("model", ["mlp", "random_forest"])
def test_a_saved_model_loads_back_to_the_same_outputs(refitted: Callable, model: str) -> None:
    made = refitted(model)
    study = automl.load_study(made.study, made.storage)
    fresh = automl.refit(study)
    loaded = automl.load_model(made.model_dir)
    rows = _rows(made.data)
    assert np.array_equal(loaded.outputs(rows), fresh.outputs(rows))
    assert list(loaded.predict(rows[:3])) == list(fresh.predict(rows[:3]))
    assert set(os.listdir(made.model_dir)) == {CARD, *loaded.card["files"].values()}


def test_save_refuses_a_folder_that_is_not_empty(refitted: Callable, tmp_path: Path) -> None:
    made = refitted("random_forest")
    (tmp_path / "kept.txt").write_text("mine")
    with pytest.raises(ConfigError, match="exists and is not an empty folder"):
        save_model(automl.load_model(made.model_dir), tmp_path)
    assert os.listdir(tmp_path) == ["kept.txt"]


def test_a_pickle_in_place_of_a_skops_file_is_refused_unread(refitted: Callable, tmp_path: Path) -> None:
    model_dir = _copy(refitted("random_forest").model_dir, tmp_path)
    proof = tmp_path / "pwned"
    (model_dir / "estimator.skops").write_bytes(pickle.dumps(_Payload(proof)))
    with pytest.raises(ConfigError, match="not a readable skops file"):
        automl.load_model(model_dir)
    assert not proof.exists()


def test_a_skops_file_asking_for_an_untrusted_type_is_refused_without_importing_it(
        refitted: Callable, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The planted class would write a file when its module is imported and when an object is rebuilt."""
    model_dir = _copy(refitted("random_forest").model_dir, tmp_path)
    code = tmp_path / "code"
    code.mkdir()
    imported, rebuilt = tmp_path / "imported", tmp_path / "rebuilt"
    (code / "planted.py").write_text(
        "import pathlib\n"
        "class Planted:\n"
        f"    def __setstate__(self, state):\n        pathlib.Path({str(rebuilt)!r}).write_text('x')\n")
    monkeypatch.syspath_prepend(str(code))
    import planted  # noqa: PLC0415 - the class must be importable here to be dumped

    sio.dump(planted.Planted(), model_dir / "estimator.skops")
    (code / "planted.py").write_text(f"import pathlib\npathlib.Path({str(imported)!r}).write_text('x')\n"
                                     + (code / "planted.py").read_text())
    del sys.modules["planted"]
    with pytest.raises(ConfigError, match=r"asks to build planted\.Planted, which automl does not trust"):
        automl.load_model(model_dir)
    assert not imported.exists() and not rebuilt.exists()


def test_trusted_types_are_classes_of_sklearn_numpy_scipy_and_the_plugin_package() -> None:
    names = ["sklearn.ensemble._forest.RandomForestClassifier", "numpy.dtype", "automl_plugins.tabular.mlp.MLP",
             "builtins.eval", "os.system", "sklearn.utils.deprecated_function_that_is_not_there",
             "numpy.load"]
    trusted, refused = trusted_types(names, "automl_plugins")
    assert trusted == names[:3]
    assert refused == names[3:]


@pytest.mark.parametrize(("tamper", "message"), [
    (lambda d: (d / "weights.safetensors").unlink(), "the file 'weights.safetensors' the card lists is missing"),
    (lambda d: (d / "weights.safetensors").write_bytes(b"\x80\x04not tensors"), "not a readable safetensors file"),
    (lambda d: _edit_card(d, lambda c: c["schema"]["columns"][0].update(name="renamed")),
     "card's input columns do not match those its featurizer was fitted on"),
    (lambda d: _edit_card(d, lambda c: c.pop("params")), "malformed model card"),
    (lambda d: _edit_card(d, lambda c: c.update(format="other/9")), "not an automl model card"),
    (lambda d: _edit_card(d, lambda c: c["files"].update(weights="../weights.safetensors")), "is missing"),
    (lambda d: _edit_card(d, lambda c: c["plugins"]["model"].update(origin="automl 0.0.1")),
     "was written with the model plugin 'mlp' from automl 0.0.1"),
    (lambda d: _edit_card(d, lambda c: c["plugins"]["model"].update(name="nonesuch")),
     "needs the model plugin 'nonesuch'"),
    (lambda d: (d / CARD).write_text("{not json"), "not a readable model card"),
    (lambda d: (d / CARD).unlink(), "not a model directory"),
])
def test_a_tampered_directory_is_refused_with_one_line(refitted: Callable, tmp_path: Path, tamper: Callable,
                                                       message: str) -> None:
    model_dir = _copy(refitted("mlp").model_dir, tmp_path)
    tamper(model_dir)
    with pytest.raises(ConfigError, match=message) as info:
        automl.load_model(model_dir)
    assert "\n" not in str(info.value)


def _edit_card(directory: Path, change: Callable[[dict], object]) -> None:
    card = json.loads((directory / CARD).read_text())
    change(card)
    (directory / CARD).write_text(json.dumps(card))


def test_the_cli_refuses_a_tampered_directory_with_one_error_line(refitted: Callable, tmp_path: Path) -> None:
    made = refitted("random_forest")
    model_dir = _copy(made.model_dir, tmp_path)
    proof = tmp_path / "pwned"
    (model_dir / "featurizer.skops").write_bytes(pickle.dumps(_Payload(proof)))
    result = invoke("predict", str(model_dir), "--data", str(made.data), "--out",
                    str(tmp_path / "preds.csv"))
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "not a readable skops file" in lines[0]
    assert not proof.exists() and not (tmp_path / "preds.csv").exists()
