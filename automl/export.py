"""Exporting a model for serving: ONNX, checked by running it in onnxruntime against the model itself.

* Torch models: the network is exported with :func:`torch.onnx.export` (the ``torch.export`` exporter); its input is
  the *featurized* rows (the model directory's featurizer turns raw rows into them, as ``automl predict`` does),
  its output the network's raw scores (logits for classification, the standardized value for regression).
* scikit-learn models: the featurizer and estimator together, through ``skl2onnx`` (the maintained converter),
  when it has converters for both; otherwise the export is refused with the converter's reason.

Every export is verified before it is kept: onnxruntime runs it on real rows (the rows given, or generated from
the model's own input shape) and its outputs must match the model's within ``rtol=1e-3, atol=1e-4``.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import io
import logging
import os
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from automl.exceptions import ConfigError
from automl.features import take
from automl.model import Model
from automl.refit import study_rows
from automl.schema import read_rows

__all__ = ["Exported", "export_onnx", "sample_rows"]

RTOL, ATOL = 1e-3, 1e-4


@dataclass(frozen=True)
class Exported:
    """An exported file, what its input is, and how far onnxruntime's outputs were from the model's."""

    path: Path
    input: str
    max_abs_diff: float


@contextlib.contextmanager
def _quiet_logger(name: str) -> Iterator[None]:
    """Keep the logger ``name`` to errors for a while (torch's exporter logs a warning per missing torchvision op)."""
    logger = logging.getLogger(name)
    before = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(before)


def _torch_export(model: Model, rows: Any, path: Path) -> Exported:
    import torch

    method = (model.card.get("compression") or {}).get("method")
    if method == "dynamic-int8":
        raise ConfigError("a dynamic-int8 model (quantized layers) cannot be exported to ONNX; export the original "
                          "model directory")
    # a copy on the CPU: the caller's model stays on its device
    module = copy.deepcopy(model.fitted.trained.module).cpu().eval()  # type: ignore[union-attr]
    features = np.asarray(model.fitted.featurize(rows))
    dtype = torch.long if np.issubdtype(features.dtype, np.integer) else torch.float32
    example = torch.as_tensor(features, dtype=dtype)
    batch = torch.export.Dim("rows", min=1)
    try:
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()), _quiet_logger("torch.onnx"):
            warnings.simplefilter("ignore")
            # external_data=False: one self-contained file (by default the weights go to a separate <out>.data)
            torch.onnx.export(module, (example,), str(path), input_names=["features"], output_names=["scores"],
                              dynamic_shapes=({0: batch},), dynamo=True, external_data=False, verbose=False)
    except Exception as exc:  # the exporter's own errors (an operator or module torch.export cannot trace, ...)
        raise ConfigError(f"torch.onnx.export cannot export this model ({type(exc).__name__}); not kept") from exc
    with torch.no_grad():
        expected = module(example).float().numpy()
    (got,) = _run(path, {"features": example.numpy()})
    return Exported(path, f"features: featurized rows, shape (n, {', '.join(map(str, features.shape[1:]))}), "
                          f"{example.numpy().dtype}", _compare(expected, got))


def _sklearn_export(model: Model, rows: Any, path: Path) -> Exported:
    from skl2onnx import to_onnx
    from sklearn.pipeline import make_pipeline

    steps = [step for step in (model.fitted.problem.featurizer, model.fitted.estimator) if step is not None]
    pipeline = make_pipeline(*steps)
    sample = rows.iloc[:1] if hasattr(rows, "iloc") else rows[:1]
    if model.card["schema"]["kind"] == "texts":
        sample = np.asarray(sample, dtype=object).reshape(-1, 1)
    try:
        onnx_model = to_onnx(pipeline, sample, target_opset={"": 17, "ai.onnx.ml": 3}, options={"zipmap": False})
    except Exception as exc:  # skl2onnx names the class it has no converter for
        raise ConfigError(f"skl2onnx cannot convert this model ({type(exc).__name__}: {str(exc).splitlines()[0]})"
                          ) from exc
    path.write_bytes(onnx_model.SerializeToString())
    inputs = _sklearn_inputs(model, rows)
    outputs = _run(path, inputs)
    expected = model.fitted.outputs(rows)
    got = outputs[-1] if model.classes is not None else outputs[0].reshape(-1)
    return Exported(path, f"raw rows ({len(inputs)} input{'s' if len(inputs) > 1 else ''}: one per column of a table)",
                    _compare(expected, np.asarray(got)))


def _sklearn_inputs(model: Model, rows: Any) -> dict[str, np.ndarray]:
    schema = model.card["schema"]
    if schema["kind"] == "texts":
        return {"X": np.asarray(rows, dtype=object).reshape(-1, 1).astype(str)}
    if schema["kind"] == "images":
        return {"X": np.asarray(rows, dtype=np.float32)}
    return {c["name"]: rows[c["name"]].to_numpy(dtype=np.float32 if c["type"] == "number" else str).reshape(-1, 1)
            for c in schema["columns"]}


def _run(path: Path, inputs: dict[str, np.ndarray]) -> list[np.ndarray]:
    import onnxruntime

    types = {"tensor(double)": np.float64, "tensor(float)": np.float32, "tensor(int64)": np.int64,
             "tensor(string)": object}
    try:
        session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        # inputs in the order of the columns (skl2onnx cleans their names), in the types the graph declares
        feed = {i.name: np.asarray(value).astype(types.get(i.type, value.dtype))
                for i, value in zip(session.get_inputs(), inputs.values(), strict=True)}
        return session.run(None, feed)
    except Exception as exc:  # onnxruntime's own errors (an operator it does not implement, ...)
        raise ConfigError(f"the ONNX export does not run in onnxruntime ({type(exc).__name__}: "
                          f"{str(exc).splitlines()[0]}); not kept") from exc


def _compare(expected: np.ndarray, got: np.ndarray) -> float:
    expected, got = np.asarray(expected, dtype=np.float64), np.asarray(got, dtype=np.float64)
    if expected.shape != got.shape or not np.allclose(got, expected, rtol=RTOL, atol=ATOL):
        diff = float(np.max(np.abs(got - expected))) if expected.shape == got.shape else float("inf")
        raise ConfigError(f"the ONNX export does not reproduce the model (largest difference {diff:.3g}); "
                          "not kept")
    return float(np.max(np.abs(got - expected)))


def export_onnx(model: Model, rows: Any, out: str | Path) -> Exported:
    """Export ``model`` to the ONNX file ``out``, checked on ``rows`` (raw rows the model takes); see the module
    docstring. The export is written next to ``out`` and moved there only once it passed the check, so a failed
    export leaves whatever ``out`` held before."""
    path = Path(out)
    staging = path.with_name(f".{path.name}.tmp")
    try:
        export = _torch_export if model.fitted.trained is not None else _sklearn_export
        exported = export(model, rows, staging)
        os.replace(staging, path)
        return dataclasses.replace(exported, path=path)
    finally:
        staging.unlink(missing_ok=True)


def sample_rows(model: Model, data: str | Path | None, n: int = 64) -> Any:
    """Rows to check an export on: those of the file ``data``, or the first ``n`` of the model's study data."""
    if data is not None:
        rows, _ = read_rows(model.card["schema"], Path(data))
        return rows
    ref = model.card["data"]
    rows_of_study, _ = study_rows(ref["ref"], ref["fingerprint"], ref["holdout"], ref["seed"])
    return take(rows_of_study.X, np.arange(min(n, len(rows_of_study))))
