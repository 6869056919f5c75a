"""The seam between the search engine and whatever runs trials (in-process Optuna now, Ray Tune next)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

import optuna

__all__ = ["Backend", "Callback"]

Callback = Callable[[optuna.Study, optuna.trial.FrozenTrial], None]


class Backend(Protocol):
    """Runs trials of ``objective`` into ``study`` until it holds ``n_trials`` counted trials or ``timeout``.

    Counted trials are complete or pruned ones (:data:`automl.resume.COUNTED`); failed trials do not use up the
    budget, but a run stops after ``n_trials`` failures of its own. ``callbacks`` run after every trial. Several
    processes may run the same study at once: between them they end it with exactly ``n_trials`` counted trials.
    """

    name: str

    def optimize(
        self,
        study: optuna.Study,
        objective: Callable[[optuna.Trial], float],
        *,
        n_trials: int,
        timeout: float | None,
        callbacks: Sequence[Callback] = (),
    ) -> None:
        """Run trials; return when the budget is met, the time is up, or too many trials failed."""
        ...
