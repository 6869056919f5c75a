"""Plots of a study: Optuna's standard views and two of automl's own, as figures, interactive HTML or PNG pictures.

Kinds (:data:`KINDS`):

* ``history``, ``importance``, ``parallel``, ``pareto``: Optuna's plots (``optuna.visualization`` and
  ``optuna.visualization.matplotlib``), labelled with the study's metric (and costs). In an accuracy-vs-cost study
  the first three show the metric; ``pareto`` shows the metric against the costs (against the first two costs when
  there are three: Optuna draws 2 or 3 axes), and only exists for such studies.
* ``folds``: the per-fold CV scores of the complete trials (trial user attribute ``fold_scores``) per model family
  (trial parameter ``model``): a box per family, each fold a point.
* ``models``: per model family, the mean CV score of its complete trials (± their standard deviation) and the best.

Two renderers, chosen by the file written: plotly figures for ``.html`` (and what :func:`plot` returns without a
file: interactive in a notebook), matplotlib figures for ``.png``. The HTML embeds plotly.js
(``include_plotlyjs=True``, about 5 MB a file), so it opens without a network. The PNG is drawn by matplotlib's Agg
renderer: no browser, no network. Plotly's own PNG export is not used: plotly 7 exports through kaleido 1.x, which
drives an installed Chrome (and offers to download one), so it fails on a machine without one.
"""

from __future__ import annotations

import contextlib
import statistics
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from automl.exceptions import ConfigError

if TYPE_CHECKING:  # imported when a plot is drawn: the command line reads KINDS without paying for optuna
    import optuna
    from optuna.trial import FrozenTrial

__all__ = ["ENGINES", "KINDS", "SUFFIXES", "check_kind", "check_out", "close", "default_out", "plot", "write"]

#: What :func:`plot` draws.
KINDS = ("history", "importance", "folds", "models", "parallel", "pareto")
#: The figure libraries: ``plotly`` (interactive, HTML) and ``matplotlib`` (PNG).
ENGINES = ("plotly", "matplotlib")
#: The files :func:`write` writes, and the library each is drawn with.
SUFFIXES = {".html": "plotly", ".png": "matplotlib"}
#: Size of a PNG, inches at :data:`DPI` dots per inch.
PNG_SIZE = (9.0, 5.5)
DPI = 100


def check_kind(kind: str) -> str:
    """``kind`` if it is one of :data:`KINDS`; :class:`ConfigError` otherwise."""
    if kind not in KINDS:
        raise ConfigError(f"unknown plot kind {kind!r}; choose one of {', '.join(KINDS)}")
    return kind


def check_out(out: str | Path) -> Path:
    """``out`` as a path, if it ends in one of :data:`SUFFIXES`; :class:`ConfigError` otherwise."""
    path = Path(out)
    if path.suffix.lower() not in SUFFIXES:
        raise ConfigError(f"cannot write a plot to {str(out)!r}: the file name must end in "
                          f"{' or '.join(SUFFIXES)}")
    return path


def default_out(study_name: str, kind: str) -> Path:
    """``<study>-<kind>.html`` in the working directory: where the command writes a plot without ``--out``."""
    return Path(f"{study_name}-{kind}.html")


def plot(study: optuna.Study, kind: str = "history", out: str | Path | None = None, *,
         engine: str | None = None) -> Any:
    """The figure of ``kind`` (one of :data:`KINDS`) for ``study``; with ``out``, also write it there (see
    :func:`write`: ``.html`` with plotly.js embedded, or ``.png``).

    ``engine`` picks the library: ``"plotly"`` (a ``plotly.graph_objects.Figure``) or ``"matplotlib"`` (a
    ``matplotlib.figure.Figure``, made by pyplot: ``plt.close(fig)`` when done); default: matplotlib for a ``.png``
    ``out``, plotly otherwise. Refused (:class:`ConfigError`): an unknown kind or file suffix, an engine that cannot
    write ``out``, a study without complete trials, ``importance`` with fewer than 2 complete trials, ``pareto`` on
    a single-objective study.
    """
    check_kind(kind)
    path = check_out(out) if out is not None else None
    wanted = SUFFIXES[path.suffix.lower()] if path is not None else "plotly"
    if engine is not None:
        if engine not in ENGINES:
            raise ConfigError(f"unknown plot engine {engine!r}; choose one of {', '.join(ENGINES)}")
        if path is not None and engine != wanted:
            raise ConfigError(f"a {path.suffix} file is drawn with {wanted}, not {engine}")
        wanted = engine
    from optuna.trial import TrialState

    complete = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    if not complete:
        raise ConfigError(f"study {study.study_name!r} has no complete trial to plot "
                          f"(automl show {study.study_name} lists its failures)")
    mpl = wanted == "matplotlib"
    with _quiet(), _style(mpl):
        figure = _KINDS[kind](_View(study, complete), mpl)
    if path is not None:
        write(figure, path)
    return figure


