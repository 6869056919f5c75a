"""Held-out rows: set aside before any cross-validation (stratified, fixed by the seed), part of the study identity,
scored once by the refitted best trial and stored apart from the CV score."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import automl
from automl.datasets import Dataset, make_dataset
from automl.exceptions import ConfigError, DataError, StudyMismatchError
from automl.holdout import ATTR, check_fraction, split_holdout
from automl.job import Workload
from automl.metrics import get_metric
from automl.registry import discover
from automl.space import Selection, candidates


def _unbalanced() -> Dataset:
    """100 rows, 80 of class a and 20 of class b."""
    rng = np.random.default_rng(0)
    return make_dataset("unbalanced", "tabular", pd.DataFrame(rng.normal(size=(100, 2)), columns=["u", "v"]),
                        np.array(["a"] * 80 + ["b"] * 20), "builtin")


def test_the_holdout_is_stratified_disjoint_and_fixed_by_the_seed() -> None:
    data = _unbalanced()
    rows, held_out, identity = split_holdout(data, 0.2, seed=3)
    assert (len(rows), len(held_out)) == (80, 20)
    assert np.bincount(held_out.y).tolist() == [16, 4]  # the class ratio of the whole
    assert identity.startswith("0.2:")
    rows_again, held_again, identity_again = split_holdout(data, 0.2, seed=3)
    assert identity_again == identity and rows_again.X.equals(rows.X) and held_again.X.equals(held_out.X)
    assert split_holdout(data, 0.2, seed=4)[2] != identity
    together = pd.concat([rows.X, held_out.X])
    assert len(together.drop_duplicates()) == len(data)  # every row once, on one side only
    assert rows.fingerprint != data.fingerprint and rows.classes == data.classes


def test_a_regression_holdout_is_not_stratified() -> None:
    rng = np.random.default_rng(1)
    data = make_dataset("values", "tabular", pd.DataFrame(rng.normal(size=(50, 2)), columns=["u", "v"]),
                        rng.normal(size=50), "builtin")
    rows, held_out, _ = split_holdout(data, 0.3, seed=0)
    assert (len(rows), len(held_out)) == (35, 15)


@pytest.mark.parametrize("fraction", [0, 1, 1.5, -0.2, True, "0.2"])
def test_a_holdout_must_be_a_fraction(fraction: object) -> None:
    with pytest.raises(ConfigError, match="holdout must be a fraction between 0 and 1"):
        check_fraction(fraction)  # type: ignore[arg-type]


def test_a_class_too_rare_to_split_is_a_data_error() -> None:
    data = make_dataset("rare", "tabular", pd.DataFrame({"u": range(12)}), np.array(["a"] * 11 + ["b"]), "builtin")
    with pytest.raises(DataError, match="cannot set aside a holdout of 0.2"):
        split_holdout(data, 0.2, seed=0)


def test_trials_see_only_the_search_rows() -> None:
    data = _unbalanced()
    metric = get_metric("accuracy", data.kind)
    cands = candidates(discover(), "tabular", data.kind, Selection(("linear",), None, None))
    workload, identity = Workload.prepare(data, metric, cands, folds=4, seed=0, holdout=0.25)
    assert len(workload.dataset) == 75 and workload.held_out is not None and len(workload.held_out) == 25
    validation = np.concatenate([valid for _, valid in workload.splits])
    assert sorted(validation.tolist()) == list(range(75))  # the folds cover the search rows, nothing more
    assert workload.full is data and identity == split_holdout(data, 0.25, 0)[2]
    without, none = Workload.prepare(data, metric, cands, folds=4, seed=0, holdout=None)
    assert (without.dataset, without.held_out, none) == (data, None, "")


@pytest.fixture(scope="module")
def searched(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """A 2-trial study of the linear model on a CSV with a 25% holdout."""
    root = tmp_path_factory.mktemp("holdout")
    data = _unbalanced()
    frame = data.X.assign(label=np.asarray(data.classes)[data.y])
    frame.to_csv(root / "unbalanced.csv", index=False)
    url = f"sqlite:///{root / 'studies.db'}"
    automl.search("tabular", root / "unbalanced.csv", models=["linear"], n_trials=2, folds=2, holdout=0.25,
                  storage=url, study="s")
    return root / "unbalanced.csv", url


def test_the_search_stores_the_held_out_score_of_its_best_trial_apart(searched: tuple[Path, str]) -> None:
    _, url = searched
    study = automl.load_study("s", url)
    record = study.user_attrs[ATTR]
    assert record["trial"] == study.best_trial.number and record["rows"] == 25
    assert 0 <= record["score"] <= 1
    assert study.best_value == study.best_trial.values[0]  # the CV score is untouched by it
    row = automl.report.summarize(study)
    assert (row.folds, row.holdout, row.holdout_rows) == (2, record, True)


@pytest.mark.parametrize(("holdout", "hint"), [(0.3, "--holdout 0.25"), (None, "--holdout 0.25")])
def test_a_resume_with_another_holdout_is_refused(searched: tuple[Path, str], holdout: float | None,
                                                  hint: str) -> None:
    csv, url = searched
    with pytest.raises(StudyMismatchError, match="holdout") as info:
        automl.search("tabular", csv, models=["linear"], n_trials=2, folds=2, holdout=holdout, storage=url,
                      study="s")
    assert f"(they were: {hint})" in str(info.value)


def test_a_study_without_holdout_resumed_with_one_is_refused(tmp_path: Path, blobs_csv: Path) -> None:
    url = f"sqlite:///{tmp_path / 'studies.db'}"
    automl.search("tabular", blobs_csv, models=["linear"], n_trials=1, folds=2, storage=url, study="plain")
    with pytest.raises(StudyMismatchError, match=r"\(they were: no --holdout\)"):
        automl.search("tabular", blobs_csv, models=["linear"], n_trials=1, folds=2, holdout=0.2, storage=url,
                      study="plain")
    row = automl.report.summarize(automl.load_study("plain", url))
    assert (row.holdout, row.holdout_rows) == (None, False)
