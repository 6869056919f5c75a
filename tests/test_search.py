from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

import numpy as np
import optuna
import pandas as pd
import pytest
from optuna.trial import TrialState

import automl
from automl.exceptions import ConfigError, StudyMismatchError
from automl.protocols import ModelPlugin
from automl.registry import PluginRecord, Registry, discover
from automl.resume import counted_trials

HGB = ["hist_gradient_boosting"]


def _search(data: Path, storage: str, **kwargs: Any) -> automl.SearchResult:
    options: dict[str, Any] = {"n_trials": 3, "folds": 3, "storage": storage, "models": HGB, "study": "s"}
    options.update(kwargs)
    return automl.search("tabular", data, **options)


def test_search_records_scores_and_study_identity(blobs_csv: Path, storage: str) -> None:
    result = _search(blobs_csv, storage)
    assert result.best_value > 0.9
    assert result.best_params["model"] == "hist_gradient_boosting"
    assert counted_trials(result.study) == 3
    for trial in result.study.get_trials(states=(TrialState.COMPLETE,)):
        scores = trial.user_attrs["fold_scores"]
        assert len(scores) == 3 and trial.value == pytest.approx(np.mean(scores))
        assert trial.user_attrs["cv_std"] == pytest.approx(np.std(scores))
        assert len(trial.user_attrs["fit_seconds"]) == 3
    spec = result.study.user_attrs["automl"]
    assert spec["task"] == "tabular" and spec["dataset"] == "blobs" and spec["metric"] == "accuracy"
    assert spec["folds"] == 3 and spec["seed"] == 0 and spec["direction"] == "maximize"
    assert spec["space"]["models"] == {"hist_gradient_boosting": f"automl {automl.__version__}"}
    assert len(spec["splits"]) == 16 and len(spec["fingerprint"]) == 16
    head = optuna.storages.RDBStorage(storage, skip_table_creation=True).get_head_version()
    assert spec["automl_version"] == automl.__version__ and spec["storage_schema"] == head
    frame = result.trials_dataframe()
    assert len(frame) == 3 and "params_model" in frame


def test_rerun_resumes_and_adds_nothing_once_the_budget_is_met(blobs_csv: Path, storage: str) -> None:
    _search(blobs_csv, storage)
    again = _search(blobs_csv, storage)
    assert len(again.study.trials) == 3
    more = _search(blobs_csv, storage, n_trials=5)
    assert counted_trials(more.study) == 5 and len(more.study.trials) == 5


def test_resumed_run_does_not_replay_the_first_runs_proposals(blobs_csv: Path, storage: str) -> None:
    _search(blobs_csv, storage, sampler="random", n_trials=2)
    result = _search(blobs_csv, storage, sampler="random", n_trials=4)
    params = [tuple(sorted(t.params.items())) for t in result.study.trials]
    assert len(set(params)) == 4


def test_changed_dataset_is_refused(blobs_csv: Path, storage: str) -> None:
    _search(blobs_csv, storage)
    frame = pd.read_csv(blobs_csv)
    frame.loc[0, "p"] += 1.0
    frame.to_csv(blobs_csv, index=False)
    with pytest.raises(StudyMismatchError, match="study 's' was created with dataset 'blobs'.*fingerprint"):
        _search(blobs_csv, storage)


@pytest.mark.parametrize(("change", "word"), [({"metric": "f1_macro"}, "metric"), ({"folds": 4}, "folds"),
                                              ({"seed": 1}, "seed"), ({"models": ["mlp"]}, "models")])
def test_changed_settings_are_refused(blobs_csv: Path, storage: str, change: dict, word: str) -> None:
    _search(blobs_csv, storage)
    with pytest.raises(StudyMismatchError, match=word):
        _search(blobs_csv, storage, **change)


def test_study_name_defaults_to_task_and_dataset(blobs_csv: Path, storage: str) -> None:
    result = _search(blobs_csv, storage, study=None)
    assert result.study.study_name == "tabular-blobs"
    assert automl.load_study("tabular-blobs", storage).user_attrs["automl"]["dataset"] == "blobs"


