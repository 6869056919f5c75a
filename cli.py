"""The ``automl`` command line: a thin typer layer over the Python API (:mod:`automl`).

Known errors print one line on stderr and exit with status 2; set ``AUTOML_DEBUG=1`` for the traceback.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import warnings
from collections.abc import Iterator
from typing import TYPE_CHECKING, Annotated, Optional

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

# Only light modules here: each command imports what it uses (optuna, scikit-learn, torch, ...) when it runs, so
# `automl --help` or `automl plugins list` do not pay for them (tests/test_cli.py checks it).
import automl
import automl.dashboard
import automl.plots
from automl.envvars import debug
from automl.exceptions import AutomlError, PluginWarning
from automl.protocols import GROUPS, TASKS

if TYPE_CHECKING:
    import optuna

app = typer.Typer(help="Plugin-based AutoML: k-fold CV hyperparameter search on Optuna.", no_args_is_help=True,
                  pretty_exceptions_enable=False, rich_markup_mode=None)
plugins_app = typer.Typer(help="Installed model, optimizer and regularizer plugins.", no_args_is_help=True,
                          rich_markup_mode=None)
app.add_typer(plugins_app, name="plugins")

out = Console()
err = Console(stderr=True)
_python_showwarning = warnings.showwarning

StorageOption = Annotated[
    Optional[str],
    typer.Option(help="SQLAlchemy URL of the study storage [default: $AUTOML_STORAGE or sqlite:///studies/automl.db]"),
]


@contextlib.contextmanager
def _errors() -> Iterator[None]:
    """Turn known errors into one line on stderr and a non-zero exit (``AUTOML_DEBUG=1`` re-raises); show a
    :class:`PluginWarning` (a plugin left out of a search) as one line too."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("always", PluginWarning)
            warnings.showwarning = _show_warning
            yield
    except AutomlError as exc:
        if debug():
            raise
        err.print(f"[red]error:[/red] {escape(str(exc))}", highlight=False, markup=True, soft_wrap=True)
        raise typer.Exit(2) from None
    except KeyboardInterrupt:
        err.print("interrupted: run the same command again to resume the study")
        raise typer.Exit(130) from None


def _show_warning(message: Warning | str, category: type[Warning], *args: object, **kwargs: object) -> None:
    if issubclass(category, PluginWarning):
        err.print(f"[yellow]warning:[/yellow] {escape(str(message))}", highlight=False, soft_wrap=True)
    else:
        _python_showwarning(message, category, *args, **kwargs)  # type: ignore[arg-type]


def _names(values: list[str] | None) -> list[str] | None:
    """Plugin names from repeated and/or comma-separated options (``None`` when the option is absent)."""
    if values is None:
        return None
    return [name.strip() for value in values for name in value.split(",") if name.strip()]


JsonOption = Annotated[bool, typer.Option("--json", help="print JSON (for scripts) instead of tables")]


def _print_json(data: object) -> None:
    """``data`` as indented JSON on stdout (dates and other values as strings)."""
    typer.echo(json.dumps(data, indent=2, default=str))


def _wrapping_table(*headers: str, keep: tuple[str, ...] = (), **options: object) -> Table:
    """A table whose cells wrap (long names and reasons fold onto more lines) instead of being cut at the terminal's
    width; the ``keep`` columns (short values) are never broken."""
    table = Table(**options)  # type: ignore[arg-type]
    for header in headers:
        table.add_column(header, overflow="fold", no_wrap=header in keep)
    return table


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.4f}"


def _scores_line(row: automl.report.StudyRow) -> str:
    """``5-fold CV 0.7850 · held-out 0.7790 (trial 7, 2562 rows)``, never one number for both."""
    multi = len(row.objectives) > 1
    line = f"{row.folds}-fold CV " + ("scores and costs: the Pareto front below" if multi else _fmt(row.best_value))
    if row.holdout:
        held = row.holdout
        return f"{line} · held-out {_fmt(held['score'])} (trial {held['trial']}, {held['rows']} rows)"
    if row.holdout_rows:
        return line + (" · held-out rows set aside: automl refit --trial N scores a trial on them" if multi else
                       " · held-out rows set aside, not scored yet (no complete trial)")
    return f"{line} · no held-out rows (automl search --holdout 0.2 sets some aside)"


