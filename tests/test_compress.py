"""The compression stage (automl/compress.py) and ``automl compress``: the compressed copy of the refitted mlp
(dynamic-int8, prune:0.5) is written, smaller or sparser, loads and predicts like the original; the comparison
(size, latency, metric) is measured on the study's held-out rows, or on a CV-fold refit when the study has none,
and stored in the new card; scikit-learn and already compressed models and unknown methods are refused."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from cli_support import ANSI, assert_one_error_line, invoke, tables

import automl
from automl.compress import Comparison, compress
from automl.datasets import Dataset
from automl.exceptions import ConfigError
from automl.model import Model
from automl.refit import study_rows

#: ``refitted(model)`` of conftest.py: a ``Refitted(storage, study, data, model_dir)``.
Make = Callable[[str], Any]


def held_out_rows(model: Model) -> Dataset:
    data = model.card["data"]
    _, held_out = study_rows(data["ref"], data["fingerprint"], data["holdout"], data["seed"])
    assert held_out is not None
    return held_out


def labels(rows: Dataset) -> np.ndarray:
    return np.asarray(rows.classes, dtype=object)[rows.y]


def files_size(directory: Path) -> int:
    return sum(path.stat().st_size for path in directory.iterdir() if path.is_file())


def linear_weights(model: Model) -> list[torch.Tensor]:
    module = model.fitted.trained.module  # type: ignore[union-attr]
    return [layer.weight for layer in module.modules() if isinstance(layer, torch.nn.Linear)]


@dataclass(frozen=True)
class Compressed:
    source: Path
    out: Path
    comparison: Comparison


@pytest.fixture(scope="module")
def int8(refitted: Make, tmp_path_factory: pytest.TempPathFactory) -> Compressed:
    """The refitted mlp compressed once with dynamic-int8."""
    source = refitted("mlp").model_dir
    out = tmp_path_factory.mktemp("compress") / "int8"
    return Compressed(source, out, compress(source, "dynamic-int8", out))


# -- dynamic-int8 on a study with held-out rows --------------------------------------------------------------------


def test_int8_directory_is_smaller_and_the_sizes_are_reported(int8: Compressed) -> None:
    assert int8.comparison.out == int8.out
    assert sorted(p.name for p in int8.out.iterdir()) == sorted(p.name for p in int8.source.iterdir())
    original, compressed = int8.comparison.rows
    assert original["size_bytes"] == files_size(int8.source)
    # the card was written again after measuring (with the report): the weights file is what must shrink
    weights = "weights.safetensors"
    assert (int8.out / weights).stat().st_size < (int8.source / weights).stat().st_size / 2
    assert compressed["size_bytes"] < original["size_bytes"]
    assert files_size(int8.out) < files_size(int8.source)


def test_int8_comparison_has_both_rows(int8: Compressed) -> None:
    rows = int8.comparison.rows
    assert [row["model"] for row in rows] == ["original", "dynamic-int8"]
    for row in rows:
        assert set(row) == {"model", "size_bytes", "latency_ms", "metric"}
        assert row["latency_ms"] > 0
        assert 0 <= row["metric"] <= 1
    assert int8.comparison.metric == "accuracy"


def test_int8_metric_is_taken_on_the_held_out_rows(int8: Compressed) -> None:
    """The original's metric is the refit's own held-out score; the compressed one's is its held-out accuracy."""
    original = automl.load_model(int8.source)
    held_out = held_out_rows(original)
    assert int8.comparison.evaluated_on == f"the study's {len(held_out)} held-out rows"
    assert int8.comparison.rows[0]["metric"] == pytest.approx(original.card["scores"]["holdout"]["score"])
    compressed = automl.load_model(int8.out)
    accuracy = float(np.mean(compressed.predict(held_out.X) == labels(held_out)))
    assert int8.comparison.rows[1]["metric"] == pytest.approx(accuracy)


def test_int8_report_is_stored_in_the_new_card(int8: Compressed) -> None:
    card = json.loads((int8.out / "model.json").read_text())
    assert card["compression"]["method"] == "dynamic-int8"
    assert card["compression"]["from"] == str(int8.source)
    report = card["compression"]["report"]
    assert report == {"metric": "accuracy", "evaluated_on": int8.comparison.evaluated_on,
                      "rows": int8.comparison.rows}
    assert json.loads((int8.source / "model.json").read_text())["compression"] is None  # the original's is not


def test_int8_model_loads_and_agrees_with_the_original(int8: Compressed) -> None:
    original, compressed = automl.load_model(int8.source), automl.load_model(int8.out)
    rows = held_out_rows(original).X
    agreement = float(np.mean(compressed.predict(rows) == original.predict(rows)))
    assert agreement >= 0.9
    np.testing.assert_allclose(compressed.outputs(rows), original.outputs(rows), atol=0.1)


# -- prune ---------------------------------------------------------------------------------------------------------


def test_prune_writes_a_model_whose_linear_weights_are_half_zero(refitted: Make, tmp_path: Path) -> None:
    source = refitted("mlp").model_dir
    comparison = compress(source, "prune:0.5", tmp_path / "pruned")
    assert [row["model"] for row in comparison.rows] == ["original", "prune:0.5"]
    pruned, original = automl.load_model(tmp_path / "pruned"), automl.load_model(source)
    assert pruned.card["compression"]["method"] == "prune:0.5"
    for weight, before in zip(linear_weights(pruned), linear_weights(original), strict=True):
        assert float((weight == 0).float().mean()) == pytest.approx(0.5, abs=1 / weight.numel())
        assert float((before == 0).float().mean()) == 0
    rows = held_out_rows(original).X
    assert float(np.mean(pruned.predict(rows) == original.predict(rows))) >= 0.9