def write(figure: Any, out: str | Path) -> Path:
    """Write a plotly figure as ``.html`` (plotly.js embedded: it opens offline) or a matplotlib one as ``.png``
    (:data:`PNG_SIZE` at :data:`DPI`, trimmed to what is drawn); creates missing folders and returns the path."""
    path = check_out(out)
    engine = SUFFIXES[path.suffix.lower()]
    if _is_plotly(figure) != (engine == "plotly"):
        raise ConfigError(f"a {path.suffix} file is drawn with {engine}; plot it with engine={engine!r}")
    path.parent.mkdir(parents=True, exist_ok=True)
    if engine == "plotly":
        figure.write_html(path, include_plotlyjs=True, full_html=True)
    else:
        figure.set_size_inches(*PNG_SIZE)
        figure.savefig(path, format="png", dpi=DPI, bbox_inches="tight")
    return path


def close(figure: Any) -> None:
    """Free a matplotlib figure (pyplot keeps every figure it made until closed); nothing for a plotly one."""
    if not _is_plotly(figure):
        import matplotlib.pyplot as plt

        plt.close(figure)


# -- what the kinds read from a study --------------------------------------------------------------------------


class _View:
    """A study's complete trials, its metric and costs, and the labels the plots give them."""

    def __init__(self, study: optuna.Study, complete: list[FrozenTrial]) -> None:
        import optuna

        from automl.study import spec_of

        spec = spec_of(study)
        self.study = study
        self.complete = complete
        self.metric = str(spec.get("metric", "objective"))
        self.costs = [str(c) for c in spec.get("costs", [])]
        self.folds = spec.get("folds")
        self.maximize = study.directions[0] == optuna.study.StudyDirection.MAXIMIZE
        self.multi = len(study.directions) > 1

    @property
    def label(self) -> str:
        """``5-fold CV accuracy``."""
        return f"{self.folds}-fold CV {self.metric}" if self.folds else self.metric

    def target(self) -> dict[str, Any]:
        """Optuna's ``target``/``target_name`` arguments: the metric (the first objective)."""
        if self.multi:
            return {"target": _first_value, "target_name": self.label}
        return {"target_name": self.label}

    def families(self) -> dict[str, list[FrozenTrial]]:
        """Complete trials by model family (trial parameter ``model``), best family first."""
        groups: dict[str, list[FrozenTrial]] = {}
        for trial in self.complete:
            groups.setdefault(str(trial.params.get("model", "?")), []).append(trial)
        best = {name: self.best(_first_value(t) for t in trials) for name, trials in groups.items()}
        return dict(sorted(groups.items(), key=lambda item: -best[item[0]] if self.maximize else best[item[0]]))

    def best(self, values: Any) -> float:
        return max(values) if self.maximize else min(values)


def _first_value(trial: FrozenTrial) -> float:
    return float(trial.values[0])