def _print_front(row: automl.report.StudyRow, front: list[optuna.trial.FrozenTrial]) -> None:
    """The Pareto front of an accuracy-vs-cost study: a row per trial, its metric and costs; then how to refit one."""
    names = {"latency": "latency ms", "size": "size KiB", "params": "params"}
    table = Table("#", f"CV {row.metric}", *(names[c] for c in row.objectives[1:]), "model",
                  title=f"Pareto front: {len(front)} trials")
    for trial in front:
        costs = [f"{v:.2f}" if c == "latency" else f"{v / 1024:,.1f}" if c == "size" else f"{v:,.0f}"
                 for c, v in zip(row.objectives[1:], trial.values[1:])]
        table.add_row(str(trial.number), _fmt(trial.values[0]), *costs, str(trial.params.get("model", "?")))
    out.print(table)
    out.print(f"refit one of them: automl refit {row.name} --trial N", highlight=False)


@app.command()
def search(
    task: Annotated[str, typer.Option(help=f"one of {', '.join(TASKS)}")] = "nlp",
    data: Annotated[Optional[str], typer.Option(help="built-in dataset name or a path [default: task's]")] = None,
    target: Annotated[Optional[str], typer.Option(help="target column of a table file")] = None,
    text_column: Annotated[Optional[str], typer.Option(help="text column of a table file (nlp)")] = None,
    metric: Annotated[Optional[str], typer.Option(help="fold score [default: accuracy, or rmse (regression)]")] = None,
    n_trials: Annotated[Optional[int], typer.Option(help="complete+pruned trials the study ends with")] = None,
    timeout: Annotated[Optional[float], typer.Option(
        help="wall-clock cap of this command in seconds, start-up included: a trial that cannot finish does not "
             "start, a running one stops at the limit (its configuration is queued for the next run)")] = None,
    folds: Annotated[int, typer.Option(help="k of the k-fold cross-validation")] = 5,
    seed: Annotated[int, typer.Option(help="fixes the CV splits; seeds sampler and training")] = 0,
    study: Annotated[Optional[str], typer.Option(help="study name [default: <task>-<dataset>]")] = None,
    storage: StorageOption = None,
    sampler: Annotated[str, typer.Option(help="tpe, random, cmaes or gp")] = "tpe",
    pruner: Annotated[Optional[str], typer.Option(
        help="median, percentile, wilcoxon, hyperband or none [default: median; none with --objectives]")] = None,
    models: Annotated[Optional[list[str]], typer.Option(help="restrict models (comma-separated or repeated)")] = None,
    optimizers: Annotated[Optional[list[str]], typer.Option(help="restrict optimizers")] = None,
    regularizers: Annotated[Optional[list[str]], typer.Option(help="restrict regularizers")] = None,
    device: Annotated[str, typer.Option(help="auto, cpu, cuda or cuda:N")] = "auto",
    threads: Annotated[Optional[int], typer.Option(help="threads per trial [default: 1 sklearn, all torch]")] = None,
    backend: Annotated[str, typer.Option(help="what runs the trials: optuna (this machine's processes) or ray")] = (
        "optuna"),
    n_jobs: Annotated[Optional[int], typer.Option(
        help="trials at once [default: optuna 1 process; ray: as the cluster's resources allow]")] = None,
    address: Annotated[Optional[str], typer.Option(
        help="ray: join this Ray cluster (host:port, or 'auto') [default: start a local one]")] = None,
    cpus_per_trial: Annotated[Optional[float], typer.Option(help="ray: CPUs each trial reserves [default: 1]")] = None,
    gpus_per_trial: Annotated[Optional[float], typer.Option(
        help="ray: GPUs each trial reserves; 0.25 packs four trials on a GPU [default: 0]")] = None,
    trial_timeout: Annotated[Optional[float], typer.Option(
        help="seconds after which a trial fails and the search goes on")] = None,
    pretrained: Annotated[Optional[str], typer.Option(
        help="local Hugging Face checkpoint directory for the pretrained_transformer / sentence_embeddings models "
             "(sets $AUTOML_PRETRAINED) [default: the packaged all-MiniLM-L6-v2]")] = None,
    holdout: Annotated[Optional[float], typer.Option(
        help="fraction of rows set aside before any trial and scored once by the refitted best model")] = None,
    objectives: Annotated[Optional[str], typer.Option(
        help="accuracy vs cost: the metric, then costs to minimize (latency, size, params), e.g. accuracy,latency; "
             "keeps a Pareto front, prunes nothing")] = None,
    feature_cache_mb: Annotated[Optional[float], typer.Option(
        help="MiB of featurized folds (TF-IDF, scalers) kept in memory and reused by trials whose featurizer "
             "settings repeat; 0: off [default: 1024]")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="no progress bar or tables")] = False,
) -> None:
    """Run a hyperparameter search, or resume it: re-running the same command continues the same study."""
    import time

    import optuna

    from automl.deadline import process_age
    from automl.storage import display_url

    started = time.time() - process_age()  # --timeout counts the command's start-up too
    if quiet:
        optuna.logging.set_verbosity(optuna.logging.WARNING)
    if pretrained is not None:  # read by the pretrained plugins when they load (automl_plugins.nlp.pretrained)
        os.environ["AUTOML_PRETRAINED"] = pretrained
    with _errors():
        result = automl.search(
            task, data, target=target, text_column=text_column, metric=metric, n_trials=n_trials,
            timeout=timeout, folds=folds, seed=seed, study=study, storage=storage, sampler=sampler, pruner=pruner,
            models=_names(models), optimizers=_names(optimizers), regularizers=_names(regularizers),
            device=device, threads=threads, progress=not quiet, backend=backend, n_jobs=n_jobs,
            trial_timeout=trial_timeout, address=address, cpus_per_trial=cpus_per_trial, gpus_per_trial=gpus_per_trial,
            holdout=holdout, objectives=objectives.split(",") if objectives else None, started=started,
            feature_cache_mb=feature_cache_mb,
        )
        row = automl.report.summarize(result.study)
        best = _fmt(row.best_value)
        counts = ", ".join(f"{n} {state}" for state, n in sorted(row.states.items()))
        if result.recovered:
            err.print(f"failed and re-queued trials {result.recovered} left running by a dead worker")
        held_out = f" · held-out {_fmt(row.holdout['score'])}" if row.holdout else ""
        if len(row.objectives) > 1:
            front = automl.report.pareto_front(result.study)
            if quiet:
                out.print(f"{row.name}: Pareto front of {len(front)} trials ({counts})", highlight=False)
            else:
                out.print(f"study {row.name} ({display_url(result.storage)}): {counts}", highlight=False)
                _print_front(row, front)
        elif quiet:
            out.print(f"{row.name}: best {row.metric} {best}{held_out} ({counts})", highlight=False)
        else:
            table = Table(title=f"study {row.name}  ({display_url(result.storage)})", show_header=False)
            table.add_row(f"best {folds}-fold CV {row.metric}", best)
            if row.holdout:
                table.add_row(f"held-out {row.metric} (trial {row.holdout['trial']} refitted, "
                              f"{row.holdout['rows']} rows)", _fmt(row.holdout["score"]))
            table.add_row("trials", counts)
            if row.best_value is not None:
                for name, value in result.best_params.items():
                    table.add_row(name, str(value))
            out.print(table)
        if not row.states.get("complete"):
            err.print(f"no trial completed; `automl show {row.name}` lists the failures")
            raise typer.Exit(1)


