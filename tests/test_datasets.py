"""Datasets: the built-in ones, user files for every task, and the fingerprint."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from automl.datasets import (
    BUILTINS,
    DEFAULT_DATASET,
    MAX_CLASSES_FOR_NUMERIC_TARGET,
    Dataset,
    load_dataset,
    make_dataset,
)
from automl.exceptions import ConfigError, DataError
from automl.protocols import TASKS


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Run in an empty folder, so no stray file named like a built-in dataset can shadow it."""
    monkeypatch.chdir(tmp_path)


def write(frame: pd.DataFrame, path: Path) -> Path:
    if path.suffix == ".csv":
        frame.to_csv(path, index=False)
    elif path.suffix == ".parquet":
        frame.to_parquet(path, index=False)
    else:
        frame.to_json(path, orient="records", lines=True, force_ascii=False)
    return path


def decoded(ds: Dataset) -> list[str]:
    """The dataset's class labels, row by row."""
    return list(np.asarray(ds.classes)[ds.y])


# -- built-in datasets -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def rotten_tomatoes() -> Dataset:
    return load_dataset("nlp")


def test_nlp_default_is_rotten_tomatoes(rotten_tomatoes: Dataset) -> None:
    ds = rotten_tomatoes
    assert (ds.name, ds.task, ds.kind, ds.source) == ("rotten_tomatoes", "nlp", "classification", "builtin")
    assert len(ds) == len(ds.X) == 12_808
    assert ds.classes == ("fresh", "rotten")
    assert ds.n_outputs == 2
    assert ds.X.ndim == 1 and ds.X.dtype == object
    assert all(isinstance(text, str) and text for text in ds.X)
    assert set(np.unique(ds.y)) == {0, 1}


def test_vision_default_is_digits() -> None:
    from sklearn.datasets import load_digits

    ds = load_dataset("vision")
    images = load_digits().images
    assert (ds.name, ds.kind) == ("digits", "classification")
    assert ds.X.shape == (len(images), 1, 8, 8)
    assert ds.X.dtype == np.float32
    assert ds.X.min() == 0.0 and ds.X.max() == 1.0
    np.testing.assert_allclose(ds.X[:, 0] * 16.0, images, atol=1e-5)
    assert ds.classes == tuple(str(d) for d in range(10))


def test_tabular_default_is_breast_cancer() -> None:
    from sklearn.datasets import load_breast_cancer

    ds = load_dataset("tabular")
    bunch = load_breast_cancer(as_frame=True)
    assert (ds.name, ds.kind) == ("breast_cancer", "classification")
    assert isinstance(ds.X, pd.DataFrame)
    assert list(ds.X.columns) == list(bunch.data.columns)
    assert ds.classes == ("0", "1")
    np.testing.assert_array_equal(ds.y, bunch.target.to_numpy())


def test_diabetes_is_regression() -> None:
    from sklearn.datasets import load_diabetes

    ds = load_dataset("tabular", "diabetes")
    assert (ds.name, ds.kind, ds.classes, ds.n_outputs) == ("diabetes", "regression", None, 1)
    assert ds.y.dtype == np.float64
    np.testing.assert_allclose(ds.y, load_diabetes().target)


@pytest.mark.parametrize("task", TASKS)
def test_default_dataset_of_each_task_is_a_builtin_of_that_task(task: str) -> None:
    assert BUILTINS[DEFAULT_DATASET[task]][0] == task


@pytest.mark.parametrize("name, task", [
    ("digits", "nlp"), ("breast_cancer", "vision"), ("diabetes", "nlp"), ("rotten_tomatoes", "tabular"),
])
def test_builtin_with_the_wrong_task(name: str, task: str) -> None:
    with pytest.raises(ConfigError, match=f"'{name}' is for task '{BUILTINS[name][0]}', not '{task}'"):
        load_dataset(task, name)


def test_unknown_task() -> None:
    with pytest.raises(ConfigError, match="unknown task 'audio'") as info:
        load_dataset("audio")
    assert all(task in str(info.value) for task in TASKS)


@pytest.mark.parametrize("task", TASKS)
def test_missing_path_names_the_builtins(tmp_path: Path, task: str) -> None:
    path = tmp_path / "nowhere.csv"
    with pytest.raises(DataError, match="no such file") as info:
        load_dataset(task, path)
    message = str(info.value)
    assert str(path) in message
    for name, (builtin_task, _) in BUILTINS.items():
        assert (name in message) == (builtin_task == task)


