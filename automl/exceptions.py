"""The one exception hierarchy of automl.

Every error the user can cause or fix (bad input, unknown names, a study that does not match) is an
:class:`AutomlError`; the CLI prints it as one line on stderr and exits non-zero.
"""

from __future__ import annotations

__all__ = [
    "AutomlError",
    "ConfigError",
    "DataError",
    "PluginError",
    "PluginWarning",
    "SearchSpaceError",
    "StudyMismatchError",
    "TrialStopped",
    "TrialTimeoutError",
]


class AutomlError(Exception):
    """Base class of every error automl raises on purpose."""


class ConfigError(AutomlError, ValueError):
    """An option is unknown or out of range (task, metric, sampler, device, budget, ...)."""


class DataError(AutomlError, ValueError):
    """A dataset cannot be read or does not fit the task (missing column, one class, too few rows, ...)."""


class PluginError(AutomlError):
    """A plugin is unknown, broken, or does not apply to the task."""


class SearchSpaceError(PluginError, ValueError):
    """A plugin's ``search_space`` asked for an invalid distribution or a clashing name."""


class StudyMismatchError(AutomlError):
    """An existing study was created for another task, dataset, metric or search space."""


class PluginWarning(UserWarning):
    """A plugin was left out of a search (its search space is invalid, or the data has more rows than its
    ``max_search_rows``); the search goes on without it."""


class TrialTimeoutError(TimeoutError):
    """A trial ran past its time limit (``trial_timeout``); it fails alone, the search goes on."""


class TrialStopped(Exception):
    """Raised inside a trial when its reporter says stop (a pruner's verdict); the backend records it as pruned."""