@app.command()
def studies(storage: StorageOption = None, as_json: JsonOption = False) -> None:
    """List the studies of a storage: task, dataset, trials by state, best value, last update."""
    with _errors():
        rows = automl.report.list_studies(storage)
        if as_json:
            _print_json([dataclasses.asdict(row) for row in rows])
            return
        table = _wrapping_table("study", "task", "dataset", "metric", "trials", "best", "updated",
                                keep=("task", "best"))
        for row in rows:
            counts = " ".join(f"{state}:{n}" for state, n in sorted(row.states.items()))
            updated = row.updated.strftime("%Y-%m-%d %H:%M") if row.updated else "-"
            table.add_row(row.name, row.task, row.dataset, f"{row.metric} ({row.direction})", counts,
                          _fmt(row.best_value), updated)
        out.print(table)


def _print_leaderboard(row: automl.report.StudyRow, board: list[optuna.trial.FrozenTrial]) -> None:
    """The best trial's parameters, then the top trials with their fold scores."""
    if board:
        params = Table("best parameter", "value")
        for name, value in board[0].params.items():
            params.add_row(name, str(value))
        out.print(params)
    table = Table("#", row.metric, "std", "model", "fold scores", "fit s")
    for trial in board:
        folds = " ".join(f"{s:.4f}" for s in trial.user_attrs.get("fold_scores", []))
        fit = sum(trial.user_attrs.get("fit_seconds", []))
        table.add_row(str(trial.number), _fmt(trial.value), _fmt(trial.user_attrs.get("cv_std")),
                      str(trial.params.get("model", "?")), folds, f"{fit:.1f}")
    out.print(table)