def test_default_storage_is_studies_folder_of_the_working_directory(
        blobs_csv: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("AUTOML_STORAGE", raising=False)
    result = _search(blobs_csv, None, n_trials=1)
    assert result.storage == "sqlite:///studies/automl.db"
    assert (tmp_path / "studies" / "automl.db").is_file()


def test_storage_from_environment(blobs_csv: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    url = f"sqlite:///{tmp_path / 'env.db'}"
    monkeypatch.setenv("AUTOML_STORAGE", url)
    assert _search(blobs_csv, None, n_trials=1).storage == url
    assert optuna.get_all_study_names(url) == ["s"]


def test_load_study_unknown_name_lists_the_studies(blobs_csv: Path, storage: str) -> None:
    _search(blobs_csv, storage, n_trials=1)
    with pytest.raises(ConfigError, match="no study 'nope' .*studies: s"):
        automl.load_study("nope", storage)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"n_trials": 0}, "n_trials must be a positive integer"), ({"timeout": -1}, "timeout"),
     ({"folds": 1}, "folds must be at least 2"), ({"sampler": "grid"}, "unknown sampler"),
     ({"pruner": "x"}, "unknown pruner"), ({"device": "tpu"}, "unknown device"),
     ({"threads": 0}, "threads"), ({"study": "../evil"}, "invalid study name"),
     ({"metric": "rmse"}, "metric 'rmse' is for regression")],
)
def test_bad_options_fail_before_touching_the_storage(blobs_csv: Path, tmp_path: Path, kwargs: dict,
                                                       message: str) -> None:
    db = tmp_path / "untouched.db"
    with pytest.raises(ConfigError, match=message):
        _search(blobs_csv, f"sqlite:///{db}", **kwargs)
    assert not db.exists()


class _Flaky(ModelPlugin):
    """Tabular model whose ``mode`` parameter decides between working, raising and scoring NaN."""

    name = "flaky"
    tasks = frozenset({"tabular"})
    family = "sklearn"
    kinds = frozenset({"classification"})
    api_version = 1

    def search_space(self, space: Any) -> None:
        space.suggest_categorical("mode", ["ok", "raise", "nan"])

    def build(self, params: Any, problem: Any) -> Any:
        from sklearn.dummy import DummyClassifier

        if params["mode"] == "raise":
            raise RuntimeError("flaky model exploded")
        if params["mode"] == "nan":
            class NaNPredictor(DummyClassifier):
                def predict(self, X: Any) -> np.ndarray:
                    raise FloatingPointError("prediction is NaN")
            return NaNPredictor()
        return DummyClassifier(strategy="most_frequent")


def _with_flaky() -> Registry:
    return Registry([*discover().records, PluginRecord("model", "flaky", "x:y", "flaky-dist", "1.0",
                                                       plugin=_Flaky())])


def test_failing_trials_fail_alone_with_their_reason(blobs_csv: Path, storage: str) -> None:
    result = _search(blobs_csv, storage, models=["flaky"], registry=_with_flaky(), sampler="random", n_trials=6)
    states = [t.state for t in result.study.trials]
    assert counted_trials(result.study) == 6
    failed = [t for t in result.study.trials if t.state == TrialState.FAIL]
    assert failed, "random sampling of 3 modes over 6+ trials never failed"
    for trial in failed:
        assert trial.params["model.flaky.mode"] in ("raise", "nan")
        assert ("exploded" in trial.user_attrs["fail_reason"]) or ("NaN" in trial.user_attrs["fail_reason"])
    assert TrialState.RUNNING not in states