# -- user files: nlp ---------------------------------------------------------------------------------------

REVIEWS = pd.DataFrame({
    "text": ["great fun", "dull and slow", "a delight", "not good", "superb", "boring"],
    "label": ["pos", "neg", "pos", "neg", "pos", "neg"],
})


@pytest.mark.parametrize("suffix", [".csv", ".jsonl", ".parquet"])
def test_nlp_file_with_default_columns(tmp_path: Path, suffix: str) -> None:
    path = write(REVIEWS, tmp_path / f"reviews{suffix}")
    ds = load_dataset("nlp", path)
    assert (ds.name, ds.task, ds.kind, ds.source) == ("reviews", "nlp", "classification", str(path))
    assert list(ds.X) == list(REVIEWS["text"])
    assert ds.classes == ("neg", "pos")
    assert decoded(ds) == list(REVIEWS["label"])


@pytest.mark.parametrize("suffix", [".csv", ".jsonl", ".parquet"])
def test_nlp_file_with_chosen_columns(tmp_path: Path, suffix: str) -> None:
    # 'text' and 'label' are decoys: the chosen columns must win over the default names.
    frame = REVIEWS.assign(body=REVIEWS["text"].str.upper(), stars=[5, 1, 4, 2, 5, 1])
    ds = load_dataset("nlp", write(frame, tmp_path / f"r{suffix}"), text_column="body", target="stars")
    assert list(ds.X) == list(frame["body"])
    assert ds.classes == ("1", "2", "4", "5")
    assert decoded(ds) == [str(s) for s in frame["stars"]]


def test_nlp_numeric_target_is_always_classification(tmp_path: Path) -> None:
    n = MAX_CLASSES_FOR_NUMERIC_TARGET + 5
    frame = pd.DataFrame({"text": [f"doc {i}" for i in range(n)], "label": range(n)})
    ds = load_dataset("nlp", write(frame, tmp_path / "many.csv"))
    assert ds.kind == "classification"
    assert ds.n_outputs == n


@pytest.mark.parametrize("kwargs, missing", [
    ({"target": "sentiment"}, "'sentiment'"),
    ({"text_column": "body"}, "'body'"),
])
def test_nlp_missing_chosen_column_lists_the_columns(tmp_path: Path, kwargs: dict, missing: str) -> None:
    path = write(REVIEWS, tmp_path / "r.csv")
    with pytest.raises(DataError, match=f"no \\w+ column {missing}") as info:
        load_dataset("nlp", path, **kwargs)
    assert str(path) in str(info.value)
    assert all(column in str(info.value) for column in REVIEWS.columns)


@pytest.mark.parametrize("rename, role", [({"text": "comment"}, "text"), ({"label": "verdict"}, "target")])
def test_nlp_no_default_column_asks_which(tmp_path: Path, rename: dict, role: str) -> None:
    frame = REVIEWS.rename(columns=rename)
    with pytest.raises(DataError, match=f"say which column is the {role}") as info:
        load_dataset("nlp", write(frame, tmp_path / "r.csv"))
    assert all(column in str(info.value) for column in frame.columns)


@pytest.mark.parametrize("name, content", [
    ("r.csv", "text,label\ngreat,pos\n,neg\nfine,pos\n"),
    ("r.jsonl", '{"text": "great", "label": "pos"}\n{"text": null, "label": "neg"}\n'),
])
def test_nlp_empty_text_values(tmp_path: Path, name: str, content: str) -> None:
    path = tmp_path / name
    path.write_text(content)
    with pytest.raises(DataError, match="'text' has 1 empty values") as info:
        load_dataset("nlp", path)
    assert str(path) in str(info.value)


@pytest.mark.parametrize("empty", ['""', '"   "'])
def test_nlp_empty_string_text(tmp_path: Path, empty: str) -> None:
    path = tmp_path / "r.jsonl"
    path.write_text('{"text": "great", "label": "pos"}\n{"text": %s, "label": "neg"}\n' % empty)
    with pytest.raises(DataError, match="1 empty values \\(first at row 1\\)"):
        load_dataset("nlp", path)


# -- user files: tabular -----------------------------------------------------------------------------------


