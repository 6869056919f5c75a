"""The ``automl`` command line, driven through typer's CliRunner (stdout and stderr kept apart).

One search (2 trials, 3 folds) runs once per module; tests that write to its storage work on a copy of the
SQLite file, so every test sees the same 2-trial study.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import optuna
import pandas as pd
import pytest
from cli_support import assert_one_error_line, invoke, tables
from optuna.trial import TrialState
from typer.testing import Result

import automl
from automl.exceptions import AutomlError, ConfigError

HGB = "hist_gradient_boosting"
ORIGIN = f"automl {automl.__version__}"
#: The built-in plugins of pyproject.toml, by name.
BUILTINS = {
    **dict.fromkeys(["tfidf_linear", "tfidf_svm", "tfidf_nb", "bag_of_embeddings", "textcnn", "rnn", "transformer",
                     "pixel_svc", "vision_mlp", "small_cnn", "resnet", "linear", "random_forest", HGB, "k_neighbors",
                     "mlp"], "model"),
    **dict.fromkeys(["sgd", "adam", "adamw", "adagrad", "rmsprop"], "optimizer"),
    **dict.fromkeys(["weight_decay", "l1", "dropout", "label_smoothing", "early_stopping", "gradient_clipping",
                     "mixup", "augmentation"], "regularizer"),
}

NLP_MODELS = {"tfidf_linear", "tfidf_svm", "tfidf_nb", "bag_of_embeddings", "textcnn", "rnn", "transformer"}
#: Built-in NLP models that load only with the ``transformers`` extra installed.
OPTIONAL_NLP_MODELS = {"pretrained_transformer", "sentence_embeddings"}
if importlib.util.find_spec("transformers") is not None:  # the test setup installs the extra
    BUILTINS.update(dict.fromkeys(OPTIONAL_NLP_MODELS, "model"))

def search_args(csv: Path, url: str, **overrides: str) -> list[str]:
    """``search`` options of the module's study, with ``overrides`` (``n_trials="0"`` → ``--n-trials 0``)."""
    options = {"task": "tabular", "data": str(csv), "models": HGB, "n_trials": "2", "folds": "3",
               "storage": url, "study": "s"}
    options.update(overrides)
    return ["search", *(x for key, value in options.items() for x in (f"--{key.replace('_', '-')}", value))]


def complete_trials(url: str, name: str = "s") -> list[optuna.trial.FrozenTrial]:
    return optuna.load_study(study_name=name, storage=url).get_trials(states=(TrialState.COMPLETE,))


# -- the module's study -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Searched:
    csv: Path
    db: Path
    result: Result

    @property
    def url(self) -> str:
        return f"sqlite:///{self.db}"


def write_blobs(path: Path) -> Path:
    """The ``blobs_csv`` data of conftest.py (a module-scoped fixture cannot use the function-scoped one)."""
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(np.vstack([rng.normal(-2, 1, (60, 4)), rng.normal(2, 1, (60, 4))]), columns=list("pqrs"))
    frame["label"] = ["a"] * 60 + ["b"] * 60
    frame.to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def searched(tmp_path_factory: pytest.TempPathFactory) -> Searched:
    root = tmp_path_factory.mktemp("cli")
    csv = write_blobs(root / "blobs.csv")
    db = root / "studies.db"
    return Searched(csv, db, invoke(*search_args(csv, f"sqlite:///{db}")))


@pytest.fixture
def copy_url(searched: Searched, tmp_path: Path) -> str:
    """A private copy of the module's storage, for a test that writes to it."""
    assert searched.result.exit_code == 0, searched.result.output
    copy = tmp_path / "copy.db"
    shutil.copyfile(searched.db, copy)
    return f"sqlite:///{copy}"


# -- plugins ----------------------------------------------------------------------------------------------


def test_plugins_list_shows_every_builtin_plugin_ok() -> None:
    result = invoke("plugins", "list")
    assert result.exit_code == 0, result.output
    (table,) = tables(result.stdout)
    assert table.header == ["name", "kind", "applies to", "origin", "status"]
    rows = {row[0]: row for row in table.rows}
    for name, kind in BUILTINS.items():
        assert name in rows, f"{name} missing from:\n{result.stdout}"
        assert rows[name][1] == kind and rows[name][3] == ORIGIN and rows[name][4] == "ok", rows[name]
    for record in automl.discover().records:
        if record.builtin:
            assert rows[record.name][4] == "ok"
    assert rows[HGB][2] == "tabular (sklearn; classification/regression)" and rows["small_cnn"][2] == "vision (torch)"
    assert rows["rnn"][2] == "nlp (torch; heavy)" and rows["tfidf_svm"][2] == "nlp (sklearn; no probabilities)"
    assert rows["label_smoothing"][2] == "torch; classification" and rows["augmentation"][2] == "torch; vision"


