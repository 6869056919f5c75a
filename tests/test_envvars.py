"""On/off switches in the environment (automl.envvars): ``AUTOML_DEBUG=0`` means off, wherever it is read."""

from __future__ import annotations

import logging

import pytest

from automl.envvars import debug, switched_on
from automl.quiet import OneLineTrialFailures

OFF = ["", "0", "false", "False", "NO", "off", " 0 "]
ON = ["1", "true", "yes", "on", "2", "verbose"]


@pytest.mark.parametrize("value", OFF)
def test_off_values_and_empty_leave_a_switch_off(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("AUTOML_DEBUG", value)
    assert not switched_on("AUTOML_DEBUG") and not debug()


@pytest.mark.parametrize("value", ON)
def test_other_values_switch_it_on(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("AUTOML_DEBUG", value)
    assert switched_on("AUTOML_DEBUG") and debug()


def test_an_unset_switch_is_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AUTOML_DEBUG", raising=False)
    assert not debug()


def _failure() -> logging.LogRecord:
    message = "Trial 7 failed with parameters: {'model': 'mlp'} because of the following error: ValueError('bad')."
    return logging.LogRecord("optuna", logging.WARNING, __file__, 1, message, (), None)


@pytest.mark.parametrize(("value", "expected"), [
    ("0", "Trial 7 failed: ValueError('bad')."),
    ("false", "Trial 7 failed: ValueError('bad')."),
    ("1", "Trial 7 failed with parameters: {'model': 'mlp'} because of the following error: ValueError('bad')."),
])
def test_a_failed_trial_is_one_line_unless_debug_is_on(monkeypatch: pytest.MonkeyPatch, value: str,
                                                        expected: str) -> None:
    monkeypatch.setenv("AUTOML_DEBUG", value)
    record = _failure()
    assert OneLineTrialFailures().filter(record)
    assert record.getMessage() == expected
