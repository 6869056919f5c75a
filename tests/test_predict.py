"""automl.predict: ``predict_file`` over refitted model directories (batches, class probabilities, the score on the
file's labels, the held-out score reproduced from the file ``write_holdout`` writes, schema errors, ``out=``), and
``automl predict`` on the command line (summary on stderr; a bad file is one ``error:`` line and exit 2)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import pytest
from cli_support import invoke

import automl
from automl.exceptions import ConfigError, DataError
from automl.metrics import get_metric
from automl.model import Model
from automl.predict import BATCH_BYTES, Predictions, batch_rows, predict_file
from automl.refit import write_holdout

if TYPE_CHECKING:  # (for type hints only: importing conftest here would load a second copy of it)
    from tests.conftest import Refitted


Make = Callable[[str], "Refitted"]


def holdout_file(made: Refitted, path: Path) -> Path:
    """The study's held-out rows with their labels, as ``automl predict`` reads them."""
    return write_holdout(automl.load_study(made.study, made.storage), path)


def stored_holdout_score(made: Refitted) -> float:
    return automl.load_study(made.study, made.storage).user_attrs["automl.holdout"]["score"]


@pytest.fixture
def mlp(refitted: Make) -> Refitted:
    return refitted("mlp")


@pytest.fixture
def rows(mlp: Refitted, tmp_path: Path) -> Path:
    """The study's whole data file (160 rows, with labels) copied into the test's folder."""
    path = tmp_path / "rows.csv"
    path.write_bytes(mlp.data.read_bytes())
    return path


def test_small_batches_predict_like_one_batch(mlp: Refitted, rows: Path) -> None:
    model = automl.load_model(mlp.model_dir)
    whole = predict_file(model, rows, proba=True)
    batched = predict_file(model, rows, proba=True, batch=7)  # 160 rows: 22 full batches and one of 6
    assert len(whole.table) == 160
    pd.testing.assert_frame_equal(batched.table, whole.table)
    assert batched.score == whole.score


def test_proba_adds_a_column_per_class_summing_to_one(mlp: Refitted, rows: Path) -> None:
    done = predict_file(automl.load_model(mlp.model_dir), rows, proba=True)
    assert list(done.table.columns) == ["prediction", "proba_a", "proba_b"]
    probabilities = done.table[["proba_a", "proba_b"]].to_numpy()
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)
    assert (probabilities >= 0).all()
    argmax = np.array(["a", "b"], dtype=object)[probabilities.argmax(axis=1)]
    assert done.table["prediction"].tolist() == argmax.tolist()


def test_without_proba_only_predictions(mlp: Refitted, rows: Path) -> None:
    done = predict_file(automl.load_model(mlp.model_dir), rows)
    assert list(done.table.columns) == ["prediction"]
    assert set(done.table["prediction"]) <= {"a", "b"}


@pytest.mark.parametrize("name", ["mlp", "random_forest"])
def test_score_on_the_written_holdout_is_the_studys_holdout_score(refitted: Make, tmp_path: Path,
                                                                   name: str) -> None:
    """Written to a file and read back, the held-out rows give exactly the score the study stored for them."""
    made = refitted(name)
    path = holdout_file(made, tmp_path / "holdout.csv")
    done = predict_file(automl.load_model(made.model_dir), path)
    assert len(done.table) == 40  # 25% of 160
    assert done.metric == "accuracy"
    assert done.score == stored_holdout_score(made)
    assert done.score == automl.load_model(made.model_dir).card["scores"]["holdout"]["score"]


def test_a_file_without_labels_is_predicted_but_not_scored(mlp: Refitted, rows: Path, tmp_path: Path) -> None:
    unlabelled = tmp_path / "unlabelled.csv"
    pd.read_csv(rows).drop(columns="label").to_csv(unlabelled, index=False)
    model = automl.load_model(mlp.model_dir)
    done = predict_file(model, unlabelled)
    assert done.score is None
    assert done.table["prediction"].tolist() == predict_file(model, rows).table["prediction"].tolist()


