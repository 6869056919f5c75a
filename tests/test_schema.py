"""automl.schema: the input schema recorded from a Dataset (tables, texts, images), ``conform`` turning rows into what
a model was fitted on or refusing them with a DataError that says what is wrong, and ``write_rows``/``read_rows``
round-tripping rows and labels through files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from automl.datasets import Dataset, make_dataset
from automl.exceptions import DataError
from automl.schema import conform, read_rows, schema_of, write_rows


def _table() -> Dataset:
    """Six rows: two number columns (int and float), a category column, a target column named ``y``."""
    X = pd.DataFrame({"a": [1, 2, 3, 4, 5, 6], "b": [0.5, 1.5, -2.25, 3.0, 4.125, 1e-3],
                      "c": ["red", "blue", "red", "green", "blue", "red"]})
    return make_dataset("small", "tabular", X, ["x", "y", "x", "y", "x", "y"], "builtin", target_column="y")


def _texts() -> Dataset:
    X = np.array(["a good film", "dull, very dull", "great \"acting\"", "meh\tok", "loved it", "not again"],
                 dtype=object)
    return make_dataset("reviews", "nlp", X, ["pos", "neg", "pos", "neg", "pos", "neg"], "builtin",
                        target_column="sentiment", text_column="review")


def _images() -> Dataset:
    X = np.random.default_rng(0).random((6, 1, 4, 5), dtype=np.float32)
    return make_dataset("pixels", "vision", X, [0, 1, 0, 1, 2, 2], "builtin", kind="classification")


TABLE = schema_of(_table())
TEXTS = schema_of(_texts())
IMAGES = schema_of(_images())


# -- schema_of -------------------------------------------------------------------------------------------------


def test_table_schema_records_columns_in_order_with_types_and_target() -> None:
    assert TABLE == {"kind": "table", "target_column": "y",
                     "columns": [{"name": "a", "type": "number"}, {"name": "b", "type": "number"},
                                 {"name": "c", "type": "category"}]}


def test_boolean_column_is_a_category() -> None:
    X = pd.DataFrame({"flag": [True, False, True, False], "n": [1.0, 2.0, 3.0, 4.0]})
    schema = schema_of(make_dataset("b", "tabular", X, ["x", "y", "x", "y"], "builtin"))
    assert schema["columns"] == [{"name": "flag", "type": "category"}, {"name": "n", "type": "number"}]


def test_texts_and_images_schemas() -> None:
    assert TEXTS == {"kind": "texts", "text_column": "review", "target_column": "sentiment"}
    assert IMAGES == {"kind": "images", "shape": [1, 4, 5]}


# -- conform: tables ----------------------------------------------------------------------------------------------


def test_conform_orders_columns_by_name_and_drops_extras() -> None:
    rows = pd.DataFrame({"extra": [9, 9], "c": ["red", "blue"], "b": [0.5, 1.5], "a": [1, 2], "y": ["x", "y"]},
                        index=[10, 20])
    conformed = conform(TABLE, rows)
    assert list(conformed.columns) == ["a", "b", "c"]
    assert conformed["a"].tolist() == [1, 2]
    assert conformed["b"].tolist() == [0.5, 1.5]
    assert conformed["c"].tolist() == ["red", "blue"]
    assert list(conformed.index) == [0, 1]


def test_conform_converts_numeric_strings_in_a_number_column() -> None:
    rows = pd.DataFrame({"a": ["1", "2.5", None], "b": [0.0, 1.0, 2.0], "c": ["red", "red", "blue"]})
    conformed = conform(TABLE, rows)
    assert pd.api.types.is_numeric_dtype(conformed["a"])
    assert conformed["a"].iloc[:2].tolist() == [1.0, 2.5]
    assert np.isnan(conformed["a"].iloc[2])  # a missing value stays missing, it is not refused


def test_conform_refuses_a_missing_column_and_names_it() -> None:
    rows = pd.DataFrame({"a": [1], "c": ["red"]})
    with pytest.raises(DataError, match=r"rows\.csv: missing column 'b'"):
        conform(TABLE, rows, "rows.csv")


def test_conform_names_every_missing_column() -> None:
    with pytest.raises(DataError, match=r"missing columns 'a', 'b'"):
        conform(TABLE, pd.DataFrame({"c": ["red"]}))


def test_conform_refuses_text_in_a_number_column_naming_column_and_row() -> None:
    rows = pd.DataFrame({"a": [1, 2, 3], "b": ["0.5", "1.5", "lots"], "c": ["red", "red", "blue"]})
    with pytest.raises(DataError, match=r"column 'b' holds numbers, but row 2 has 'lots'"):
        conform(TABLE, rows)


def test_conform_turns_numbers_in_a_category_column_into_objects() -> None:
    """Spelled as a file spells them (a search read the column as text): ints, and whole floats of an int column
    with a gap, as ``"7"``; missing values stay missing."""
    conformed = conform(TABLE, pd.DataFrame({"a": [1, 2], "b": [0.5, 1.5], "c": [7, 8]}))
    assert conformed["c"].dtype == object
    assert conformed["c"].tolist() == ["7", "8"]
    gaps = conform(TABLE, pd.DataFrame({"a": [1, 2, 3], "b": [0.5, 1.5, 2.5], "c": [7.0, None, 2.5]}))
    assert gaps["c"].dtype == object
    assert gaps["c"].iloc[[0, 2]].tolist() == ["7", "2.5"]
    assert pd.isna(gaps["c"].iloc[1])


def test_conform_keeps_booleans_in_a_category_column() -> None:
    """A boolean column read from a file is a category of True/False, not of text."""
    schema = schema_of(make_dataset("b", "tabular", pd.DataFrame({"flag": [True, False, True]}), ["x", "y", "x"],
                                    "builtin"))
    conformed = conform(schema, pd.DataFrame({"flag": [False, True]}))
    assert conformed["flag"].dtype == object
    assert conformed["flag"].tolist() == [False, True]


def test_conform_refuses_no_rows() -> None:
    with pytest.raises(DataError, match="no rows"):
        conform(TABLE, pd.DataFrame({"a": [], "b": [], "c": []}))
    with pytest.raises(DataError, match="no rows"):
        conform(TEXTS, [])


def test_conform_refuses_a_table_that_is_not_a_dataframe() -> None:
    with pytest.raises(DataError, match=r"a table \(pandas DataFrame\) is needed, got ndarray"):
        conform(TABLE, np.zeros((2, 3)))


# -- conform: texts and images ------------------------------------------------------------------------------------


def test_conform_texts_from_a_dataframe_column_or_a_list() -> None:
    frame = pd.DataFrame({"other": [1, 2], "review": ["fine", "bad"]})
    assert conform(TEXTS, frame).tolist() == ["fine", "bad"]
    texts = conform(TEXTS, ["fine", "bad", 3])
    assert texts.dtype == object
    assert texts.tolist() == ["fine", "bad", "3"]


def test_conform_refuses_texts_without_the_text_column() -> None:
    with pytest.raises(DataError, match=r"no text column 'review' \(columns: text, sentiment\)"):
        conform(TEXTS, pd.DataFrame({"text": ["fine"], "sentiment": ["pos"]}))


@pytest.mark.parametrize("missing", [None, np.nan])
def test_conform_refuses_missing_texts(missing: object) -> None:
    with pytest.raises(DataError, match=r"1 texts are missing \(first at row 1\)"):
        conform(TEXTS, ["fine", missing, "bad"])
    with pytest.raises(DataError, match="texts are missing"):
        conform(TEXTS, pd.DataFrame({"review": ["fine", missing]}))


def test_conform_images_refuses_the_wrong_shape() -> None:
    with pytest.raises(DataError, match=r"shape \(1, 4, 5\) are needed, got an array of shape \(2, 1, 5, 4\)"):
        conform(IMAGES, np.zeros((2, 1, 5, 4)))
    with pytest.raises(DataError, match="images of shape"):
        conform(IMAGES, np.zeros((2, 4, 5)))


def test_conform_images_returns_float32() -> None:
    images = np.linspace(0, 1, 40).reshape(2, 1, 4, 5)
    conformed = conform(IMAGES, images)
    assert conformed.dtype == np.float32
    np.testing.assert_allclose(conformed, images, rtol=1e-6)


# -- write_rows / read_rows ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("suffix", [".csv", ".tsv", ".parquet"])
def test_table_rows_round_trip(tmp_path: Path, suffix: str) -> None:
    dataset = _table()
    path = write_rows(dataset, tmp_path / f"rows{suffix}")
    rows, labels = read_rows(TABLE, path)
    pd.testing.assert_frame_equal(rows, dataset.X, check_dtype=False)
    assert rows["b"].tolist() == dataset.X["b"].tolist()  # floats exactly
    assert labels is not None
    assert [str(label) for label in labels] == ["x", "y", "x", "y", "x", "y"]


def test_regression_table_round_trips_its_target_values(tmp_path: Path) -> None:
    X = pd.DataFrame({"a": [1, 2, 3, 4], "b": [0.1, 0.2, 0.3, 0.4], "c": ["u", "v", "u", "v"]})
    values = [0.1, 2.5, -3.75, 1e6 / 3]
    dataset = make_dataset("r", "tabular", X, values, "builtin", kind="regression", target_column="y")
    rows, labels = read_rows(TABLE, write_rows(dataset, tmp_path / "rows.csv"))
    pd.testing.assert_frame_equal(rows, X, check_dtype=False)
    assert labels is not None
    assert labels.tolist() == values


def test_read_rows_without_the_target_column_gives_no_labels(tmp_path: Path) -> None:
    path = tmp_path / "rows.csv"
    _table().X.to_csv(path, index=False)
    rows, labels = read_rows(TABLE, path)
    assert labels is None
    assert list(rows.columns) == ["a", "b", "c"]


def test_text_rows_round_trip(tmp_path: Path) -> None:
    dataset = _texts()
    path = write_rows(dataset, tmp_path / "texts.csv")
    texts, labels = read_rows(TEXTS, path)
    assert texts.tolist() == dataset.X.tolist()
    assert labels is not None
    assert labels.tolist() == ["pos", "neg", "pos", "neg", "pos", "neg"]


def test_image_rows_round_trip(tmp_path: Path) -> None:
    dataset = _images()
    path = write_rows(dataset, tmp_path / "images.npz")
    images, labels = read_rows(IMAGES, path)
    assert images.dtype == np.float32
    np.testing.assert_array_equal(images, dataset.X)
    assert labels is not None
    assert labels.tolist() == ["0", "1", "0", "1", "2", "2"]


@pytest.mark.parametrize(("dataset", "name"), [(_table(), "rows.npz"), (_texts(), "texts.json"),
                                                (_images(), "images.csv")])
def test_write_rows_refuses_a_wrong_suffix(tmp_path: Path, dataset: Dataset, name: str) -> None:
    with pytest.raises(DataError, match=r"written as \.npz|write rows as \.csv, \.tsv or \.parquet"):
        write_rows(dataset, tmp_path / name)
    assert not (tmp_path / name).exists()
