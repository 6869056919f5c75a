"""Plots of a study (:mod:`automl.plots`, ``automl plot``): every kind as a plotly figure, an HTML file that holds
its data and plotly.js, and a real PNG picture; one-line refusals.

Two small searches run once per module: a single-objective one (6 trials of ``linear`` and ``k_neighbors``, 2-fold
CV) and an accuracy-vs-params one (2 trials). The refusals use in-memory or throw-away Optuna studies.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import matplotlib.figure
import numpy as np
import optuna
import pandas as pd
import plotly.graph_objects as go
import pytest
from cli_support import assert_one_error_line, invoke
from optuna.distributions import CategoricalDistribution
from optuna.trial import TrialState, create_trial
from PIL import Image

import automl
from automl import plots
from automl.exceptions import ConfigError
from automl.study import ATTR

SINGLE = [kind for kind in plots.KINDS if kind != "pareto"]


@dataclass(frozen=True)
class Searched:
    url: str
    study: optuna.Study


def _moons(path: Path) -> Path:
    """200 rows of two half-moons and two noise columns, with a ``label`` column."""
    from sklearn.datasets import make_moons

    X, y = make_moons(200, noise=0.25, random_state=0)
    frame = pd.DataFrame(np.hstack([X, np.random.default_rng(0).normal(size=(200, 2))]), columns=list("abcd"))
    frame["label"] = np.where(y == 1, "yes", "no")
    frame.to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("plots")
    _moons(folder / "moons.csv")
    return folder


@pytest.fixture(scope="module")
def searched(root: Path) -> Searched:
    """6 trials of two model families, 2-fold CV."""
    url = f"sqlite:///{root / 's.db'}"
    result = automl.search("tabular", root / "moons.csv", models=["linear", "k_neighbors"], n_trials=6, folds=2,
                           storage=url, study="s")
    return Searched(url, result.study)


@pytest.fixture(scope="module")
def front(root: Path) -> Searched:
    """An accuracy-vs-params study of 2 trials."""
    url = f"sqlite:///{root / 'front.db'}"
    result = automl.search("tabular", root / "moons.csv", models=["linear", "k_neighbors"], n_trials=2, folds=2,
                           storage=url, study="front", objectives=["accuracy", "params"])
    return Searched(url, result.study)


def _study(url: str, name: str, *states: TrialState) -> optuna.Study:
    """A study in ``url`` made by automl's rules (its spec attribute) with one trial per state."""
    study = optuna.create_study(storage=url, study_name=name, direction="maximize")
    study.set_user_attr(ATTR, {"metric": "accuracy", "folds": 2})
    for number, state in enumerate(states):
        study.add_trial(create_trial(
            state=state, value=0.8 if state == TrialState.COMPLETE else None, params={"model": "linear"},
            distributions={"model": CategoricalDistribution(["linear"])},
            user_attrs={"fold_scores": [0.75 + number / 100, 0.85]}))
    return study


def assert_picture(path: Path) -> None:
    """``path`` is a PNG of more than 100x100 pixels with more than one colour."""
    with Image.open(path) as image:
        assert image.format == "PNG"
        assert image.width > 100 and image.height > 100
        low, high = image.convert("L").getextrema()
        assert low < high, "a single colour"


def _scores(study: optuna.Study) -> dict[str, list[float]]:
    found: dict[str, list[float]] = {}
    for trial in study.get_trials(states=(TrialState.COMPLETE,)):
        found.setdefault(trial.params["model"], []).extend(trial.user_attrs["fold_scores"])
    return found


# -- figures ---------------------------------------------------------------------------------------------------


def test_plot_is_the_api_function() -> None:
    assert automl.plot is plots.plot


@pytest.mark.parametrize("kind", SINGLE)
def test_each_kind_is_a_plotly_figure_with_data(searched: Searched, kind: str) -> None:
    figure = automl.plot(searched.study, kind)
    assert isinstance(figure, go.Figure)
    assert figure.data, kind


def test_pareto_is_a_figure_of_the_front_with_the_objectives_named(front: Searched) -> None:
    figure = automl.plot(front.study, "pareto")
    assert isinstance(figure, go.Figure) and figure.data
    assert figure.layout.xaxis.title.text == "2-fold CV accuracy"
    assert figure.layout.yaxis.title.text == "params (numbers)"


@pytest.mark.parametrize("kind", plots.KINDS)
def test_matplotlib_engine_gives_matplotlib_figures(searched: Searched, front: Searched, kind: str) -> None:
    figure = automl.plot(front.study if kind == "pareto" else searched.study, kind, engine="matplotlib")
    try:
        assert isinstance(figure, matplotlib.figure.Figure)
        assert figure.axes
    finally:
        plots.close(figure)


