"""Ctrl-C cannot be lost: a stop request is a flag the engine checks between steps."""

from __future__ import annotations

import signal
import sys
from pathlib import Path
from typing import Any

import pytest
from optuna.trial import TrialState
from sklearn.linear_model import LogisticRegression

import automl
from automl import interrupt
from automl.protocols import API_VERSION, ModelPlugin
from automl.registry import PluginRecord, Registry
from automl.reporter import INTERRUPTED


def test_a_stop_request_raises_at_once_only_where_the_runner_records_it() -> None:
    before = signal.getsignal(signal.SIGINT)
    with interrupt.interruptible():
        signal.raise_signal(signal.SIGINT)  # outside a raising block: the flag only
        assert interrupt.requested()
        with pytest.raises(KeyboardInterrupt):
            interrupt.check()  # the next step sees it
    assert signal.getsignal(signal.SIGINT) is before and not interrupt.requested()  # cleared on leaving
    with interrupt.interruptible(), interrupt.raising():
        with pytest.raises(KeyboardInterrupt):
            signal.raise_signal(signal.SIGINT)
        signal.raise_signal(signal.SIGINT)  # a second Ctrl-C does not interrupt the clean-up
        with interrupt.holding():
            assert interrupt.requested()


def test_outside_an_interruptible_block_nothing_changes() -> None:
    with interrupt.interruptible((signal.SIGTERM,)):
        signal.raise_signal(signal.SIGTERM)
    interrupt.check()  # a request of a finished block does not leak into later code
    assert not interrupt.requested()


class _SwallowedCtrlC:
    """Ctrl-C arriving while Python runs a finalizer: the KeyboardInterrupt raised there is printed as
    "Exception ignored in ..." and dropped (what happened inside SQLAlchemy's InstanceState._cleanup)."""

    def __del__(self) -> None:
        signal.raise_signal(signal.SIGINT)


class CtrlCInAFinalizer(ModelPlugin):
    name = "finalizer"
    api_version = API_VERSION
    tasks = frozenset({"tabular"})
    family = "sklearn"
    builds = 0

    def search_space(self, space: Any) -> None:
        space.suggest_float("C", 0.1, 10.0, log=True)

    def build(self, params: Any, problem: Any) -> Any:
        CtrlCInAFinalizer.builds += 1
        if CtrlCInAFinalizer.builds == 5:  # the second trial's second fold
            _SwallowedCtrlC()  # dropped at once: its finalizer runs here
        return LogisticRegression(C=params["C"])


def test_a_ctrl_c_swallowed_by_a_finalizer_still_stops_the_search(blobs_csv: Path, storage: str,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    dropped: list[type[BaseException]] = []  # what Python prints as "Exception ignored in ..."
    monkeypatch.setattr(sys, "unraisablehook", lambda unraisable: dropped.append(unraisable.exc_type))
    registry = Registry([PluginRecord("model", "finalizer", "x:y", "d", "1", plugin=CtrlCInAFinalizer())])
    with pytest.raises(KeyboardInterrupt):
        automl.search("tabular", blobs_csv, models=["finalizer"], registry=registry, n_trials=6, folds=4,
                      storage=storage, study="i")
    assert dropped == [KeyboardInterrupt]  # Python did drop the Ctrl-C
    trials = automl.load_study("i", storage).trials
    assert [t.state for t in trials] == [TrialState.COMPLETE, TrialState.FAIL, TrialState.WAITING]
    assert trials[1].user_attrs["fail_reason"] == INTERRUPTED
    assert len(trials[1].user_attrs["fold_scores"]) == 1  # stopped at the next report, not at the end
    assert trials[2].params == trials[1].params