def table(target: list, **extra) -> pd.DataFrame:
    n = len(target)
    return pd.DataFrame({"a": np.arange(n, dtype=float), "b": np.arange(n) % 3, **extra, "label": target})


MANY = MAX_CLASSES_FOR_NUMERIC_TARGET + 5


@pytest.mark.parametrize("suffix, target", [
    (".csv", np.linspace(0.0, 10.0, MANY) + 0.25),
    (".jsonl", np.linspace(0.0, 10.0, MANY) + 0.25),
    (".parquet", np.linspace(0.0, 10.0, MANY) + 0.25),
    (".parquet", np.arange(MANY, dtype=float)),  # whole numbers, but too many distinct ones for classes
], ids=["csv", "jsonl", "parquet", "integral-floats"])
def test_tabular_float_target_with_many_values_is_regression(tmp_path: Path, suffix: str, target: np.ndarray) -> None:
    target = list(target)
    frame = table(target)
    ds = load_dataset("tabular", write(frame, tmp_path / f"t{suffix}"))
    assert (ds.kind, ds.classes, ds.n_outputs) == ("regression", None, 1)
    np.testing.assert_allclose(ds.y, target)
    assert list(ds.X.columns) == ["a", "b"]
    np.testing.assert_allclose(ds.X.to_numpy(dtype=float), frame[["a", "b"]].to_numpy(dtype=float))


def test_tabular_integer_target_with_many_values_is_regression(tmp_path: Path) -> None:
    ds = load_dataset("tabular", write(table(list(range(MAX_CLASSES_FOR_NUMERIC_TARGET + 1))), tmp_path / "t.csv"))
    assert ds.kind == "regression"


@pytest.mark.parametrize("target", [
    ["cat", "dog", "bird", "dog", "cat", "cat"],
    [0, 1, 2, 1, 0, 0],
    [0.0, 1.0, 2.0, 1.0, 0.0, 0.0],
], ids=["strings", "ints", "integral-floats"])
def test_tabular_few_labels_is_classification(tmp_path: Path, target: list) -> None:
    ds = load_dataset("tabular", write(table(target), tmp_path / "t.csv"))
    assert ds.kind == "classification"
    assert ds.classes == tuple(sorted({str(t) for t in target}))
    assert decoded(ds) == [str(t) for t in target]


def test_tabular_chosen_target(tmp_path: Path) -> None:
    frame = table(["x", "y", "x", "y"], price=[1.5, 2.25, 3.75, 4.125])
    ds = load_dataset("tabular", write(frame, tmp_path / "t.csv"), target="price")
    assert ds.kind == "regression"
    np.testing.assert_allclose(ds.y, frame["price"])
    assert list(ds.X.columns) == ["a", "b", "label"]


def test_tabular_single_class(tmp_path: Path) -> None:
    path = write(table(["only"] * 5), tmp_path / "t.csv")
    with pytest.raises(DataError, match="single class \\('only'\\)") as info:
        load_dataset("tabular", path)
    assert str(path) in str(info.value)


def test_tabular_nan_target(tmp_path: Path) -> None:
    path = write(table([1.5, np.nan, 2.5, 3.5]), tmp_path / "t.csv")
    with pytest.raises(DataError, match="1 missing values") as info:
        load_dataset("tabular", path)
    assert str(path) in str(info.value)


def test_tabular_without_feature_columns(tmp_path: Path) -> None:
    path = write(pd.DataFrame({"label": ["a", "b", "a"]}), tmp_path / "t.csv")
    with pytest.raises(DataError, match="no feature columns") as info:
        load_dataset("tabular", path)
    assert str(path) in str(info.value)


def test_infinite_regression_target() -> None:
    with pytest.raises(DataError, match="infinite"):
        make_dataset("t", "tabular", pd.DataFrame({"a": [1, 2, 3]}), [1.5, np.inf, 2.0], "mem", kind="regression")


def test_feature_and_target_lengths_must_match() -> None:
    with pytest.raises(DataError, match="3 feature rows but 2 targets"):
        make_dataset("t", "tabular", pd.DataFrame({"a": [1, 2, 3]}), ["a", "b"], "mem")


# -- user files: vision ------------------------------------------------------------------------------------