def _is_plotly(figure: Any) -> bool:
    return type(figure).__module__.startswith("plotly")


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Optuna marks its matplotlib plots experimental, its parallel coordinates make matplotlib warn about the axis of
    a parameter with one value, and its importances warn about every conditional parameter seen in fewer than 2
    trials of a branch (a small study's importances are rough: that is the plot's nature, not a fault)."""
    import optuna

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        warnings.filterwarnings("ignore", "Attempting to set identical", UserWarning)
        warnings.filterwarnings("ignore", "Some regimes for parameter", UserWarning)
        yield


@contextlib.contextmanager
def _style(mpl: bool) -> Iterator[None]:
    """Draw matplotlib figures in the style of Optuna's (``ggplot``), leaving pyplot's settings as they were (Optuna's
    own functions set that style for the whole process)."""
    if not mpl:
        yield
        return
    import matplotlib.pyplot as plt

    with plt.style.context("ggplot"):
        yield


def _figure_of(axes: Any) -> Any:
    """The figure of what an ``optuna.visualization.matplotlib`` function returned (axes, or an array of them)."""
    first = axes.flat[0] if hasattr(axes, "flat") else axes
    return first.get_figure()


# -- the kinds -------------------------------------------------------------------------------------------------


def _optuna(function: str, view: _View, mpl: bool, **kwargs: Any) -> Any:
    """Optuna's plot ``function`` of the study: the plotly figure, or the figure of the matplotlib version's axes."""
    if mpl:
        from optuna.visualization import matplotlib as vis

        return _figure_of(getattr(vis, function)(view.study, **kwargs))
    from optuna import visualization as vis

    return getattr(vis, function)(view.study, **kwargs)


def _history(view: _View, mpl: bool) -> Any:
    return _optuna("plot_optimization_history", view, mpl, **view.target())


def _importance(view: _View, mpl: bool) -> Any:
    if len(view.complete) < 2:
        raise ConfigError(f"parameter importances need at least 2 complete trials; study "
                          f"{view.study.study_name!r} has {len(view.complete)}")
    return _optuna("plot_param_importances", view, mpl, **view.target())


def _parallel(view: _View, mpl: bool) -> Any:
    return _optuna("plot_parallel_coordinate", view, mpl, **view.target())


def _pareto(view: _View, mpl: bool) -> Any:
    if not view.multi:
        raise ConfigError(f"study {view.study.study_name!r} has one objective ({view.metric}): a Pareto front needs "
                          f"an accuracy-vs-cost study (automl search --objectives {view.metric},latency)")
    from automl.costs import UNITS

    names = [view.label, *(f"{cost} ({UNITS.get(cost, '?')})" for cost in view.costs)]
    names += [f"objective {i}" for i in range(len(names), len(view.study.directions))]
    axes: dict[str, Any] = {"target_names": names[:3]}
    if len(names) > 3:  # Optuna draws 2 or 3 axes; the front itself is still that of all the objectives
        axes["targets"] = lambda trial: list(trial.values[:3])
    return _optuna("plot_pareto_front", view, mpl, **axes)


def _folds(view: _View, mpl: bool) -> Any:
    families = view.families()
    scores = {name: [(t.number, float(s)) for t in trials for s in t.user_attrs.get("fold_scores") or []]
              for name, trials in families.items()}
    scores = {name: points for name, points in scores.items() if points}
    if not scores:
        raise ConfigError(f"no complete trial of study {view.study.study_name!r} records fold scores")
    title = f"{view.label}: fold scores by model family ({len(view.complete)} complete trials)"
    ylabel = f"{view.metric} on one fold"
    if mpl:
        import matplotlib.pyplot as plt
        import numpy as np

        figure, ax = plt.subplots()
        values = [[s for _, s in points] for points in scores.values()]
        ax.boxplot(values, showfliers=False)
        jitter = np.random.default_rng(0)  # fixed: the same study draws the same picture
        for i, column in enumerate(values, start=1):
            ax.scatter(i + jitter.uniform(-0.15, 0.15, len(column)), column, s=14, alpha=0.6, zorder=3)
        ax.set_xticks(range(1, len(values) + 1), [f"{name}\n({len(families[name])} trials)" for name in scores])
        ax.set(title=title, xlabel="model", ylabel=ylabel)
        ax.grid(axis="y", alpha=0.3)
        return figure
    import plotly.graph_objects as go

    figure = go.Figure(layout={"title": title, "xaxis": {"title": "model"}, "yaxis": {"title": ylabel}})
    for name, points in scores.items():
        figure.add_trace(go.Box(
            y=[s for _, s in points], name=name, boxpoints="all", jitter=0.4, pointpos=0,
            customdata=[n for n, _ in points], hovertemplate="trial %{customdata}: %{y:.4f}<extra>%{fullData.name}"
                                                             "</extra>"))
    return figure


def _models(view: _View, mpl: bool) -> Any:
    rows = []
    for name, trials in view.families().items():
        values = [_first_value(t) for t in trials]
        rows.append((name, len(values), statistics.fmean(values), statistics.pstdev(values), view.best(values)))
    title = f"{view.label} by model family: mean ± std and best of its complete trials"
    ticks = [f"{name} ({n})" for name, n, *_ in rows]
    if mpl:
        import matplotlib.pyplot as plt

        figure, ax = plt.subplots()
        x = range(len(rows))
        ax.errorbar(x, [r[2] for r in rows], yerr=[r[3] for r in rows], fmt="o", capsize=6, label="mean ± std")
        ax.scatter(x, [r[4] for r in rows], marker="*", s=160, zorder=3, label="best")
        ax.set_xticks(list(x), ticks)
        ax.set_xlim(-0.5, len(rows) - 0.5)
        ax.set(title=title, xlabel="model (complete trials)", ylabel=view.label)
        ax.grid(axis="y", alpha=0.3)
        ax.legend()
        return figure
    import plotly.graph_objects as go

    figure = go.Figure(layout={"title": title, "xaxis": {"title": "model (complete trials)"},
                               "yaxis": {"title": view.label}})
    figure.add_trace(go.Scatter(x=ticks, y=[r[2] for r in rows], mode="markers", name="mean ± std",
                                error_y={"type": "data", "array": [r[3] for r in rows]}, marker={"size": 10}))
    figure.add_trace(go.Scatter(x=ticks, y=[r[4] for r in rows], mode="markers", name="best",
                                marker={"symbol": "star", "size": 16}))
    return figure


_KINDS: dict[str, Callable[[_View, bool], Any]] = {
    "history": _history, "importance": _importance, "folds": _folds, "models": _models, "parallel": _parallel,
    "pareto": _pareto,
}
