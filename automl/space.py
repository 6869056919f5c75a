"""The composed, define-by-run search space of one trial.

The engine first chooses a model among the plugins that serve the task; for torch models it then chooses an
optimizer and, for each applicable regularizer, whether it is on. Each chosen plugin suggests its own parameters
through a :class:`ScopedSpace`, which prefixes every name (``model.textcnn.filters``, ``optimizer.adamw.lr``,
``regularizer.dropout.rate``) so names never collide and conditional parameters appear only when their plugin
is chosen.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import optuna

from automl.exceptions import PluginError, PluginWarning, SearchSpaceError
from automl.quiet import quiet_optuna_logs
from automl.registry import PluginRecord, Registry

__all__ = ["Candidates", "Config", "ScopedSpace", "Selection", "candidates", "check_starting_points", "compose",
           "configure", "describe", "explore", "space_signature", "starting_trials"]


class ScopedSpace:
    """A view of an Optuna trial that namespaces and validates one plugin's ``suggest_*`` calls.

    The values suggested so far are in :attr:`params`, keyed by their local names.
    """

    def __init__(self, trial: optuna.Trial, prefix: str, owner: str) -> None:
        self._trial = trial
        self._prefix = prefix
        self.owner = owner
        self.params: dict[str, Any] = {}

    def _name(self, name: str) -> str:
        if not isinstance(name, str) or not name or "." in name:
            raise SearchSpaceError(f"{self.owner}: parameter name must be a non-empty string without '.', got {name!r}")
        return f"{self._prefix}.{name}"

    def _check_range(self, name: str, low: float, high: float, step: float | None, log: bool) -> None:
        where = f"{self.owner}: parameter {name!r}"
        for value in (low, high):
            if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value):
                raise SearchSpaceError(f"{where}: bounds must be finite numbers, got low={low!r} high={high!r}")
        if low > high:
            raise SearchSpaceError(f"{where}: low={low!r} is greater than high={high!r}")
        if log and low <= 0:
            raise SearchSpaceError(f"{where}: a log range needs low > 0, got low={low!r}")
        if log and step not in (None, 1):
            raise SearchSpaceError(f"{where}: step and log cannot be combined")
        if step is not None and step <= 0:
            raise SearchSpaceError(f"{where}: step must be positive, got {step!r}")

    def _suggest(self, name: str, call: Any, *args: Any, **kwargs: Any) -> Any:
        full = self._name(name)
        try:
            value = call(full, *args, **kwargs)
        except ValueError as exc:  # e.g. the same name suggested with two different distributions
            raise SearchSpaceError(f"{self.owner}: parameter {name!r}: {exc}") from exc
        self.params[name] = value
        return value

    def suggest_float(
        self, name: str, low: float, high: float, *, step: float | None = None, log: bool = False
    ) -> float:
        """Like :meth:`optuna.trial.Trial.suggest_float`, under this plugin's prefix."""
        self._check_range(name, low, high, step, log)
        return self._suggest(name, self._trial.suggest_float, low, high, step=step, log=log)

    def suggest_int(self, name: str, low: int, high: int, *, step: int = 1, log: bool = False) -> int:
        """Like :meth:`optuna.trial.Trial.suggest_int`, under this plugin's prefix."""
        self._check_range(name, low, high, step, log)
        if not all(isinstance(v, int) and not isinstance(v, bool) for v in (low, high, step)):
            raise SearchSpaceError(f"{self.owner}: parameter {name!r}: suggest_int takes integers")
        return self._suggest(name, self._trial.suggest_int, low, high, step=step, log=log)

    def suggest_categorical(self, name: str, choices: Sequence[Any]) -> Any:
        """Like :meth:`optuna.trial.Trial.suggest_categorical`, under this plugin's prefix."""
        if isinstance(choices, (str, bytes)) or not isinstance(choices, Sequence) or len(choices) == 0:
            raise SearchSpaceError(f"{self.owner}: parameter {name!r}: choices must be a non-empty sequence")
        return self._suggest(name, self._trial.suggest_categorical, list(choices))