@app.command()
def show(
    study: Annotated[str, typer.Argument(help="study name")],
    storage: StorageOption = None,
    top: Annotated[int, typer.Option(help="leaderboard size", min=1)] = 10,
    as_json: JsonOption = False,
) -> None:
    """Show a study: best parameters and the top trials with their per-fold scores."""
    with _errors():
        opened = automl.load_study(study, storage)
        if as_json:
            _print_json(automl.report.describe(opened, top))
            return
        row = automl.report.summarize(opened)
        out.print(f"[bold]{row.name}[/bold]  task {row.task}, dataset {row.dataset}, {row.metric} ({row.direction})")
        out.print(_scores_line(row), highlight=False)
        if len(row.objectives) > 1:
            out.print(f"objectives: {', '.join(row.objectives)}", highlight=False)
            _print_front(row, automl.report.pareto_front(opened))
        else:
            _print_leaderboard(row, automl.report.top_trials(opened, top))
        failed = automl.report.failures(opened)
        if failed:
            table = _wrapping_table("failed #", "reason")
            for number, reason in failed:
                table.add_row(str(number), str(reason))
            out.print(table)


@app.command()
def copy(
    study: Annotated[str, typer.Argument(help="study name")],
    source: Annotated[Optional[str], typer.Option("--from", help="storage URL holding the study [default: "
                                                  "$AUTOML_STORAGE or sqlite:///studies/automl.db]")] = None,
    target: Annotated[str, typer.Option("--to", help="storage URL to copy it to, e.g. postgresql+psycopg://...")] = "",
    name: Annotated[Optional[str], typer.Option(help="name of the copy [default: the same]")] = None,
) -> None:
    """Copy a study with all its trials to another storage (e.g. SQLite to PostgreSQL); searches resume on it."""
    from automl.storage import display_url

    with _errors():
        if not target:
            raise automl.ConfigError("--to is required: the storage URL to copy the study to")
        copied = automl.copy_study(study, source, target, new_name=name)
        row = automl.report.summarize(copied)
        counts = ", ".join(f"{n} {state}" for state, n in sorted(row.states.items()))
        out.print(f"copied {study} to {display_url(target)} as {copied.study_name} ({counts or 'no trials'})",
                  highlight=False)


@app.command()
def compare(
    studies: Annotated[list[str], typer.Argument(help="study names")],
    storage: Annotated[Optional[list[str]], typer.Option(
        help="storage URL to look the studies up in; repeat for studies in several storages [default: $AUTOML_STORAGE "
             "or sqlite:///studies/automl.db]")] = None,
    as_json: JsonOption = False,
) -> None:
    """Compare studies side by side (ranked when they share data, metric and folds), then how their best
    configurations differ."""
    with _errors():
        result = automl.compare(studies, storage or ())
        if as_json:
            _print_json(result.to_dict())
            return
        table = _wrapping_table("#", "study", "dataset", "metric", "trials", "best CV ± std", "held-out", "s/trial",
                                "best model", keep=("#",), caption="trials: complete/pruned/failed",
                                title="ranked by best CV score" if result.unranked is None else None)
        for rank, row in enumerate(result.to_dict()["studies"], start=1):
            best = _fmt(row["best"]) + (f" ± {row['best_std']:.4f}" if row["best_std"] is not None else "")
            trials = f"{row['complete']}/{row['pruned']}/{row['failed']}"
            per_trial = "-" if row["seconds_per_trial"] is None else f"{row['seconds_per_trial']:.2f}"
            table.add_row(str(rank) if result.unranked is None else "-", row["study"],
                          f"{row['dataset']} {str(row['fingerprint'])[:8]}", f"{row['metric']}, {row['folds']}-fold",
                          trials, best, _fmt(row["holdout"]), per_trial, str(row["best_model"] or "-"))
        out.print(table)
        if result.unranked:
            err.print(f"not ranked: {result.unranked}", highlight=False)
        if len(result.params):
            params = _wrapping_table("parameter", *result.params.columns, title="where the best configurations differ")
            for name, values in result.params.iterrows():
                params.add_row(str(name), *("-" if v is None else f"{v:.4g}" if isinstance(v, float) else str(v)
                                            for v in values))
            out.print(params)


