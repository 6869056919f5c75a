from __future__ import annotations

import io

import optuna
from rich.console import Console

from automl.progress import SearchProgress


def test_progress_counts_complete_and_pruned_trials_and_shows_the_best() -> None:
    study = optuna.create_study(direction="maximize")
    study.optimize(lambda t: 0.25, n_trials=1)
    buffer = io.StringIO()
    with SearchProgress(study, 4, Console(file=buffer, force_terminal=False, width=120)) as bar:
        task = bar.progress.tasks[0]
        assert task.completed == 1 and task.total == 4
        study.optimize(lambda t: 0.75, n_trials=1, callbacks=[bar])

        def pruned(trial: optuna.Trial) -> float:
            raise optuna.TrialPruned()

        study.optimize(pruned, n_trials=1, callbacks=[bar])
        study.optimize(lambda t: 1 / 0, n_trials=1, callbacks=[bar], catch=(ZeroDivisionError,))
        assert task.completed == 3  # the failed trial does not count
        assert task.fields["best"] == "0.7500"
    assert "best 0.7500" in buffer.getvalue()