@dataclass(frozen=True)
class Selection:
    """Which plugins a search may choose from (``None`` = every working plugin that applies)."""

    models: tuple[str, ...] | None = None
    optimizers: tuple[str, ...] | None = None
    regularizers: tuple[str, ...] | None = None


@dataclass
class Config:
    """The plugins chosen for one trial and the parameters each suggested (local names)."""

    model: PluginRecord
    model_params: dict[str, Any]
    optimizer: PluginRecord | None = None
    optimizer_params: dict[str, Any] = field(default_factory=dict)
    regularizers: list[tuple[PluginRecord, dict[str, Any]]] = field(default_factory=list)


@dataclass(frozen=True)
class Candidates:
    """The plugins a study's space is composed of."""

    models: tuple[PluginRecord, ...]
    optimizers: tuple[PluginRecord, ...]
    regularizers: tuple[PluginRecord, ...]


def _restrict(kind: str, available: list[PluginRecord], names: tuple[str, ...] | None, registry: Registry,
              why: str) -> tuple[PluginRecord, ...]:
    if names is None:
        return tuple(available)
    by_name = {r.name: r for r in available}
    for name in names:
        if name not in by_name:
            registry.get(kind, name)  # raises for unknown or broken plugins, listing the installed ones
            raise PluginError(f"{kind} plugin {name!r} does not apply {why}; applicable: {', '.join(sorted(by_name))}")
    # registry order, not the order named: the choice's distribution (and so a resumed study) must not depend on it
    return tuple(r for r in available if r.name in names)


#: Random draws of each candidate's space before a search starts (:func:`candidates`).
PREFLIGHT_DRAWS = 16


def _valid_spaces(records: list[PluginRecord], named: tuple[str, ...] | None) -> list[PluginRecord]:
    """``records`` (only those in ``named``, unless it is ``None``) whose search space survives
    :data:`PREFLIGHT_DRAWS` draws, and of whose starting points each is a draw of it (:func:`check_starting_points`).
    A named plugin with an invalid space raises its :class:`SearchSpaceError`; any other is left out with a
    :class:`PluginWarning`."""
    valid = []
    for record in records:
        if named is not None and record.name not in named:
            continue
        try:
            explore(record, PREFLIGHT_DRAWS)
            check_starting_points(record)
        except PluginError as exc:
            if named is not None and record.name in named:
                raise
            warnings.warn(f"{exc} -- left out of this search", PluginWarning, stacklevel=2)
            continue
        valid.append(record)
    return valid


def _within_rows(records: list[PluginRecord], n_rows: int | None) -> list[PluginRecord]:
    """``records`` less the models whose ``max_search_rows`` is below ``n_rows``, each left out with a one-line
    :class:`PluginWarning`."""
    kept = []
    for record in records:
        limit = record.plugin.max_search_rows
        if n_rows is not None and limit is not None and n_rows > limit:
            cap = record.plugin.max_train_rows
            fitted = f" (fitted on at most {cap:,} training rows)" if cap is not None and cap < n_rows else ""
            warnings.warn(f"model {record.name!r} left out of this search: the data has {n_rows:,} rows, more than "
                          f"its max_search_rows ({limit:,}); name it in --models (models=[...]) to search it "
                          f"anyway{fitted}", PluginWarning, stacklevel=3)
            continue
        kept.append(record)
    return kept


