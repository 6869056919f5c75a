"""ONNX export (automl/export.py) and ``automl export``: the exported files are run in an onnxruntime session of
their own and compared with the models they come from (the torch mlp on featurized rows, dynamic batch size
included; random_forest through skl2onnx on raw rows); refusals leave no file behind."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime
import pandas as pd
import pytest
import torch
from cli_support import ANSI, assert_one_error_line, invoke

import automl
from automl.compress import compress
from automl.compression import compress_module
from automl.exceptions import ConfigError
from automl.export import Exported, export_onnx, sample_rows
from automl.model import FittedModel, Model
from automl.training import Trained

RTOL, ATOL = 1e-3, 1e-4
#: ``refitted(model)`` of conftest.py: a ``Refitted(storage, study, data, model_dir)``.
Make = Callable[[str], Any]


def session(path: Path) -> onnxruntime.InferenceSession:
    return onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])


def study_csv(refitted: Any) -> pd.DataFrame:
    return pd.read_csv(refitted.data)


def torch_scores(model: Model, rows: pd.DataFrame) -> np.ndarray:
    """The raw outputs of the model's network on ``rows``, featurized."""
    features = torch.as_tensor(np.asarray(model.fitted.featurize(rows), dtype=np.float32))
    module = model.fitted.trained.module  # type: ignore[union-attr]
    with torch.no_grad():
        return module.eval()(features).numpy()


# -- sample_rows -------------------------------------------------------------------------------------------------


def test_sample_rows_are_rows_of_the_study_data(refitted: Make) -> None:
    made = refitted("random_forest")
    model = automl.load_model(made.model_dir)
    rows = sample_rows(model, None)
    csv = study_csv(made)
    assert list(rows.columns) == ["p", "q", "r", "color"]
    assert len(rows) == 64
    # every sampled row is a row of the CSV (float columns compared by value, rows matched on p)
    merged = rows.astype({"color": str}).merge(csv.astype({"color": str}), on=["p", "q", "r", "color"], how="left",
                                               indicator=True)
    assert (merged["_merge"] == "both").all()
    assert sample_rows(model, None, n=5).equals(rows.iloc[:5])


def test_sample_rows_of_a_file_are_all_its_rows(refitted: Make, tmp_path: Path) -> None:
    made = refitted("random_forest")
    model = automl.load_model(made.model_dir)
    path = tmp_path / "few.csv"
    study_csv(made).iloc[:7].drop(columns="label").to_csv(path, index=False)
    rows = sample_rows(model, path)
    assert len(rows) == 7 and list(rows.columns) == ["p", "q", "r", "color"]


# -- torch ---------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def mlp_onnx(refitted: Make, tmp_path_factory: pytest.TempPathFactory
             ) -> tuple[Model, Path, Exported]:
    """The refitted mlp, exported once on 64 sample rows: (model, file, Exported)."""
    model = automl.load_model(refitted("mlp").model_dir)
    out = tmp_path_factory.mktemp("export") / "mlp.onnx"
    exported = export_onnx(model, sample_rows(model, None), out)
    return model, out, exported


def test_torch_export_writes_the_file_it_reports(mlp_onnx: tuple[Model, Path, Exported]) -> None:
    _, out, exported = mlp_onnx
    assert out.is_file() and exported.path == out
    assert exported.input.startswith("features")
    assert exported.max_abs_diff <= ATOL


@pytest.mark.parametrize("n_rows", [64, 1, 23, 120])
def test_torch_export_matches_the_module_for_any_batch_size(
        mlp_onnx: tuple[Model, Path, Exported], refitted: Make, n_rows: int) -> None:
    """Exported with 64 rows; run on as many, on one, and on other counts (the batch dimension is dynamic)."""
    model, out, _ = mlp_onnx
    rows = study_csv(refitted("mlp")).drop(columns="label").iloc[-n_rows:]
    features = np.asarray(model.fitted.featurize(rows), dtype=np.float32)
    onnx_session = session(out)
    assert [i.name for i in onnx_session.get_inputs()] == ["features"]
    (got,) = onnx_session.run(None, {"features": features})
    expected = torch_scores(model, rows)
    assert got.shape == expected.shape == (n_rows, 2)
    np.testing.assert_allclose(got, expected, rtol=RTOL, atol=ATOL)


def test_torch_export_is_one_self_contained_file(mlp_onnx: tuple[Model, Path, Exported], tmp_path: Path) -> None:
    """Nothing beside the file (no ``.data`` sidecar with the weights): a copy of it alone runs elsewhere."""
    model, out, _ = mlp_onnx
    assert sorted(p.name for p in out.parent.iterdir()) == [out.name]
    alone = tmp_path / "copied.onnx"
    shutil.copyfile(out, alone)
    rows = sample_rows(model, None, n=5)
    (got,) = session(alone).run(None, {"features": np.asarray(model.fitted.featurize(rows), dtype=np.float32)})
    np.testing.assert_allclose(got, torch_scores(model, rows), rtol=RTOL, atol=ATOL)


def test_torch_export_leaves_the_model_as_it_was(refitted: Make, tmp_path: Path) -> None:
    """The model still predicts the same afterwards (the export works on a copy of the network)."""
    model = automl.load_model(refitted("mlp").model_dir)
    rows = sample_rows(model, None, n=16)
    before = model.outputs(rows)
    module = model.fitted.trained.module  # type: ignore[union-attr]
    weights = {name: tensor.clone() for name, tensor in module.state_dict().items()}
    export_onnx(model, rows, tmp_path / "m.onnx")
    assert model.fitted.trained.module is module  # type: ignore[union-attr]
    for name, tensor in module.state_dict().items():
        assert tensor.device == weights[name].device and torch.equal(tensor, weights[name])
    np.testing.assert_array_equal(model.outputs(rows), before)