def test_a_run_where_every_trial_fails_stops_after_its_budget_of_failures(blobs_csv: Path, storage: str) -> None:
    class AlwaysRaises(_Flaky):
        def search_space(self, space: Any) -> None:
            space.suggest_categorical("mode", ["raise"])

    registry = Registry([PluginRecord("model", "flaky", "x:y", "d", "1", plugin=AlwaysRaises())])
    result = _search(blobs_csv, storage, models=["flaky"], registry=registry, n_trials=4)
    assert [t.state for t in result.study.trials] == [TrialState.FAIL] * 4


def test_torch_model_runs_through_the_search(blobs_csv: Path, storage: str) -> None:
    result = _search(blobs_csv, storage, models=["mlp"], n_trials=2, folds=2, device="cpu", threads=1)
    trial = result.study.trials[0]
    assert trial.params["model"] == "mlp" and trial.params["optimizer"] in {r.name for r in discover().optimizers()}
    # torch trials also report per epoch: more intermediate steps than folds
    assert all(len(t.intermediate_values) > 2 for t in result.study.get_trials(states=(TrialState.COMPLETE,)))


def test_ctrl_c_requeues_the_interrupted_configuration(blobs_csv: Path, storage: str) -> None:
    class InterruptSecond(_Flaky):
        calls = 0

        def search_space(self, space: Any) -> None:
            space.suggest_categorical("mode", ["ok"])
            space.suggest_float("x", 0.0, 1.0)

        def build(self, params: Any, problem: Any) -> Any:
            InterruptSecond.calls += 1
            if InterruptSecond.calls == 4:  # second trial, first fold
                raise KeyboardInterrupt
            return super().build(params, problem)

    registry = Registry([PluginRecord("model", "flaky", "x:y", "d", "1", plugin=InterruptSecond())])
    with pytest.raises(KeyboardInterrupt):
        _search(blobs_csv, storage, models=["flaky"], registry=registry, n_trials=3)
    study = automl.load_study("s", storage)
    interrupted = study.trials[1]
    assert interrupted.state == TrialState.FAIL and "KeyboardInterrupt" in interrupted.user_attrs["fail_reason"]
    (queued,) = [t for t in study.trials if t.state == TrialState.WAITING]
    assert queued.params == interrupted.params
    assert queued.user_attrs == {}  # the failed attempt's reason and worker are not carried over
    InterruptSecond.calls = 3  # interrupt the re-queued trial too: it must be queued once more, not twice
    with pytest.raises(KeyboardInterrupt):
        _search(blobs_csv, storage, models=["flaky"], registry=registry, n_trials=3)
    study = automl.load_study("s", storage)
    (queued,) = [t for t in study.trials if t.state == TrialState.WAITING]
    assert queued.system_attrs["failed_trial"] == interrupted.number
    result = _search(blobs_csv, storage, models=["flaky"], registry=registry, n_trials=3)
    assert counted_trials(result.study) == 3
    assert result.study.trials[queued.number].state == TrialState.COMPLETE


def test_an_empty_restriction_is_refused(blobs_csv: Path, storage: str) -> None:
    with pytest.raises(ConfigError, match="models restriction names no plugin"):
        _search(blobs_csv, storage, models=[])


def test_an_empty_foreign_study_with_the_other_direction_is_refused(blobs_csv: Path, storage: str) -> None:
    optuna.create_study(storage=storage, study_name="s", direction="minimize")
    with pytest.raises(StudyMismatchError, match=r"optimizes minimize, but this search \(accuracy\) needs maximize"):
        _search(blobs_csv, storage)


def test_default_study_name_is_cleaned_from_the_file_name(blobs_csv: Path, storage: str, tmp_path: Path) -> None:
    odd = tmp_path / "cancer data (1).csv"
    odd.write_bytes(blobs_csv.read_bytes())
    assert _search(odd, storage, study=None, n_trials=1).study.study_name == "tabular-cancer_data_1"


@pytest.mark.parametrize("seed", [-1, 2**32])
def test_seed_out_of_range(blobs_csv: Path, storage: str, seed: int) -> None:
    with pytest.raises(ConfigError, match="seed must be between 0 and"):
        _search(blobs_csv, storage, seed=seed)