def test_labels_the_model_does_not_know_give_no_score(mlp: Refitted, rows: Path, tmp_path: Path) -> None:
    frame = pd.read_csv(rows)
    frame.loc[3, "label"] = "c"
    unknown = tmp_path / "unknown.csv"
    frame.to_csv(unknown, index=False)
    done = predict_file(automl.load_model(mlp.model_dir), unknown)
    assert done.score is None
    assert len(done.table) == 160


def test_a_file_missing_a_column_is_refused_naming_it(mlp: Refitted, rows: Path, tmp_path: Path) -> None:
    missing = tmp_path / "missing.csv"
    pd.read_csv(rows).drop(columns="q").to_csv(missing, index=False)
    out = tmp_path / "preds.csv"
    with pytest.raises(DataError, match=r"missing column 'q'"):
        predict_file(automl.load_model(mlp.model_dir), missing, out=out)
    assert not out.exists()


def test_out_writes_a_csv_of_the_table(mlp: Refitted, rows: Path, tmp_path: Path) -> None:
    out = tmp_path / "preds.csv"
    done = predict_file(automl.load_model(mlp.model_dir), rows, out=out, proba=True)
    pd.testing.assert_frame_equal(pd.read_csv(out), done.table, check_dtype=False)


def test_rows_per_second_is_positive(mlp: Refitted, rows: Path) -> None:
    done = predict_file(automl.load_model(mlp.model_dir), rows)
    assert isinstance(done, Predictions)
    assert done.rows_per_second > 0


def test_category_codes_read_as_numbers_are_the_categories_the_model_saw(tmp_path: Path, storage: str) -> None:
    """A category column of codes ("1", "2", "x") predicts the same from a file whose rows hold only numeric
    codes (read as numbers) as from the whole file (read as text)."""
    rng = np.random.default_rng(0)
    code = rng.choice(["1", "2", "x"], 120)
    frame = pd.DataFrame({"p": rng.normal(size=120), "code": code, "label": np.where(code == "1", "a", "b")})
    data = tmp_path / "codes.csv"
    frame.to_csv(data, index=False)
    result = automl.search("tabular", data, models=["random_forest"], n_trials=1, folds=2, storage=storage,
                           study="codes")
    model = automl.refit(result.study)
    numeric = tmp_path / "numeric.csv"
    frame[frame["code"] != "x"].to_csv(numeric, index=False)
    assert pd.api.types.is_integer_dtype(pd.read_csv(numeric)["code"])
    whole = predict_file(model, data).table["prediction"][frame["code"] != "x"]
    done = predict_file(model, numeric)
    assert done.table["prediction"].tolist() == whole.tolist()
    assert done.score == 1.0  # the code alone tells the label


@pytest.fixture(scope="module")
def regression(tmp_path_factory: pytest.TempPathFactory) -> tuple[Model, pd.DataFrame]:
    """A linear model refitted on 80 rows of ``target = 3p + noise``, and those rows."""
    root = tmp_path_factory.mktemp("regression")
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"p": rng.normal(size=80), "q": rng.normal(size=80)})
    frame["target"] = 3 * frame["p"] + rng.normal(scale=0.1, size=80)
    frame.to_csv(root / "values.csv", index=False)
    result = automl.search("tabular", root / "values.csv", models=["linear"], n_trials=1, folds=2,
                           storage=f"sqlite:///{root / 'studies.db'}", study="values")
    return automl.refit(result.study), frame


def test_a_regression_file_is_scored_on_its_target_values(regression: tuple[Model, pd.DataFrame],
                                                           tmp_path: Path) -> None:
    model, frame = regression
    frame.to_csv(tmp_path / "values.csv", index=False)
    done = predict_file(model, tmp_path / "values.csv")
    assert done.metric == "rmse"
    expected = get_metric("rmse", "regression").score(frame["target"].to_numpy(), done.table["prediction"].to_numpy())
    assert done.score == pytest.approx(expected)
    assert done.score < 0.5


