"""A search job crosses processes as JSON; a worker rebuilds its workload and refuses other data or plugins."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import pytest

from automl.exceptions import StudyMismatchError
from automl.job import DataRef, SearchJob, Workload
from automl.study import StudySpec


def _job(data: Path, identity: StudySpec, **changes: object) -> SearchJob:
    job = SearchJob(study="s", storage="sqlite:///x.db", data=DataRef.of("tabular", data, None, None),
                    metric="accuracy", identity=identity, models=("linear",), optimizers=(), regularizers=(),
                    n_trials=4, folds=3, seed=2, options={"address": None})
    return dataclasses.replace(job, **changes)  # type: ignore[arg-type]


@pytest.fixture
def identity(blobs_csv: Path) -> StudySpec:
    from automl.cv import make_splits, splits_digest
    from automl.registry import discover
    from automl.space import Selection, candidates, space_signature

    dataset = DataRef.of("tabular", blobs_csv, None, None).load()
    cands = candidates(discover(), "tabular", dataset.kind, Selection(("linear",), (), ()))
    return StudySpec(task="tabular", dataset=dataset.name, source=dataset.source, fingerprint=dataset.fingerprint,
                     kind=dataset.kind, metric="accuracy", direction="maximize", folds=3, seed=2,
                     splits=splits_digest(make_splits(dataset, 3, 2)), space=space_signature(cands))


def test_a_job_round_trips_through_json(blobs_csv: Path, identity: StudySpec) -> None:
    job = _job(blobs_csv, identity)
    assert SearchJob.from_json(job.to_json()) == job


def test_a_relative_data_path_is_made_absolute(blobs_csv: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(blobs_csv.parent)
    assert DataRef.of("tabular", blobs_csv.name, None, None).data == str(blobs_csv)
    assert DataRef.of("tabular", "breast_cancer", None, None).data == "breast_cancer"  # a built-in name stays


def test_a_worker_rebuilds_the_workload(blobs_csv: Path, identity: StudySpec) -> None:
    workload = Workload.from_job(_job(blobs_csv, identity))
    assert [r.name for r in workload.candidates.models] == ["linear"] and len(workload.splits) == 3


def test_a_worker_refuses_changed_data(blobs_csv: Path, identity: StudySpec) -> None:
    job = _job(blobs_csv, identity)
    with open(blobs_csv, "a") as handle:
        handle.write("9,9,9,9,a" + os.linesep)
    with pytest.raises(StudyMismatchError, match="changed since the search started"):
        Workload.from_job(job)


def test_a_worker_refuses_other_plugin_versions(blobs_csv: Path, identity: StudySpec) -> None:
    other = dataclasses.replace(identity, space={**identity.space, "models": {"linear": "automl 0.0.1"}})
    with pytest.raises(StudyMismatchError, match="install the same versions"):
        Workload.from_job(_job(blobs_csv, other))