def test_threads_do_not_leak_into_the_process(blobs_csv: Path, storage: str) -> None:
    import torch

    before = torch.get_num_threads()
    _search(blobs_csv, storage, models=["mlp"], n_trials=1, folds=2, threads=1)
    assert torch.get_num_threads() == before


@pytest.mark.parametrize(("options", "cuda", "absent", "present"), [
    ({"metric": "log_loss"}, False, {"tfidf_svm", "textcnn"}, {"tfidf_linear"}),
    ({}, True, set(), {"tfidf_svm", "textcnn", "rnn", "transformer"}),
])
def test_the_search_passes_metric_and_device_to_the_candidate_set(storage: str, monkeypatch: pytest.MonkeyPatch,
                                                                   options: dict, cuda: bool, absent: set[str],
                                                                   present: set[str]) -> None:
    """What the default NLP space holds depends on the metric (probabilities) and the device (heavy models); the
    study records the space, and ``search`` stops right after (no trial runs)."""
    module = importlib.import_module("automl.search")  # the module, which the function automl.search hides
    monkeypatch.setattr(importlib.import_module("automl.backends.optuna_backend"), "accelerated", lambda device: cuda)

    class Stop(Exception):
        pass

    def stop(*args: Any, **kwargs: Any) -> None:
        raise Stop

    monkeypatch.setattr(module.Workload, "prepare", stop)
    seen: dict[str, Any] = {}
    real = module.candidates

    def spy(*args: Any, **kwargs: Any) -> Any:
        seen["cands"] = real(*args, **kwargs)
        return seen["cands"]

    monkeypatch.setattr(module, "candidates", spy)
    with pytest.raises(Stop):
        automl.search("nlp", storage=storage, **options)
    models = {r.name for r in seen["cands"].models}
    assert not models & absent and present <= models


def test_a_search_is_quiet_unless_verbose(blobs_csv: Path, storage: str, capfd: pytest.CaptureFixture[str]) -> None:
    """Optuna's INFO lines (study created or reused, each trial's result) only with ``verbose=True``, whatever
    Optuna's level was before (``automl search -q`` lowers it in the process)."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    automl.search("tabular", blobs_csv, models=["linear"], n_trials=1, folds=2, storage=storage, study="q")
    automl.search("tabular", blobs_csv, models=["linear"], n_trials=2, folds=2, storage=storage, study="q")
    quiet = capfd.readouterr().err
    assert "Using an existing study" not in quiet and "finished with value" not in quiet
    automl.search("tabular", blobs_csv, models=["linear"], n_trials=3, folds=2, storage=storage, study="q",
                  verbose=True)
    loud = capfd.readouterr().err
    assert "Using an existing study" in loud and "Trial 2 finished with value" in loud


def test_a_new_study_runs_the_models_starting_points_first_and_a_resumed_one_not_again(
        tmp_path: Path, storage: str) -> None:
    from automl.testing import synthetic_dataset

    data = synthetic_dataset("nlp", n=40)
    csv = tmp_path / "texts.csv"
    pd.DataFrame({"text": data.X, "label": np.asarray(data.classes)[data.y]}).to_csv(csv, index=False)
    nb = discover().get("model", "tfidf_nb").plugin
    [start] = [{"model": "tfidf_nb", **{f"model.tfidf_nb.{k}": v for k, v in point.items()}}
               for point in nb.starting_points]
    first = automl.search("nlp", csv, models=["tfidf_nb"], n_trials=1, folds=2, storage=storage, study="s")
    assert [t.params for t in first.study.trials] == [start]  # queued, then run before any sampled trial
    again = automl.search("nlp", csv, models=["tfidf_nb"], n_trials=3, folds=2, storage=storage, study="s")
    assert len(again.study.trials) == 3 and counted_trials(again.study) == 3
    assert [t.params == start for t in again.study.trials] == [True, False, False]  # not queued a second time
