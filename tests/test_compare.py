"""Comparing studies: one row each, ranked only when data, metric and folds agree, studies found across storages,
the best configurations' differences, and the command line (table and --json)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from cli_support import assert_one_error_line, invoke, tables

import automl
from automl.exceptions import ConfigError

MODELS = ["linear", "k_neighbors", "random_forest", "hist_gradient_boosting"]


@pytest.fixture(scope="module")
def sweep(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    """Four studies, one per model family, on one CSV in one storage; a fifth on other data in another storage."""
    root = tmp_path_factory.mktemp("compare")
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(rng.normal(size=(160, 4)), columns=list("abcd"))
    frame["label"] = np.where(frame["a"] * frame["b"] + 0.3 * rng.normal(size=160) > 0, "x", "y")
    frame.to_csv(root / "data.csv", index=False)
    first, second = f"sqlite:///{root / 'one.db'}", f"sqlite:///{root / 'two.db'}"
    for model in MODELS:
        automl.search("tabular", root / "data.csv", models=[model], n_trials=2, folds=2, storage=first, study=model)
    frame.iloc[:100].to_csv(root / "other.csv", index=False)
    automl.search("tabular", root / "other.csv", models=["linear"], n_trials=1, folds=2, storage=second,
                  study="other")
    return first, second


def test_studies_on_one_dataset_are_ranked_best_first(sweep: tuple[str, str]) -> None:
    result = automl.compare(MODELS, [sweep[0]])
    frame = result.studies
    assert result.unranked is None and sorted(frame["study"]) == sorted(MODELS)
    assert frame["best"].tolist() == sorted(frame["best"], reverse=True)
    for row in frame.to_dict(orient="records"):
        study = automl.load_study(row["study"], sweep[0])
        assert row["best"] == study.best_value and row["best_model"] == row["study"]
        assert row["best_std"] == study.best_trial.user_attrs["cv_std"]
        assert row["complete"] + row["pruned"] + row["failed"] == len(study.trials) == 2
        assert row["seconds_per_trial"] > 0 and len(set(frame["fingerprint"])) == 1
    assert "model" in result.params.index and set(result.params.columns) == set(MODELS)
    assert result.params.loc["model"].tolist() == list(result.params.columns)  # each study's own family
    knn = result.params.loc["model.k_neighbors.weights"]
    assert knn["linear"] is None and knn["k_neighbors"] in ("uniform", "distance")  # None where absent, never NaN


def test_studies_on_other_data_are_listed_but_not_ranked(sweep: tuple[str, str]) -> None:
    result = automl.compare(["other", "linear", "random_forest"], list(sweep))
    assert result.studies["study"].tolist() == ["other", "linear", "random_forest"]  # the order given
    assert result.unranked is not None and result.unranked.startswith("their datasets differ")
    assert set(result.studies["storage"]) == {sweep[0], sweep[1]}


def test_a_study_must_be_found_exactly_once(sweep: tuple[str, str], tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no study 'nope' in"):
        automl.compare(["linear", "nope"], [sweep[0]])
    with pytest.raises(ConfigError, match="name at least one study"):
        automl.compare([], [sweep[0]])
    copy = f"sqlite:///{tmp_path / 'copy.db'}"
    automl.copy_study("linear", sweep[0], copy)
    with pytest.raises(ConfigError, match="study 'linear' is in .* and .*: compare it from one storage only"):
        automl.compare(["linear"], [sweep[0], copy])


def test_compare_prints_one_table_and_json(sweep: tuple[str, str]) -> None:
    result = invoke("compare", *MODELS, "--storage", sweep[0])
    assert result.exit_code == 0, result.output
    board, params = tables(result.stdout)
    assert board.header == ["#", "study", "dataset", "metric", "trials", "best CV ± std", "held-out", "s/trial",
                            "best model"]
    assert board.column(0) == ["1", "2", "3", "4"] and len(set(board.column(2))) == 1
    assert params.header[0] == "parameter" and "model" in params.column(0)
    data = json.loads(invoke("compare", *MODELS, "--storage", sweep[0], "--json").stdout)
    assert data["ranked"] is True and [s["study"] for s in data["studies"]] == board.column(1)
    assert data["params"]["linear"]["model"] == "linear"
    mixed = invoke("compare", "other", "linear", "--storage", sweep[0], "--storage", sweep[1])
    assert mixed.exit_code == 0 and "not ranked: their datasets differ" in mixed.stderr
    assert tables(mixed.stdout)[0].column(0) == ["-", "-"]
    assert_one_error_line(invoke("compare", "nope", "--storage", sweep[0]), "no study 'nope'")


def test_studies_show_and_plugins_list_print_json(sweep: tuple[str, str]) -> None:
    listed = json.loads(invoke("studies", "--storage", sweep[0], "--json").stdout)
    assert sorted(row["name"] for row in listed) == sorted(MODELS) and listed[0]["folds"] == 2
    shown = json.loads(invoke("show", "linear", "--storage", sweep[0], "--json").stdout)
    assert shown["name"] == "linear" and shown["leaderboard"][0]["fold_1"] is not None
    assert shown["best_params"]["model"] == "linear"
    plugins = json.loads(invoke("plugins", "list", "--kind", "optimizer", "--json").stdout)
    assert {p["kind"] for p in plugins} == {"optimizer"} and all(p["status"] == "ok" for p in plugins)


def test_tables_wrap_long_names_at_80_columns(sweep: tuple[str, str], tmp_path: Path) -> None:
    name = "a_study_name_long_enough_to_be_cut_at_eighty_columns"
    automl.copy_study("linear", sweep[0], f"sqlite:///{tmp_path / 'long.db'}", new_name=name)
    result = invoke("studies", "--storage", f"sqlite:///{tmp_path / 'long.db'}", env={"COLUMNS": "80"})
    assert result.exit_code == 0 and "…" not in result.stdout
    assert name in "".join(cell for row in tables(result.stdout)[0].rows for cell in row[:1])
