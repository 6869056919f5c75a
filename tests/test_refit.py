"""Refit: a trial's configuration fitted again on all the study's search rows, which reproduces the held-out score the
search stored, exactly, for tables, texts and images; the choice of trial and what refuses a refit."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import optuna
import pandas as pd
import pytest

import automl
from automl.exceptions import ConfigError, StudyMismatchError
from automl.export import export_onnx
from automl.holdout import ATTR
from automl.predict import predict_file
from automl.refit import choose_trial, study_rows, write_holdout


def _reproduces_the_stored_held_out_score(study: optuna.Study, model_dir: Path, rows_file: Path) -> float:
    """Predict the study's held-out rows, written to ``rows_file``, with the model directory; return the score
    after checking it is exactly the one the study and the card hold."""
    write_holdout(study, rows_file)
    done = predict_file(automl.load_model(model_dir), rows_file)
    stored = study.user_attrs[ATTR]
    card = automl.load_model(model_dir).card
    assert card["trial"] == stored["trial"]
    assert done.score == stored["score"] == card["scores"]["holdout"]["score"]
    assert len(done.table) == stored["rows"]
    return done.score


def test_tabular_refit_reproduces_the_held_out_score(refitted: Callable, tmp_path: Path) -> None:
    made = refitted("mlp")
    study = automl.load_study(made.study, made.storage)
    _reproduces_the_stored_held_out_score(study, made.model_dir, tmp_path / "held_out.csv")


@pytest.mark.parametrize(("task", "model", "suffix"), [("nlp", "tfidf_nb", ".csv"), ("vision", "small_cnn", ".npz")])
def test_refit_reproduces_the_held_out_score_on_the_default_data(tmp_path: Path, task: str, model: str,
                                                                  suffix: str) -> None:
    """The default rotten-tomatoes texts with a TF-IDF model, the default digits with a torch CNN (whose ONNX
    export runs in onnxruntime like the module)."""
    result = automl.search(task, models=[model], n_trials=2, folds=2, holdout=0.2,
                           storage=f"sqlite:///{tmp_path / 'studies.db'}", study="s")
    refitted = automl.refit(result.study, out=tmp_path / "model")
    score = _reproduces_the_stored_held_out_score(result.study, tmp_path / "model", tmp_path / f"held_out{suffix}")
    assert score > 0.5 and refitted.card["schema"]["kind"] == ("texts" if task == "nlp" else "images")
    if task == "vision":
        rows = np.load(tmp_path / "held_out.npz")["X"][:50]
        exported = export_onnx(automl.load_model(tmp_path / "model"), rows, tmp_path / "model.onnx")
        assert exported.max_abs_diff < 1e-3


def test_two_refits_of_a_trial_give_the_same_model(refitted: Callable) -> None:
    made = refitted("mlp")
    study = automl.load_study(made.study, made.storage)
    rows = pd.read_csv(made.data).drop(columns=["label"])
    first, second = automl.refit(study), automl.refit(study)
    assert np.array_equal(first.outputs(rows), second.outputs(rows))
    assert np.array_equal(first.outputs(rows), automl.load_model(made.model_dir).outputs(rows))


def test_any_complete_trial_can_be_refitted_and_scores_on_the_held_out_rows(refitted: Callable) -> None:
    made = refitted("random_forest")
    study = automl.load_study(made.study, made.storage)
    complete = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    other = next((t for t in complete if t.number != study.best_trial.number), complete[0])
    model = automl.refit(study, trial=other.number)
    assert model.card["trial"] == other.number and model.card["params"] == other.params
    assert model.card["scores"]["cv"] == other.values[0] and model.card["scores"]["holdout"]["rows"] == 40


def test_the_card_says_where_the_model_comes_from(refitted: Callable) -> None:
    made = refitted("mlp")
    card = automl.load_model(made.model_dir).card
    assert card["study"] == made.study and card["classes"] == ["a", "b"]
    assert card["schema"] == {"kind": "table", "target_column": "label", "columns": [
        {"name": "p", "type": "number"}, {"name": "q", "type": "number"}, {"name": "r", "type": "number"},
        {"name": "color", "type": "category"}]}
    assert card["data"]["fitted_rows"] == 120 and card["data"]["holdout"].startswith("0.25:")
    assert card["plugins"]["model"]["name"] == "mlp" and card["plugins"]["model"]["origin"].startswith("automl ")
    assert set(card["versions"]) >= {"automl", "torch", "scikit-learn", "optuna"}
    assert set(card["files"]) == {"featurizer", "weights"}


def test_choosing_a_trial(tmp_path: Path, blobs_csv: Path) -> None:
    url = f"sqlite:///{tmp_path / 'studies.db'}"
    study = automl.search("tabular", blobs_csv, models=["linear"], n_trials=1, folds=2, storage=url,
                          study="s").study
    assert choose_trial(study, None).number == study.best_trial.number
    with pytest.raises(ConfigError, match="has no trial 7"):
        choose_trial(study, 7)
    study.add_trial(optuna.trial.create_trial(state=optuna.trial.TrialState.FAIL))
    with pytest.raises(ConfigError, match="is fail, not complete"):
        choose_trial(study, study.trials[-1].number)
    empty = optuna.create_study(storage=url, study_name="empty")
    with pytest.raises(ConfigError, match="no complete trial"):
        choose_trial(empty, None)
    with pytest.raises(ConfigError, match="no held-out rows"):
        write_holdout(study, tmp_path / "x.csv")


def test_a_refit_is_refused_when_the_data_changed(tmp_path: Path, blobs_csv: Path) -> None:
    csv = tmp_path / "copy.csv"
    shutil.copy(blobs_csv, csv)
    study = automl.search("tabular", csv, models=["linear"], n_trials=1, folds=2,
                          storage=f"sqlite:///{tmp_path / 'studies.db'}", study="s").study
    frame = pd.read_csv(csv)
    frame.loc[0, "p"] += 1
    frame.to_csv(csv, index=False)
    with pytest.raises(StudyMismatchError, match="changed since the study"):
        automl.refit(study, out=tmp_path / "model")
    assert not (tmp_path / "model").exists()


def test_a_refit_is_refused_when_the_held_out_rows_come_out_differently(refitted: Callable) -> None:
    """The digest of the held-out rows is checked again, not only the fraction: a refit never scores other rows."""
    made = refitted("mlp")
    spec = automl.load_study(made.study, made.storage).user_attrs["automl"]
    fraction = spec["holdout"].partition(":")[0]
    with pytest.raises(StudyMismatchError, match="held-out rows come out differently"):
        study_rows(spec["data"], spec["fingerprint"], f"{fraction}:0000000000000000", spec["seed"])
    rows, held_out = study_rows(spec["data"], spec["fingerprint"], spec["holdout"], spec["seed"])
    assert held_out is not None and len(rows) + len(held_out) == 160