def candidates(registry: Registry, task: str, kind: str, selection: Selection, *, needs_proba: bool = False,
               accelerated: bool = False, n_rows: int | None = None) -> Candidates:
    """The plugins that may be chosen for ``task``/``kind`` under ``selection``; raises when none applies.

    Unless ``selection`` names the models, heavy models join only when trials run on a CUDA device
    (``accelerated``), models whose ``max_search_rows`` is below the dataset's ``n_rows`` are left out (with a
    :class:`~automl.exceptions.PluginWarning`), and a metric that ``needs_proba`` leaves out models without class
    probabilities. Every
    candidate's space is drawn :data:`PREFLIGHT_DRAWS` times first, so an invalid one is caught before any trial
    exists: a named plugin raises, another one is left out with a :class:`~automl.exceptions.PluginWarning`.
    """
    available = registry.models(task, kind)
    if needs_proba:
        available = [r for r in available if r.plugin.probabilities]
    if selection.models is None and not accelerated:
        available = [r for r in available if not r.plugin.heavy]
    if selection.models is None:
        available = _within_rows(available, n_rows)
    available = _valid_spaces(available, selection.models)
    why = f"to {task} {kind}" + (" scored by class probabilities" if needs_proba else "")
    models = _restrict("model", available, selection.models, registry, why)
    if not models:
        raise PluginError(f"no working model plugin serves task {task!r} ({kind})")
    families = {r.plugin.family for r in models}
    needs_optimizer = any(r.plugin.family == "torch" and not r.plugin.owns_optimizer for r in models)
    optimizers = _restrict("optimizer", registry.optimizers(), selection.optimizers, registry, "")
    optimizers = tuple(_valid_spaces(list(optimizers), selection.optimizers)) if needs_optimizer else ()
    if needs_optimizer and not optimizers:
        raise PluginError("torch models need an optimizer plugin, and none is available")
    regularizers = _restrict("regularizer", registry.regularizers(task=task, kind=kind), selection.regularizers,
                             registry, f"to {task} {kind}")
    regularizers = tuple(r for r in regularizers if families & set(r.plugin.families))
    return Candidates(models, optimizers, tuple(_valid_spaces(list(regularizers), selection.regularizers)))


def space_signature(cands: Candidates) -> dict[str, dict[str, str]]:
    """Names and versions of the plugins a study's space is composed of (stored on the study)."""
    return {
        "models": {r.name: r.origin for r in cands.models},
        "optimizers": {r.name: r.origin for r in cands.optimizers},
        "regularizers": {r.name: r.origin for r in cands.regularizers},
    }


def _plugin_space(trial: optuna.Trial, prefix: str, record: PluginRecord) -> dict[str, Any]:
    space = ScopedSpace(trial, f"{prefix}.{record.name}", f"{record.kind} plugin {record.name!r} ({record.origin})")
    try:
        record.plugin.search_space(space)
    except SearchSpaceError:
        raise
    except Exception as exc:
        raise PluginError(f"{space.owner}: search_space() raised {type(exc).__name__}: {exc}") from exc
    return space.params


def compose(trial: optuna.Trial, cands: Candidates) -> Config:
    """Suggest one trial's configuration: model, then (torch) optimizer and regularizers, then their params."""
    models = {r.name: r for r in cands.models}
    model = models[trial.suggest_categorical("model", list(models))]
    config = Config(model=model, model_params=_plugin_space(trial, "model", model))
    family = model.plugin.family
    if family == "torch" and not model.plugin.owns_optimizer:
        optimizers = {r.name: r for r in cands.optimizers}
        config.optimizer = optimizers[trial.suggest_categorical("optimizer", list(optimizers))]
        config.optimizer_params = _plugin_space(trial, "optimizer", config.optimizer)
    for record in cands.regularizers:
        if family in record.plugin.families and trial.suggest_categorical(f"regularizer.{record.name}", [False, True]):
            config.regularizers.append((record, _plugin_space(trial, "regularizer", record)))
    return config


def configure(params: Mapping[str, Any], cands: Candidates) -> Config:
    """The configuration that ``params`` stand for: a trial's flat, namespaced parameters as :func:`compose`
    suggested them (``model``, ``model.<name>.<param>``, ``optimizer``, ``regularizer.<name>``, ...).

    This is how a configuration crosses from the side that samples (the Optuna study) to the side that runs it
    (any worker): only the parameter dict travels. Raises :class:`SearchSpaceError` for parameters that name no
    candidate plugin.
    """
    def local(prefix: str) -> dict[str, Any]:
        return {key[len(prefix):]: value for key, value in params.items()
                if key.startswith(prefix) and "." not in key[len(prefix):]}

    def chosen(kind: str, records: tuple[PluginRecord, ...]) -> PluginRecord:
        by_name = {r.name: r for r in records}
        if params.get(kind) not in by_name:
            raise SearchSpaceError(f"the parameters choose {kind} {params.get(kind)!r}, which is not among this "
                                   f"search's candidates ({', '.join(by_name) or 'none'})")
        return by_name[params[kind]]

    model = chosen("model", cands.models)
    config = Config(model=model, model_params=local(f"model.{model.name}."))
    family = model.plugin.family
    if family == "torch" and not model.plugin.owns_optimizer:
        config.optimizer = chosen("optimizer", cands.optimizers)
        config.optimizer_params = local(f"optimizer.{config.optimizer.name}.")
    for record in cands.regularizers:
        if family in record.plugin.families and params.get(f"regularizer.{record.name}") is True:
            config.regularizers.append((record, local(f"regularizer.{record.name}.")))
    return config