@app.command()
def refit(
    study: Annotated[str, typer.Argument(help="study name")],
    storage: StorageOption = None,
    trial: Annotated[Optional[int], typer.Option(help="trial number [default: the best]")] = None,
    destination: Annotated[Optional[str], typer.Option(
        "--out", help="model directory to write [default: models/<study>-trial<N>]")] = None,
    device: Annotated[str, typer.Option(help="auto, cpu, cuda or cuda:N (torch models)")] = "auto",
    holdout_data: Annotated[Optional[str], typer.Option(
        help="also write the study's held-out rows to this file (.csv/.tsv/.parquet; .npz for images)")] = None,
) -> None:
    """Fit a trial's configuration on all the study's search rows and write it as a model directory."""
    from automl.refit import choose_trial, write_holdout

    with _errors():
        opened = automl.load_study(study, storage)
        number = choose_trial(opened, trial).number
        directory = destination or f"models/{study}-trial{number}"
        written = write_holdout(opened, holdout_data) if holdout_data else None  # refused before any fit
        model = automl.refit(opened, trial=number, device=device, out=directory)
        scores, metric = model.card["scores"], model.card["metric"]["name"]
        table = Table(title=f"model {directory}", show_header=False)
        table.add_row("study, trial", f"{study}, trial {number} ({model.card['plugins']['model']['name']})")
        table.add_row(f"{scores['folds']}-fold CV {metric}", _fmt(scores["cv"]))
        held_out = scores["holdout"]
        table.add_row(f"held-out {metric}",
                      f"{_fmt(held_out['score'])} ({held_out['rows']} rows)" if held_out else "no held-out rows")
        table.add_row("fitted on", f"{model.card['data']['fitted_rows']} rows")
        if written:
            table.add_row("held-out rows written to", str(written))
        out.print(table)


@app.command()
def predict(
    model_dir: Annotated[str, typer.Argument(help="model directory (automl refit)")],
    data: Annotated[str, typer.Option(help="rows to predict: .csv/.tsv/.parquet/.jsonl, an image folder or .npz")],
    destination: Annotated[Optional[str], typer.Option(
        "--out", help="CSV file for the predictions [default: print them]")] = None,
    proba: Annotated[bool, typer.Option("--proba", help="also write class probabilities")] = False,
    device: Annotated[str, typer.Option(help="cpu, cuda or cuda:N (torch models)")] = "cpu",
) -> None:
    """Predict the rows of a file in batches; score them too when the file holds the target column."""
    from automl.artifacts import load_model
    from automl.predict import predict_file

    with _errors():
        done = predict_file(load_model(model_dir, device=device), data, out=destination, proba=proba, progress=True)
        if destination is None:
            typer.echo(done.table.to_csv(index=False), nl=False)
        summary = f"{len(done.table)} rows, {done.rows_per_second:,.0f} rows/s"
        if done.score is not None:
            summary += f"; {done.metric} on their labels: {done.score:.4f}"
        err.print(escape(summary + (f"; written to {destination}" if destination else "")), highlight=False)


@app.command("export")
def export_model(
    model_dir: Annotated[str, typer.Argument(help="model directory (automl refit)")],
    format: Annotated[str, typer.Option("--format", help="onnx")] = "onnx",
    destination: Annotated[Optional[str], typer.Option(
        "--out", help="file to write [default: <model_dir>/model.onnx]")] = None,
    data: Annotated[Optional[str], typer.Option(help="rows to check the export on [default: the study's]")] = None,
) -> None:
    """Export a model for serving (ONNX), checked in onnxruntime against the model itself."""
    from automl.artifacts import load_model
    from automl.export import export_onnx, sample_rows

    with _errors():
        if format != "onnx":
            raise automl.ConfigError(f"unknown export format {format!r}; supported: onnx")
        model = load_model(model_dir)
        exported = export_onnx(model, sample_rows(model, data), destination or f"{model_dir}/model.onnx")
        out.print(f"wrote {exported.path} (input: {exported.input}); onnxruntime matches the model to "
                  f"{exported.max_abs_diff:.2g}", highlight=False)


@app.command()
def compress(
    model_dir: Annotated[str, typer.Argument(help="model directory of a torch model (automl refit)")],
    method: Annotated[str, typer.Option(help="dynamic-int8, or prune:F (e.g. prune:0.5)")],
    destination: Annotated[Optional[str], typer.Option(
        "--out", help="new model directory [default: <model_dir>-<method>]")] = None,
) -> None:
    """Write a compressed copy of a torch model and compare both: size, latency per batch, metric."""
    from automl.compress import compress as compress_model

    with _errors():
        target = destination or f"{model_dir.rstrip('/')}-{method.replace(':', '')}"
        comparison = compress_model(model_dir, method, target)
        table = Table("model", "size on disk", "latency per batch", comparison.metric,
                      title=f"{comparison.out}: {comparison.metric} on {comparison.evaluated_on}")
        for row in comparison.rows:
            table.add_row(row["model"], f"{row['size_bytes'] / 1024:,.0f} KiB", f"{row['latency_ms']:.2f} ms",
                          _fmt(row["metric"]))
        out.print(table)


