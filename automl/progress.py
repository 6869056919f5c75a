"""A rich progress bar for a search: trials done of the budget, best value so far, elapsed time and ETA."""

from __future__ import annotations

from types import TracebackType

import optuna
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from automl.resume import counted_trials

__all__ = ["SearchProgress"]


def _best(study: optuna.Study) -> str:
    if len(study.directions) > 1:
        return f"- (Pareto front of {len(study.best_trials)})"
    try:
        return f"{study.best_value:.4f}"
    except ValueError:  # no complete trial yet
        return "-"


class SearchProgress:
    """Context manager and Optuna callback showing a study's progress towards ``n_trials`` counted trials."""

    def __init__(self, study: optuna.Study, n_trials: int, console: Console | None = None) -> None:
        self.study = study
        self.progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("best {task.fields[best]}"),
            TimeElapsedColumn(),
            TextColumn("eta"),
            TimeRemainingColumn(),
            console=console or Console(stderr=True),
            transient=False,
        )
        self.task = self.progress.add_task(study.study_name, total=n_trials, completed=counted_trials(study),
                                           best=_best(study))

    def __enter__(self) -> SearchProgress:
        self.progress.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.progress.stop()

    def __call__(self, study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        """Update after each trial."""
        self.progress.update(self.task, completed=counted_trials(study), best=_best(study))