def test_folds_holds_every_fold_score_per_model_family(searched: Searched) -> None:
    figure = automl.plot(searched.study, "folds")
    drawn = {trace.name: sorted(trace.y) for trace in figure.data}
    assert drawn == {name: sorted(scores) for name, scores in _scores(searched.study).items()}


def test_models_shows_mean_and_best_per_family(searched: Searched) -> None:
    figure = automl.plot(searched.study, "models")
    mean, best = figure.data
    complete = searched.study.get_trials(states=(TrialState.COMPLETE,))
    for tick, m, b in zip(mean.x, mean.y, best.y):
        family = tick.split(" (")[0]
        values = [t.value for t in complete if t.params["model"] == family]
        assert tick == f"{family} ({len(values)})"
        assert m == pytest.approx(np.mean(values)) and b == pytest.approx(max(values))


# -- files -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", plots.KINDS)
def test_png_files_are_real_pictures(searched: Searched, front: Searched, tmp_path: Path, kind: str) -> None:
    path = tmp_path / "sub" / f"{kind}.png"
    figure = automl.plot(front.study if kind == "pareto" else searched.study, kind, out=path)
    plots.close(figure)
    assert_picture(path)


def test_html_holds_the_plot_data_and_plotly_js(searched: Searched, tmp_path: Path) -> None:
    path = tmp_path / "folds.html"
    automl.plot(searched.study, "folds", out=path)
    html = path.read_text()
    assert not re.search(r"<script[^>]+src=", html), "plotly.js must be embedded, not loaded from a network"
    assert "Plotly.newPlot" in html
    call = re.search(r'Plotly\.newPlot\(\s*"[^"]+",\s*', html)
    data, _ = json.JSONDecoder().raw_decode(html, call.end())
    assert {trace["name"]: sorted(trace["y"]) for trace in data} == {
        name: sorted(scores) for name, scores in _scores(searched.study).items()}


# -- the command line ------------------------------------------------------------------------------------------


def test_command_writes_study_kind_html_in_the_working_directory(searched: Searched, tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = invoke("plot", "s", "--storage", searched.url, "--kind", "history")
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == "s-history.html"
    assert "2-fold CV accuracy" in (tmp_path / "s-history.html").read_text()


def test_command_writes_a_png_where_asked(searched: Searched, tmp_path: Path) -> None:
    path = tmp_path / "models.png"
    result = invoke("plot", "s", "--storage", searched.url, "--kind", "models", "--out", str(path))
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == str(path)
    assert_picture(path)


# -- refusals --------------------------------------------------------------------------------------------------


def test_api_refusals_are_config_errors(searched: Searched, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="unknown plot kind 'pie'"):
        automl.plot(searched.study, "pie")
    with pytest.raises(ConfigError, match=r"must end in \.html or \.png"):
        automl.plot(searched.study, "history", out=tmp_path / "h.pdf")
    with pytest.raises(ConfigError, match="one objective"):
        automl.plot(searched.study, "pareto")
    with pytest.raises(ConfigError, match="drawn with matplotlib"):
        automl.plot(searched.study, "history", out=tmp_path / "h.png", engine="plotly")
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize(("args", "fragments"), [
    (["s", "--kind", "pie"], ["unknown plot kind 'pie'", "history, importance, folds, models, parallel, pareto"]),
    (["s", "--kind", "pareto"], ["one objective (accuracy)", "--objectives"]),
    (["s", "--kind", "history", "--out", "h.svg"], ["'h.svg'", ".html or .png"]),
    (["one", "--kind", "importance"], ["at least 2 complete trials", "has 1"]),
    (["failed", "--kind", "history"], ["'failed' has no complete trial"]),
    (["nope", "--kind", "history"], ["no study 'nope'"]),
])
def test_command_refusals_are_one_error_line(searched: Searched, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                            args: list[str], fragments: list[str]) -> None:
    url = f"sqlite:///{tmp_path / 'other.db'}"
    if args[0] == "s":
        url = searched.url
    else:
        _study(url, "one", TrialState.COMPLETE, TrialState.FAIL)
        _study(url, "failed", TrialState.FAIL, TrialState.PRUNED)
    monkeypatch.chdir(tmp_path)
    before = set(tmp_path.iterdir())
    assert_one_error_line(invoke("plot", *args, "--storage", url), *fragments)
    assert set(tmp_path.iterdir()) == before