def test_torch_export_refuses_a_dynamic_int8_model(refitted: Make, tmp_path: Path) -> None:
    """Quantized layers do not go through torch.export: a ConfigError naming the method, no file."""
    model = automl.load_model(refitted("mlp").model_dir)
    trained = model.fitted.trained
    assert trained is not None
    quantized = Model(FittedModel(model.fitted.config, model.fitted.problem,
                                  trained=Trained(compress_module(trained.module, "dynamic-int8"), True)),
                      {**model.card, "compression": {"method": "dynamic-int8"}})
    out = tmp_path / "q.onnx"
    with pytest.raises(ConfigError, match="dynamic-int8"):
        export_onnx(quantized, sample_rows(model, None, n=8), out)
    assert list(tmp_path.iterdir()) == []


# -- scikit-learn --------------------------------------------------------------------------------------------------


def test_random_forest_export_matches_its_probabilities(refitted: Make, tmp_path: Path) -> None:
    """skl2onnx's graph takes the raw rows (one input per column) and gives the forest's class probabilities."""
    made = refitted("random_forest")
    model = automl.load_model(made.model_dir)
    out = tmp_path / "rf.onnx"
    exported = export_onnx(model, sample_rows(model, None), out)
    assert exported.path == out and out.is_file()
    rows = study_csv(made).drop(columns="label")  # all 160 rows, the held-out ones too
    onnx_session = session(out)
    graph_inputs = onnx_session.get_inputs()
    assert [i.name for i in graph_inputs] == ["p", "q", "r", "color"]
    types = {"tensor(double)": np.float64, "tensor(float)": np.float32, "tensor(string)": object}
    feed = {i.name: rows[i.name].to_numpy().astype(types[i.type]).reshape(-1, 1) for i in graph_inputs}
    probabilities = onnx_session.run(None, feed)[-1]
    assert probabilities.shape == (160, 2)
    np.testing.assert_allclose(probabilities, model.fitted.outputs(rows), rtol=RTOL, atol=ATOL)


def test_hist_gradient_boosting_export_is_refused_without_a_file(refitted: Make,
                                                                 tmp_path: Path) -> None:
    """skl2onnx (1.20, with scikit-learn 1.9) fails on HistGradientBoostingClassifier: ConfigError, no file."""
    model = automl.load_model(refitted("hist_gradient_boosting").model_dir)
    out = tmp_path / "hgb.onnx"
    with pytest.raises(ConfigError, match="skl2onnx cannot convert this model"):
        export_onnx(model, sample_rows(model, None), out)
    assert list(tmp_path.iterdir()) == []


# -- the command line ----------------------------------------------------------------------------------------------


def test_cli_export_writes_the_file_and_prints_its_path(refitted: Make, tmp_path: Path) -> None:
    out = tmp_path / "X.onnx"
    result = invoke("export", str(refitted("random_forest").model_dir), "--format", "onnx",
                    "--out", str(out))
    assert result.exit_code == 0, result.output
    assert f"wrote {out}" in ANSI.sub("", result.stdout)
    assert out.is_file()


def test_cli_export_default_goes_into_the_model_directory(refitted: Make,
                                                          tmp_path: Path) -> None:
    model_dir = shutil.copytree(refitted("mlp").model_dir, tmp_path / "model")
    result = invoke("export", str(model_dir))
    assert result.exit_code == 0, result.output
    assert str(model_dir / "model.onnx") in ANSI.sub("", result.stdout)
    assert (model_dir / "model.onnx").is_file()
    automl.load_model(model_dir)  # the extra file does not disturb the model directory


def test_cli_export_refuses_an_unknown_format(refitted: Make, tmp_path: Path) -> None:
    out = tmp_path / "X.tflite"
    line = assert_one_error_line(invoke("export", str(refitted("random_forest").model_dir),
                                        "--format", "tflite", "--out", str(out)))
    assert "tflite" in line
    assert not out.exists()


def test_cli_export_of_an_unconvertible_model_is_one_error_line(refitted: Make,
                                                                tmp_path: Path) -> None:
    out = tmp_path / "hgb.onnx"
    line = assert_one_error_line(invoke("export", str(refitted("hist_gradient_boosting").model_dir),
                                        "--out", str(out)))
    assert "skl2onnx cannot convert this model" in line
    assert not out.exists()


def test_cli_export_of_a_dynamic_int8_directory_is_one_error_line(refitted: Make, tmp_path: Path) -> None:
    """``automl compress`` output is refused by ``automl export`` with one line, not a traceback of torch.export."""
    compressed = tmp_path / "int8"
    compress(refitted("mlp").model_dir, "dynamic-int8", compressed)
    line = assert_one_error_line(invoke("export", str(compressed)))
    assert "dynamic-int8" in line
    assert not (compressed / "model.onnx").exists()


def test_a_failed_export_keeps_what_the_file_held_before(refitted: Make, tmp_path: Path) -> None:
    out = tmp_path / "model.onnx"
    out.write_bytes(b"an earlier export")
    with pytest.raises(ConfigError):
        model = automl.load_model(refitted("hist_gradient_boosting").model_dir)
        export_onnx(model, sample_rows(model, None), out)
    assert out.read_bytes() == b"an earlier export" and sorted(p.name for p in tmp_path.iterdir()) == ["model.onnx"]