# -- refusals ------------------------------------------------------------------------------------------------------


def test_a_scikit_learn_model_is_refused(refitted: Make, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="torch models"):
        compress(refitted("random_forest").model_dir, "dynamic-int8", tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_an_already_compressed_model_is_refused(int8: Compressed, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="already compressed"):
        compress(int8.out, "prune:0.5", tmp_path / "out")
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("method", ["bogus", "prune:1", "int4"])
def test_an_unknown_method_is_refused_before_anything(refitted: Make, tmp_path: Path, method: str) -> None:
    with pytest.raises(ConfigError, match="unknown compression method"):
        compress(refitted("mlp").model_dir, method, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_an_existing_output_folder_is_refused(refitted: Make, tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    with pytest.raises(ConfigError, match="not an empty folder"):
        compress(refitted("mlp").model_dir, "dynamic-int8", out)
    assert [p.name for p in out.iterdir()] == ["keep.txt"]


def test_the_original_size_counts_only_the_model_files(int8: Compressed, tmp_path: Path) -> None:
    """A file beside the model (``automl export`` writes model.onnx into the directory by default) is not the
    model's size."""
    source = Path(shutil.copytree(int8.source, tmp_path / "model"))
    (source / "model.onnx").write_bytes(b"\0" * 200_000)
    comparison = compress(source, "dynamic-int8", tmp_path / "int8")
    assert comparison.rows[0]["size_bytes"] == files_size(int8.source)


# -- a study without held-out rows: the metric comes from a CV-fold refit --------------------------------------


def test_without_holdout_the_metric_comes_from_the_first_cv_fold(tmp_path: Path, table_of: Callable) -> None:
    """The original's metric is that of the search's first fold (same split, same seed, on the CPU); the
    compressed model is the fold's refit, compressed the same way."""
    csv = tmp_path / "noisy.csv"
    # overlapping classes, so that the two folds of a 2-fold search score differently
    table_of(120, shift=0.4, kept=0.6, seed=6).to_csv(csv, index=False)
    result = automl.search("tabular", csv, models=["mlp"], n_trials=1, folds=2, storage=f"sqlite:///{tmp_path}/s.db",
                           study="s", device="cpu")
    model = automl.refit(result.study, out=tmp_path / "model", device="cpu")
    fold_scores = model.card["scores"]["fold_scores"]
    assert model.card["scores"]["holdout"] is None and fold_scores[0] != fold_scores[1]
    comparison = compress(tmp_path / "model", "dynamic-int8", tmp_path / "int8", device="cpu")
    assert comparison.evaluated_on == ("CV fold 1 of 2: refitted on its 60 training rows, scored on its 60 "
                                       "validation rows")
    assert comparison.rows[0]["metric"] == pytest.approx(fold_scores[0])
    assert abs(comparison.rows[1]["metric"] - fold_scores[0]) <= 0.1
    card = json.loads((tmp_path / "int8" / "model.json").read_text())
    assert card["compression"]["report"]["evaluated_on"] == comparison.evaluated_on
    automl.load_model(tmp_path / "int8")


# -- the command line ----------------------------------------------------------------------------------------------


def test_cli_compress_prints_both_rows(refitted: Make, tmp_path: Path) -> None:
    out = tmp_path / "int8"
    result = invoke("compress", str(refitted("mlp").model_dir), "--method", "dynamic-int8",
                    "--out", str(out))
    assert result.exit_code == 0, result.output
    text = ANSI.sub("", result.stdout)
    assert "held-out rows" in text
    (table,) = tables(text)
    rows = table.rows
    assert table.column(0) == ["original", "dynamic-int8"]
    for row in rows:
        assert row[1].endswith("KiB") and row[2].endswith("ms")
    assert (out / "model.json").is_file()


def test_cli_compress_default_output_is_next_to_the_model(refitted: Make, tmp_path: Path) -> None:
    model_dir = shutil.copytree(refitted("mlp").model_dir, tmp_path / "model")
    result = invoke("compress", f"{model_dir}/", "--method", "prune:0.5")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "model-prune0.5" / "model.json").is_file()


def test_cli_compress_refuses_an_unknown_method(refitted: Make, tmp_path: Path) -> None:
    model_dir = refitted("mlp").model_dir
    line = assert_one_error_line(invoke("compress", str(model_dir), "--method", "bogus", "--out",
                                        str(tmp_path / "out")))
    assert "bogus" in line
    assert list(tmp_path.iterdir()) == []
    # without --out neither (the default would be <model_dir>-bogus)
    assert_one_error_line(invoke("compress", str(model_dir), "--method", "bogus"))
    assert not Path(f"{model_dir}-bogus").exists()


def test_cli_compress_refuses_a_scikit_learn_model(refitted: Make, tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert_one_error_line(invoke("compress", str(refitted("random_forest").model_dir), "--method",
                                 "dynamic-int8", "--out", str(out)))
    assert not out.exists()
