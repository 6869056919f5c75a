"""Shared fixtures: a throw-away storage per test and small datasets that train in a blink."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from automl.datasets import Dataset, make_dataset


@pytest.fixture
def storage(tmp_path: Path) -> str:
    """A SQLite storage URL in the test's temporary folder."""
    return f"sqlite:///{tmp_path / 'studies.db'}"


@pytest.fixture
def blobs() -> Dataset:
    """120 rows of two well-separated numeric classes (tabular classification)."""
    rng = np.random.default_rng(0)
    X = np.vstack([rng.normal(-2, 1, (60, 4)), rng.normal(2, 1, (60, 4))])
    y = np.array(["a"] * 60 + ["b"] * 60)
    return make_dataset("blobs", "tabular", pd.DataFrame(X, columns=list("pqrs")), y, "builtin")


@pytest.fixture
def blobs_csv(tmp_path: Path, blobs: Dataset) -> Path:
    """The blobs dataset as a CSV file with a ``label`` column."""
    frame = blobs.X.copy()
    frame["label"] = np.asarray(blobs.classes)[blobs.y]
    path = tmp_path / "blobs.csv"
    frame.to_csv(path, index=False)
    return path
