"""Budget slots: reserved under the study's lock, so that processes never create more trials than the budget."""

from __future__ import annotations

import threading

import optuna
import pytest
from optuna.trial import TrialState

from automl.budget import Budget, Verdict
from automl.storage import open_storage

pytestmark = pytest.mark.filterwarnings("ignore:Heartbeat of storage is supposed to be used")


def _study(storage: str) -> optuna.Study:
    return optuna.create_study(storage=open_storage(storage), study_name="b")


def test_verdicts_follow_counted_and_running_trials(storage: str) -> None:
    study = _study(storage)
    budget = Budget(study, 2)
    assert budget.reserve() is Verdict.RUN
    study.ask()  # the reserved slot: a RUNNING trial
    budget.release()
    study.tell(study.ask(), 1.0)
    assert budget.reserve() is Verdict.WAIT  # 1 counted + 1 running = the budget, but the running one may fail
    study.tell(0, 1.0)
    assert budget.reserve() is Verdict.DONE


def test_a_reservation_holds_the_lock_until_released(storage: str) -> None:
    study = _study(storage)
    first, second = Budget(study, 5), Budget(study, 5)
    assert first.reserve() is Verdict.RUN
    entered = threading.Event()
    verdicts: list[Verdict] = []

    def other() -> None:
        entered.set()
        verdicts.append(second.reserve())
        second.release()

    thread = threading.Thread(target=other)
    thread.start()
    entered.wait()
    thread.join(0.5)
    assert thread.is_alive() and verdicts == []  # waiting for the lock
    first.release()
    thread.join(10)
    assert verdicts == [Verdict.RUN]


def test_trials_of_other_processes_mark_the_study_shared(storage: str) -> None:
    study = _study(storage)
    budget = Budget(study, 5)
    assert budget.reserve() is Verdict.RUN and not budget.shared
    study.ask()
    budget.release()
    assert budget.reserve(own_running=1) is Verdict.RUN and not budget.shared  # only its own trial runs
    study.ask()
    budget.release()
    other = optuna.load_study(study_name="b", storage=open_storage(storage))
    other.tell(other.ask(), 1.0)  # another process's trial
    assert budget.reserve(own_running=2) is Verdict.RUN and budget.shared
    budget.release()
    assert [t.state for t in study.trials] == [TrialState.RUNNING, TrialState.RUNNING, TrialState.COMPLETE]