def test_a_regression_target_with_a_gap_gives_no_score(regression: tuple[Model, pd.DataFrame],
                                                        tmp_path: Path) -> None:
    """A missing target value is a label the rows do not have: no score, as for an unknown class (not a crash)."""
    model, frame = regression
    gap = frame.copy()
    gap.loc[5, "target"] = np.nan
    gap.to_csv(tmp_path / "gap.csv", index=False)
    done = predict_file(model, tmp_path / "gap.csv")
    assert done.score is None
    assert len(done.table) == 80


def test_out_in_a_missing_folder_is_refused_before_predicting(mlp: Refitted, tmp_path: Path) -> None:
    """Refused up front (a ConfigError, one line on the command line), not an OSError after all the work; the data
    file is not even read."""
    with pytest.raises(ConfigError, match=r"no folder .*nowhere to write the predictions in"):
        predict_file(automl.load_model(mlp.model_dir), tmp_path / "absent.csv", out=tmp_path / "nowhere" / "p.csv")


# -- automl predict ---------------------------------------------------------------------------------------------


def test_cli_predict_writes_the_file_and_a_summary(mlp: Refitted, tmp_path: Path) -> None:
    path = holdout_file(mlp, tmp_path / "holdout.csv")
    out = tmp_path / "preds.csv"
    result = invoke("predict", str(mlp.model_dir), "--data", str(path), "--out", str(out), "--proba")
    assert result.exit_code == 0, result.stderr
    assert result.stdout == ""  # the predictions go to the file
    table = pd.read_csv(out)
    assert list(table.columns) == ["prediction", "proba_a", "proba_b"]
    assert len(table) == 40
    summary = result.stderr.strip()
    assert summary.startswith("40 rows, ")
    assert f"; accuracy on their labels: {stored_holdout_score(mlp):.4f}; written to {out}" in summary


def test_cli_predict_without_out_prints_the_csv(mlp: Refitted, rows: Path) -> None:
    result = invoke("predict", str(mlp.model_dir), "--data", str(rows))
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "prediction"
    assert len(lines) == 161
    assert set(lines[1:]) <= {"a", "b"}


def test_cli_predict_a_missing_column_is_one_error_line(mlp: Refitted, rows: Path, tmp_path: Path) -> None:
    missing = tmp_path / "missing_column.csv"
    pd.read_csv(rows).drop(columns="q").to_csv(missing, index=False)
    out = tmp_path / "preds.csv"
    result = invoke("predict", str(mlp.model_dir), "--data", str(missing), "--out", str(out))
    assert result.exit_code == 2
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    assert "missing column 'q'" in lines[0]
    assert "Traceback" not in result.stderr + result.stdout
    assert not out.exists()


def test_cli_predict_out_in_a_missing_folder_is_one_error_line(mlp: Refitted, rows: Path, tmp_path: Path) -> None:
    result = invoke("predict", str(mlp.model_dir), "--data", str(rows), "--out", str(tmp_path / "nowhere" / "p.csv"))
    assert result.exit_code == 2
    assert len(result.stderr.splitlines()) == 1, result.stderr
    assert result.stderr.startswith("error: ")
    assert "Traceback" not in result.stderr + result.stdout


def test_batches_hold_about_the_same_bytes_whatever_the_rows() -> None:
    table = {"kind": "table", "columns": [{"name": str(i), "type": "number"} for i in range(8)]}
    assert batch_rows(table) == BATCH_BYTES // 64
    assert batch_rows({"kind": "images", "shape": [1, 8, 8]}) == BATCH_BYTES // 256
    assert batch_rows({"kind": "images", "shape": [3, 2048, 2048]}) == 64  # never fewer
    assert batch_rows({"kind": "texts", "text_column": "text"}) == 4096