@app.command()
def plot(
    study: Annotated[str, typer.Argument(help="study name")],
    kind: Annotated[str, typer.Option(help=f"what to draw: {', '.join(automl.plots.KINDS)}")],
    storage: StorageOption = None,
    destination: Annotated[Optional[str], typer.Option(
        "--out", help="file to write: .html (interactive, offline) or .png; default: <study>-<kind>.html")] = None,
) -> None:
    """Plot a study: optimization history, parameter importances, fold scores or mean/best score per model family,
    parallel coordinates, or the Pareto front of an accuracy-vs-cost study. Prints the file written."""
    with _errors():
        automl.plots.check_kind(kind)
        path = automl.plots.check_out(destination) if destination else automl.plots.default_out(study, kind)
        figure = automl.plot(automl.load_study(study, storage), kind, out=path)
        automl.plots.close(figure)
        out.print(escape(str(path)), highlight=False, soft_wrap=True)


@app.command()
def dashboard(
    storage: StorageOption = None,
    host: Annotated[str, typer.Option(help="interface to listen on; 0.0.0.0 exposes it to the network")] = (
        automl.dashboard.DEFAULT_HOST),
    port: Annotated[int, typer.Option(help="TCP port")] = 8080,
) -> None:
    """Serve the studies in optuna-dashboard (on this machine only, unless --host says otherwise)."""
    with _errors():
        err.print(f"optuna-dashboard on http://{host}:{port} (Ctrl-C stops it)")
        automl.dashboard.serve(storage, host=host, port=port)


@plugins_app.command("list")
def plugins_list(
    task: Annotated[Optional[str], typer.Option(help="only plugins a search of this task may choose")] = None,
    kind: Annotated[Optional[str], typer.Option(help="only this kind: model, optimizer or regularizer")] = None,
    as_json: JsonOption = False,
) -> None:
    """List plugins: name, kind, tasks or families, origin distribution and version, status."""
    with _errors():
        if task is not None and task not in TASKS:
            raise automl.ConfigError(f"unknown task {task!r}; choose one of {', '.join(TASKS)}")
        if kind is not None and kind not in GROUPS:
            raise automl.ConfigError(f"unknown plugin kind {kind!r}; choose one of {', '.join(GROUPS)}")
        records = automl.discover().listing(task, kind)
        if as_json:
            _print_json([{"name": r.name, "kind": r.kind, "applies_to": r.applies_to, "origin": r.origin,
                          "entry_point": r.value, "status": r.status, "error": r.error} for r in records])
            return
        table = _wrapping_table("name", "kind", "applies to", "origin", "status")
        for record in records:
            status = "ok" if record.ok else f"[red]{record.status}[/red]: {escape(record.error or '')}"
            table.add_row(record.name, record.kind, record.applies_to, record.origin, status)
        out.print(table)


@plugins_app.command("check")
def plugins_check(
    names: Annotated[Optional[list[str]], typer.Argument(help="plugins to check [default: all]")] = None,
    samples: Annotated[int, typer.Option(help="search-space draws per plugin", min=1)] = 5,
) -> None:
    """Check installed plugins: shape, search-space draws, and a tiny fit on generated data. Exit 1 on a failure."""
    from automl.testing import check_record

    with _errors():
        registry = automl.discover()
        records = [r for r in registry.records if not names or r.name in names]
        unknown = sorted(set(names or ()) - {r.name for r in records})
        if unknown:
            raise automl.PluginError(f"no installed plugin named {', '.join(unknown)}")
        table = Table("name", "kind", "origin", "result", "detail")
        failed = 0
        for record in records:
            result = check_record(record, n_samples=samples, builtins=registry)
            failed += not result.ok
            table.add_row(record.name, record.kind, record.origin, "pass" if result.ok else "[red]FAIL[/red]",
                          escape(result.detail))
        out.print(table)
        if failed:
            err.print(f"{failed} of {len(records)} plugins failed their checks")
            raise typer.Exit(1)


def main() -> None:
    """Entry point of the ``automl`` command."""
    app(prog_name="automl")


if __name__ == "__main__":
    main()