def test_vision_folder(tmp_path: Path) -> None:
    for label in ("ant", "bee"):
        (tmp_path / "bugs" / label).mkdir(parents=True)
        for i in range(2):
            Image.fromarray(np.full((4, 4), 40 * i, np.uint8)).save(tmp_path / "bugs" / label / f"{i}.png")
    ds = load_dataset("vision", tmp_path / "bugs")
    assert (ds.name, ds.kind, ds.classes) == ("bugs", "classification", ("ant", "bee"))
    assert ds.X.shape == (4, 1, 4, 4)
    assert decoded(ds) == ["ant", "ant", "bee", "bee"]


# -- fingerprint -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("task, frame", [("tabular", table(["x", "y", "x", "y"])), ("nlp", REVIEWS)])
def test_same_content_same_fingerprint(tmp_path: Path, task: str, frame: pd.DataFrame) -> None:
    first = load_dataset(task, write(frame, tmp_path / "one.csv"))
    second = load_dataset(task, write(frame.copy(), tmp_path / "two.csv"))
    assert first.fingerprint == second.fingerprint
    assert load_dataset(task, tmp_path / "one.csv").fingerprint == first.fingerprint


@pytest.mark.parametrize("task, frame, column, value", [
    ("tabular", table(["x", "y", "x", "y"]), "a", 99.5),
    ("tabular", table([1.25, 2.5, 3.75, 5.0]), "label", 4.0),
    ("tabular", table(["x", "y", "x", "y"]), "label", "y"),  # changes the class codes
    ("nlp", REVIEWS, "text", "a changed review"),
    ("nlp", REVIEWS, "label", "neg"),
], ids=["feature", "regression-target", "class-label", "text", "nlp-label"])
def test_one_changed_cell_changes_the_fingerprint(tmp_path: Path, task: str, frame: pd.DataFrame, column: str,
                                                  value) -> None:
    changed = frame.copy()
    assert changed.loc[0, column] != value
    changed.loc[0, column] = value
    before = load_dataset(task, write(frame, tmp_path / "before.csv"))
    after = load_dataset(task, write(changed, tmp_path / "after.csv"))
    assert before.fingerprint != after.fingerprint


def test_renamed_class_label_changes_the_fingerprint(tmp_path: Path) -> None:
    frame = table(["x", "x", "x", "y"])
    changed = frame.copy()
    changed.loc[3, "label"] = "z"
    before = load_dataset("tabular", write(frame, tmp_path / "before.csv"))
    after = load_dataset("tabular", write(changed, tmp_path / "after.csv"))
    assert before.fingerprint != after.fingerprint


def test_texts_are_delimited_in_the_fingerprint() -> None:
    y = ["a", "b"]
    first = make_dataset("d", "nlp", np.array(["a", "b\x00c"], dtype=object), y, "mem", kind="classification")
    second = make_dataset("d", "nlp", np.array(["a\x00b", "c"], dtype=object), y, "mem", kind="classification")
    assert first.fingerprint != second.fingerprint


def test_task_is_part_of_the_fingerprint() -> None:
    X = np.array(["one", "two", "three", "four"], dtype=object)
    y = ["a", "b", "a", "b"]
    as_nlp = make_dataset("d", "nlp", X, y, "mem", kind="classification")
    as_tabular = make_dataset("d", "tabular", X, y, "mem", kind="classification")
    assert as_nlp.fingerprint != as_tabular.fingerprint
    assert make_dataset("d", "nlp", X.copy(), list(y), "mem", kind="classification").fingerprint == as_nlp.fingerprint


def test_name_and_source_are_not_part_of_the_fingerprint() -> None:
    X = pd.DataFrame({"a": [1.0, 2.0, 3.0]})
    y = ["p", "q", "p"]
    assert make_dataset("one", "tabular", X, y, "a.csv").fingerprint == \
        make_dataset("two", "tabular", X.copy(), y, "b.csv").fingerprint


@pytest.mark.parametrize(("task", "data", "kwargs", "message"), [
    ("tabular", "breast_cancer", {"target": "x"}, "has fixed columns"),
    ("nlp", None, {"text_column": "x"}, "has fixed columns"),
    ("tabular", "breast_cancer", {"text_column": "x"}, "only applies to task 'nlp'"),
])
def test_options_that_do_not_apply_are_refused(task: str, data: str | None, kwargs: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_dataset(task, data, **kwargs)