def check_starting_points(record: PluginRecord) -> None:
    """Raise :class:`SearchSpaceError` unless each of the model's ``starting_points`` is a draw of its space: its
    ``search_space``, given those values, suggests exactly the parameters the point names, each value within its
    distribution. Nothing for plugins of other kinds."""
    for index, point in enumerate(getattr(record.plugin, "starting_points", ()) if record.kind == "model" else ()):
        owner = f"model plugin {record.name!r} ({record.origin}): starting_points[{index}]"
        with quiet_optuna_logs():
            study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
        study.enqueue_trial({f"plugin.{record.name}.{name}": value for name, value in point.items()})
        with warnings.catch_warnings():  # Optuna's "out of range" warning: said below, in one line
            warnings.simplefilter("ignore")
            try:
                suggested = _plugin_space(study.ask(), "plugin", record)
            except SearchSpaceError as exc:  # e.g. a value that is none of a categorical's choices
                raise SearchSpaceError(f"{exc} (starting_points[{index}])") from exc
        if set(suggested) != set(point):
            raise SearchSpaceError(f"{owner} is not a draw of its space: it names {', '.join(sorted(point))}; the "
                                   f"space suggests {', '.join(sorted(suggested))} with those values")
        explored = study.trials[0].distributions
        for name, value in point.items():
            distribution = explored[f"plugin.{record.name}.{name}"]
            if not distribution._contains(distribution.to_internal_repr(value)):
                raise SearchSpaceError(f"{owner}: {name}={value!r} is outside its range {describe(distribution)}")


def starting_trials(cands: Candidates) -> list[dict[str, Any]]:
    """The starting points of the candidate models (in candidate order) as trial parameters (``model``,
    ``model.<name>.<param>``): what a new study queues first (see
    :attr:`automl.protocols.ModelPlugin.starting_points`)."""
    return [{"model": record.name, **{f"model.{record.name}.{name}": value for name, value in point.items()}}
            for record in cands.models for point in record.plugin.starting_points]


def explore(record: PluginRecord, n_draws: int = 64, seed: int = 0) -> dict[str, optuna.distributions.BaseDistribution]:
    """The parameters the plugin of ``record`` suggests, by local name, over ``n_draws`` random draws of its space.

    Conditional parameters are included once a draw reaches them; a name met with several distributions keeps
    the first. Raises like :func:`compose` when the plugin's space is invalid.
    """
    with quiet_optuna_logs():
        study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=seed))
    prefix = f"plugin.{record.name}."
    found: dict[str, optuna.distributions.BaseDistribution] = {}
    for _ in range(n_draws):
        trial = study.ask()
        _plugin_space(trial, "plugin", record)
        for name, distribution in trial.distributions.items():
            found.setdefault(name.removeprefix(prefix), distribution)
        study.tell(trial, 0.0)
    return found


def describe(distribution: optuna.distributions.BaseDistribution) -> str:
    """A short human form of one distribution: ``1e-05..0.001 log``, ``2..5``, ``gru / lstm``, ``(fixed)``."""
    if isinstance(distribution, optuna.distributions.CategoricalDistribution):
        choices = distribution.choices
        return "(fixed)" if len(choices) == 1 else " / ".join(str(c) for c in choices)
    assert isinstance(distribution, (optuna.distributions.FloatDistribution, optuna.distributions.IntDistribution))
    text = f"{distribution.low:g}..{distribution.high:g}"
    if distribution.log:
        text += " log"
    elif distribution.step not in (None, 1):
        text += f" step {distribution.step:g}"
    return text