def test_plugins_list_task_keeps_only_what_a_search_of_that_task_may_choose() -> None:
    result = invoke("plugins", "list", "--task", "nlp")
    assert result.exit_code == 0, result.output
    (table,) = tables(result.stdout)
    models = {row[0] for row in table.rows if row[1] == "model"}
    assert models == {name for name, kind in BUILTINS.items() if kind == "model"} & (NLP_MODELS | OPTIONAL_NLP_MODELS)
    assert len(models) >= 6
    others = {row[0] for row in table.rows if row[1] != "model"}
    image_only = {"augmentation", "mixup"}  # regularizers of vision (and tabular) batches, never of token ids
    assert others == {name for name, kind in BUILTINS.items() if kind != "model"} - image_only


def test_plugins_list_unknown_task_is_one_error_line() -> None:
    assert_one_error_line(invoke("plugins", "list", "--task", "bogus"), "unknown task 'bogus'")


@pytest.mark.parametrize("value", ["0", "false", "no", ""])
def test_debug_switched_off_keeps_the_one_error_line(value: str) -> None:
    result = invoke("plugins", "list", "--task", "bogus", env={"AUTOML_DEBUG": value})
    assert_one_error_line(result, "unknown task 'bogus'")


def test_python_dash_m_automl_runs_the_cli(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("AUTOML_DEBUG", "AUTOML_STORAGE")}
    env["COLUMNS"] = "200"
    done = subprocess.run([sys.executable, "-m", "automl", "plugins", "list"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert HGB in done.stdout and ORIGIN in done.stdout


# -- search -----------------------------------------------------------------------------------------------


def test_search_runs_the_trials_and_prints_best_value_and_params(searched: Searched) -> None:
    result = searched.result
    assert result.exit_code == 0, result.output
    study = optuna.load_study(study_name="s", storage=searched.url)
    assert [t.state for t in study.trials] == [TrialState.COMPLETE] * 2
    (table,) = tables(result.stdout)
    rows = dict((row[0], row[1]) for row in table.rows)
    assert rows["best 3-fold CV accuracy"] == f"{study.best_value:.4f}"
    assert rows["trials"] == "2 complete"
    assert study.best_params["model"] == HGB
    for name, value in study.best_params.items():
        assert rows[name] == str(value), name
    assert sum(name.startswith(f"model.{HGB}.") for name in rows) >= 1


def test_rerunning_the_same_search_adds_no_trials(searched: Searched, copy_url: str) -> None:
    result = invoke(*search_args(searched.csv, copy_url))
    assert result.exit_code == 0, result.output
    assert len(optuna.load_study(study_name="s", storage=copy_url).trials) == 2
    (table,) = tables(result.stdout)
    assert dict((row[0], row[1]) for row in table.rows)["trials"] == "2 complete"


def test_quiet_prints_a_one_line_summary(searched: Searched, copy_url: str) -> None:
    result = invoke(*search_args(searched.csv, copy_url), "-q")
    assert result.exit_code == 0, result.output
    best = optuna.load_study(study_name="s", storage=copy_url).best_value
    lines = result.stdout.splitlines()
    assert len(lines) == 1, result.stdout
    assert "best accuracy" in lines[0] and f"{best:.4f}" in lines[0] and "2 complete" in lines[0]
    assert result.stderr == ""


def test_models_comma_separated_and_repeated(searched: Searched, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'models.db'}"
    # seed 2 makes the single trial a (fast) hist_gradient_boosting one; it changes nothing else here
    first = invoke(*search_args(searched.csv, url, models=f"{HGB},mlp", n_trials="1", seed="2"), "-q")
    assert first.exit_code == 0, first.output
    study = optuna.load_study(study_name="s", storage=url)
    assert set(study.user_attrs["automl"]["space"]["models"]) == {HGB, "mlp"}
    # the repeated form selects the same space, so it resumes the study (a different space is refused)
    other = invoke(*search_args(searched.csv, url, models=HGB, n_trials="1", seed="2"), "-q")
    assert other.exit_code == 2 and "models" in other.stderr, other.output
    args = search_args(searched.csv, url, models="mlp", n_trials="1", seed="2")
    repeated = invoke(*args, "--models", HGB, "-q")
    assert repeated.exit_code == 0, repeated.output
    study = optuna.load_study(study_name="s", storage=url)
    assert set(study.user_attrs["automl"]["space"]["models"]) == {HGB, "mlp"}
    assert len(study.trials) == 1


@pytest.mark.parametrize(
    ("overrides", "fragment"),
    [
        ({"task": "bogus"}, "unknown task 'bogus'"),
        ({"models": "nosuch"}, "unknown model plugin 'nosuch'"),
        ({"data": "{tmp}/missing.csv"}, "missing.csv"),
        ({"n_trials": "0"}, "n_trials must be a positive integer"),
        ({"folds": "4"}, "folds"),
        ({"storage": "notaurl://x"}, "notaurl://x"),
        ({"trial_timeout": "0"}, "trial_timeout must be a positive number of seconds, got 0.0"),
        ({"n_jobs": "0"}, "n_jobs must be a positive integer, got 0"),
    ],
    ids=["unknown-task", "unknown-model", "missing-data", "zero-trials", "study-mismatch", "bad-storage",
         "zero-trial-timeout", "zero-jobs"],
)
def test_search_errors_are_one_line_with_exit_status_2(searched: Searched, copy_url: str, tmp_path: Path,
                                                        overrides: dict[str, str], fragment: str) -> None:
    overrides = {key: value.format(tmp=tmp_path) for key, value in overrides.items()}
    assert_one_error_line(invoke(*search_args(searched.csv, copy_url, **overrides)), fragment)
    assert len(optuna.load_study(study_name="s", storage=copy_url).trials) == 2


def test_debug_mode_raises_instead(searched: Searched, copy_url: str) -> None:
    result = invoke(*search_args(searched.csv, copy_url, task="bogus"), env={"AUTOML_DEBUG": "1"})
    assert isinstance(result.exception, ConfigError) and isinstance(result.exception, AutomlError)
    assert "unknown task 'bogus'" in str(result.exception)
    assert result.exit_code != 0 and "error:" not in result.stderr


# -- studies and show -------------------------------------------------------------------------------------


def test_studies_lists_the_study(searched: Searched) -> None:
    assert searched.result.exit_code == 0
    result = invoke("studies", "--storage", searched.url)
    assert result.exit_code == 0, result.output
    (table,) = tables(result.stdout)
    assert table.header == ["study", "task", "dataset", "metric", "trials", "best", "updated"]
    (row,) = table.rows
    best = optuna.load_study(study_name="s", storage=searched.url).best_value
    assert row[:6] == ["s", "tabular", "blobs", "accuracy (maximize)", "complete:2", f"{best:.4f}"]


def test_show_prints_best_params_and_per_fold_scores(searched: Searched) -> None:
    assert searched.result.exit_code == 0
    result = invoke("show", "s", "--storage", searched.url)
    assert result.exit_code == 0, result.output
    assert "task tabular, dataset blobs, accuracy (maximize)" in result.stdout
    study = optuna.load_study(study_name="s", storage=searched.url)
    params, board = tables(result.stdout)
    assert params.header == ["best parameter", "value"]
    assert dict((row[0], row[1]) for row in params.rows) == {k: str(v) for k, v in study.best_params.items()}
    assert board.header == ["#", "accuracy", "std", "model", "fold scores", "fit s"]
    assert board.column(1) == sorted(board.column(1), reverse=True)  # best first
    assert board.rows[0][1] == f"{study.best_value:.4f}"
    rows = {row[0]: row for row in board.rows}
    assert set(rows) == {"0", "1"}
    for trial in study.trials:
        row = rows[str(trial.number)]
        scores = trial.user_attrs["fold_scores"]
        assert len(scores) == 3
        assert row[4] == " ".join(f"{s:.4f}" for s in scores)
        assert row[1] == f"{trial.value:.4f}" and row[3] == HGB
    assert "failed #" not in result.stdout
    assert "3-fold CV" in result.stdout and "no held-out rows (automl search --holdout 0.2 sets some aside)" \
        in result.stdout


def test_show_lists_failed_trials_with_their_reason(copy_url: str) -> None:
    study = optuna.load_study(study_name="s", storage=copy_url)
    study.add_trial(optuna.create_trial(state=TrialState.FAIL, user_attrs={"fail_reason": "boom"}))
    result = invoke("show", "s", "--storage", copy_url)
    assert result.exit_code == 0, result.output
    failed = tables(result.stdout)[-1]
    assert failed.header == ["failed #", "reason"]
    assert failed.rows == [["2", "boom"]]
    assert len(tables(result.stdout)[1].rows) == 2  # the leaderboard still holds the complete trials only


def test_show_unknown_study_lists_the_existing_ones(searched: Searched) -> None:
    assert searched.result.exit_code == 0
    assert_one_error_line(invoke("show", "nope", "--storage", searched.url), "no study 'nope'", "studies: s")


def test_copy_moves_a_study_to_another_storage_and_refuses_to_overwrite(copy_url: str, tmp_path: Path) -> None:
    target = f"sqlite:///{tmp_path / 'target.db'}"
    result = invoke("copy", "s", "--from", copy_url, "--to", target, "--name", "s2")
    assert result.exit_code == 0, result.output
    assert "copied s to" in result.stdout and "as s2 (2 complete)" in result.stdout
    copied = optuna.load_study(study_name="s2", storage=target)
    assert [t.params for t in copied.trials] == [t.params for t in optuna.load_study(study_name="s",
                                                                                       storage=copy_url).trials]
    assert_one_error_line(invoke("copy", "s", "--from", copy_url, "--to", target, "--name", "s2"),
                          "already holds a study 's2'")
    assert_one_error_line(invoke("copy", "s", "--from", copy_url), "--to is required")


# -- plugins check / --kind ---------------------------------------------------------------------------------------


def test_plugins_check_passes_for_every_builtin() -> None:
    result = invoke("plugins", "check", "--samples", "2")
    assert result.exit_code == 0, result.output
    (table,) = tables(result.stdout)
    assert set(table.column(0)) == set(BUILTINS)
    assert set(table.column(3)) == {"pass"}


def test_plugins_check_named_plugins_only() -> None:
    result = invoke("plugins", "check", "mlp", "sgd", "--samples", "1")
    assert result.exit_code == 0, result.output
    (table,) = tables(result.stdout)
    assert sorted(table.column(0)) == ["mlp", "sgd"]


def test_plugins_check_unknown_name_is_one_error_line() -> None:
    assert_one_error_line(invoke("plugins", "check", "nope"), "no installed plugin named nope")


def test_plugins_list_kind_filter() -> None:
    result = invoke("plugins", "list", "--kind", "optimizer")
    assert result.exit_code == 0, result.output
    (table,) = tables(result.stdout)
    assert set(table.column(1)) == {"optimizer"}
    assert set(table.column(0)) == {name for name, kind in BUILTINS.items() if kind == "optimizer"}
    assert_one_error_line(invoke("plugins", "list", "--kind", "sampler"), "unknown plugin kind 'sampler'")


# -- the model lifecycle: search --holdout → refit → predict ------------------------------------------------------


def test_search_holdout_refit_predict_reproduces_the_held_out_score(tmp_path: Path) -> None:
    """The acceptance path of a new user: the score `automl predict` prints on the held-out rows `automl refit`
    wrote is the held-out score `automl search` and `automl show` print."""
    csv, url = write_blobs(tmp_path / "blobs.csv"), f"sqlite:///{tmp_path / 'studies.db'}"
    searched = invoke(*search_args(csv, url, models="linear", n_trials="3", holdout="0.25"))
    assert searched.exit_code == 0, searched.output
    study = optuna.load_study(study_name="s", storage=url)
    held = study.user_attrs["automl.holdout"]
    line = f"held-out {held['score']:.4f} (trial {held['trial']}, 30 rows)"
    assert line in invoke("show", "s", "--storage", url).stdout
    refit = invoke("refit", "s", "--storage", url, "--out", str(tmp_path / "model"), "--holdout-data",
                   str(tmp_path / "held.csv"))
    assert refit.exit_code == 0, refit.output
    rows = {row[0]: row[1] for row in tables(refit.stdout)[0].rows}
    assert rows["held-out accuracy"] == f"{held['score']:.4f} (30 rows)" and rows["fitted on"] == "90 rows"
    predicted = invoke("predict", str(tmp_path / "model"), "--data", str(tmp_path / "held.csv"), "--out",
                       str(tmp_path / "preds.csv"))
    assert predicted.exit_code == 0, predicted.output
    assert f"accuracy on their labels: {held['score']:.4f}" in predicted.stderr
    assert len(pd.read_csv(tmp_path / "preds.csv")) == 30


def test_refit_and_predict_refuse_bad_input_with_one_line(searched: Searched, tmp_path: Path) -> None:
    assert_one_error_line(invoke("refit", "s", "--storage", searched.url, "--trial", "99"), "has no trial 99")
    assert_one_error_line(invoke("refit", "s", "--storage", searched.url, "--holdout-data", str(tmp_path / "h.csv"),
                                 "--out", str(tmp_path / "m")), "has no held-out rows")
    assert_one_error_line(invoke("predict", str(tmp_path), "--data", str(searched.csv)), "not a model directory")
    assert not (tmp_path / "m").exists()


def test_an_accuracy_cost_search_prints_its_pareto_front(moons_csv: Path, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'studies.db'}"
    searched = invoke(*search_args(moons_csv, url, models="linear,k_neighbors", n_trials="4", folds="2",
                                   objectives="accuracy,params"))
    assert searched.exit_code == 0, searched.output
    study = optuna.load_study(study_name="s", storage=url)
    front = automl.report.pareto_front(study)
    (table,) = tables(searched.stdout)
    assert table.header == ["#", "CV accuracy", "params", "model"]
    assert table.column(0) == [str(t.number) for t in front]
    assert table.column(2) == [f"{t.values[1]:,.0f}" for t in front]
    shown = invoke("show", "s", "--storage", url)
    assert "Pareto front below" in shown.stdout and tables(shown.stdout)[0].rows == table.rows
    assert_one_error_line(invoke("refit", "s", "--storage", url), "choose a trial with --trial",
                          f"(the Pareto front: {', '.join(str(t.number) for t in study.best_trials)})")
    refit = invoke("refit", "s", "--storage", url, "--trial", str(front[0].number), "--out", str(tmp_path / "m"))
    assert refit.exit_code == 0, refit.output
    assert_one_error_line(invoke(*search_args(moons_csv, url, objectives="latency,accuracy")),
                          "objectives start with the metric")


#: Libraries no command imports before it needs them: model fitting, data frames, Ray, plotting, export.
HEAVY = ("torch", "sklearn", "scipy", "pandas", "transformers", "ray", "plotly", "matplotlib", "onnx", "skops")
#: Printed on stderr by :func:`run_counting_imports`, before the list of the watched libraries a run imported.
IMPORTED = "imported:"


def run_counting_imports(args: list[str] | None) -> tuple[subprocess.CompletedProcess[str], list[str]]:
    """Run ``automl ARGS`` (only ``import automl_cli`` when ``None``) in a fresh interpreter: the finished process
    and which of :data:`HEAVY` and optuna it had imported."""
    code = (f"import sys, automl_cli\n"
            f"args = {args!r}\n"
            f"if args is not None:\n"
            f"    sys.argv = ['automl', *args]\n"
            f"    try:\n"
            f"        automl_cli.main()\n"
            f"    except SystemExit as exc:\n"
            f"        status = exc.code\n"
            f"print({IMPORTED!r}, ','.join(m for m in {(*HEAVY, 'optuna')!r} if m in sys.modules), file=sys.stderr)\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    marker = [line for line in done.stderr.splitlines() if line.startswith(IMPORTED)]
    assert marker, done.stdout + done.stderr
    return done, [name for name in marker[-1].removeprefix(IMPORTED).strip().split(",") if name]


@pytest.mark.parametrize("args", [None, ["--help"], ["search", "--help"], ["plugins", "list", "--json"]],
                         ids=["import", "help", "search-help", "plugins-list"])
def test_the_command_line_starts_without_optuna_scikit_learn_torch_or_plotting(args: list[str] | None) -> None:
    """`import automl_cli`, `automl --help` and `automl plugins list` pay for none of optuna, scikit-learn, SciPy,
    pandas, torch, Ray, plotly or matplotlib: each command imports what it uses when it runs."""
    done, imported = run_counting_imports(args)
    assert imported == [], done.stderr
    if args == ["plugins", "list", "--json"]:  # yet every built-in plugin was loaded and validated
        listed = {row["name"]: row["status"] for row in json.loads(done.stdout)}
        assert listed == dict.fromkeys(BUILTINS, "ok")


def test_studies_reads_the_storage_without_scikit_learn_pandas_or_torch(searched: Searched) -> None:
    """`automl studies` needs optuna and SQLAlchemy to read the storage, nothing that fits models."""
    done, imported = run_counting_imports(["studies", "--storage", searched.url, "--json"])
    assert [row["name"] for row in json.loads(done.stdout)] == ["s"], done.stderr
    assert imported == ["optuna"], done.stderr
