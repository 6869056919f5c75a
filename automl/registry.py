"""Plugin discovery in three separate steps: find (imports nothing), load, validate.

A plugin that fails to import, has the wrong shape, targets another protocol version, or reuses a built-in's
name is kept as a *broken* record naming its distribution, version and the reason; it never takes the host down.
The built-in plugins are found exactly like third-party ones: through the entry points of the ``automl``
distribution.
"""

from __future__ import annotations

import importlib.metadata as metadata
import inspect
import math
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from automl.exceptions import PluginError
from automl.protocols import (
    API_VERSION,
    FAMILIES,
    GROUPS,
    KINDS,
    REGRESSION_TASKS,
    REGULARIZED_FAMILIES,
    TASKS,
    ModelPlugin,
    OptimizerPlugin,
    RegularizerPlugin,
)

__all__ = ["ALLOW_ENV", "BASES", "BUILTIN_DISTRIBUTION", "NO_AUTOLOAD_ENV", "PluginRecord", "Registry", "allowed",
           "discover", "find", "load", "shape_error", "signature_error", "validate"]

#: Distribution whose entry points count as built-in.
BUILTIN_DISTRIBUTION = "automl"
#: Set (to anything but empty) to load only the built-ins and the plugins named in :data:`ALLOW_ENV`.
NO_AUTOLOAD_ENV = "AUTOML_DISABLE_PLUGIN_AUTOLOAD"
#: Comma-separated plugin (entry-point) or distribution names loaded while autoloading is disabled.
ALLOW_ENV = "AUTOML_PLUGINS"

#: The base class a plugin of each kind subclasses (it supplies the optional hooks' defaults).
BASES: dict[str, type] = {"model": ModelPlugin, "optimizer": OptimizerPlugin, "regularizer": RegularizerPlugin}


@dataclass(frozen=True)
class PluginRecord:
    """One entry point of a plugin group and, once loaded, the plugin or the reason it is broken."""

    kind: str
    name: str
    value: str
    distribution: str | None
    version: str | None
    plugin: Any = None
    error: str | None = None
    disabled: bool = False
    #: The ``name`` the loaded plugin declared, kept once the record is broken (it may differ from the entry point's).
    declared_name: str | None = None
    entry_point: metadata.EntryPoint | None = field(default=None, compare=False, repr=False)

    @property
    def builtin(self) -> bool:
        """Whether the plugin ships with automl itself."""
        return self.distribution == BUILTIN_DISTRIBUTION

    @property
    def ok(self) -> bool:
        """Whether the plugin loaded and passed validation."""
        return self.plugin is not None and self.error is None

    @property
    def origin(self) -> str:
        """``distribution version`` of the package that registered the entry point."""
        return f"{self.distribution or '?'} {self.version or '?'}"

    @property
    def status(self) -> str:
        """``ok``, ``disabled`` (not loaded, see :data:`NO_AUTOLOAD_ENV`) or ``broken``."""
        return "ok" if self.ok else "disabled" if self.disabled else "broken"

    @property
    def applies_to(self) -> str:
        """What the plugin serves, e.g. ``nlp (torch; heavy)`` or ``torch; classification``; ``?`` if broken."""
        plugin = self.plugin
        if not self.ok:
            return "?"
        if self.kind == "optimizer":
            return "torch"
        if self.kind == "regularizer":
            scope = ["/".join(sorted(plugin.families))]
            scope += ["/".join(sorted(limit)) for limit in (plugin.tasks, plugin.kinds) if limit is not None]
            return "; ".join(scope)
        flags = ((set(plugin.kinds) != {"classification"}, "/".join(sorted(plugin.kinds))), (plugin.heavy, "heavy"),
                 (plugin.owns_optimizer, "own optimizer"), (not plugin.probabilities, "no probabilities"))
        notes = [plugin.family] + [note for flag, note in flags if flag]
        return f"{'/'.join(sorted(plugin.tasks))} ({'; '.join(notes)})"

    def broken(self, reason: str) -> PluginRecord:
        """This record marked broken with ``reason`` (keeping the name its plugin declared, if any)."""
        declared = getattr(self.plugin, "name", None)
        return replace(self, plugin=None, error=reason,
                       declared_name=declared if isinstance(declared, str) else self.declared_name)

    def serves(self, task: str | None) -> bool:
        """Whether the plugin applies to ``task`` as a search chooses it (always when ``None``, and for broken
        records): a model serving it, a regularizer declaring it or no tasks, any optimizer (the protocol gives
        optimizers no tasks: they are offered with every torch model)."""
        if task is None or not self.ok or self.kind == "optimizer":
            return True
        return self.plugin.tasks is None or task in self.plugin.tasks


def find(entry_points: Iterable[metadata.EntryPoint] | None = None) -> list[PluginRecord]:
    """Step 1: list every plugin entry point without importing anything."""
    if entry_points is None:
        entry_points = [ep for group in GROUPS.values() for ep in metadata.entry_points(group=group)]
    kind_of_group = {group: kind for kind, group in GROUPS.items()}
    records = []
    for ep in entry_points:
        if ep.group not in kind_of_group:
            continue
        dist = ep.dist
        records.append(
            PluginRecord(
                kind=kind_of_group[ep.group],
                name=ep.name,
                value=ep.value,
                distribution=dist.metadata["Name"] if dist is not None else None,
                version=dist.version if dist is not None else None,
                entry_point=ep,
            )
        )
    return records


def load(record: PluginRecord) -> PluginRecord:
    """Step 2: import the entry point and instantiate it if it is a class; failures become broken records."""
    assert record.entry_point is not None, "load() takes records made by find()"
    try:
        obj = record.entry_point.load()
        plugin = obj() if inspect.isclass(obj) else obj
    except (Exception, SystemExit) as exc:  # a plugin must never take the host down
        return record.broken(f"import failed: {type(exc).__name__}: {exc}")
    return replace(record, plugin=plugin)


def _plain(signature: inspect.Signature) -> str:
    """``(self, params)``: a signature without annotations, as a reader compares it."""
    parameters = [p.replace(annotation=inspect.Parameter.empty) for p in signature.parameters.values()]
    return str(signature.replace(parameters=parameters, return_annotation=inspect.Signature.empty))


def signature_error(plugin: Any, base: type) -> str | None:
    """Why one of ``plugin``'s hooks (the public methods of its ``base`` class) cannot be called the way the engine
    calls it, positionally with the protocol's arguments; ``None`` when all can."""
    for method, hook in vars(base).items():
        if method.startswith("_") or not inspect.isfunction(hook):
            continue
        actual = getattr(plugin, method, None)
        expected = f"{method}{_plain(inspect.signature(hook))}"
        if not callable(actual):
            return f"{method} is {type(actual).__name__}, not a method: expected {expected}"
        try:
            signature = inspect.signature(actual)
        except (TypeError, ValueError):  # a callable without a signature (a C function): trust it
            continue
        try:
            signature.bind(*range(len(inspect.signature(hook).parameters) - 1))  # the protocol's, less self
        except TypeError:
            shown = inspect.signature(actual.__func__) if inspect.ismethod(actual) else signature
            return f"{method}{_plain(shown)} does not take the protocol's arguments: expected {expected}"
    return None


def shape_error(record: PluginRecord) -> str | None:
    """Why a loaded plugin does not fit the protocol of its kind, or ``None``."""
    plugin = record.plugin
    base = BASES[record.kind]
    if not isinstance(plugin, base):
        return f"is {type(plugin).__name__}, not a subclass of automl.protocols.{base.__name__}"
    version = getattr(plugin, "api_version", None)
    if version is None:
        return f"declares no api_version (this automl speaks plugin API version {API_VERSION})"
    if version != API_VERSION:
        return f"targets plugin API version {version!r}, this automl speaks version {API_VERSION}"
    name = getattr(plugin, "name", None)
    if name != record.name:
        return f"plugin.name is {name!r} but its entry point is named {record.name!r}"
    for method in ("search_space", "build") if record.kind != "regularizer" else ("search_space",):
        if getattr(type(plugin), method) is getattr(base, method) or not callable(getattr(plugin, method)):
            return f"does not implement {method}()"
    reason = signature_error(plugin, base)
    if reason is not None:
        return reason
    if record.kind == "model":
        tasks = getattr(plugin, "tasks", None)
        if not isinstance(tasks, (set, frozenset, tuple, list)) or not tasks or not set(tasks) <= set(TASKS):
            return f"tasks must be a non-empty subset of {TASKS}, got {tasks!r}"
        if getattr(plugin, "family", None) not in FAMILIES:
            return f"family must be one of {FAMILIES}, got {getattr(plugin, 'family', None)!r}"
        kinds = getattr(plugin, "kinds", None)
        if not isinstance(kinds, (set, frozenset, tuple, list)) or not kinds or not set(kinds) <= set(KINDS):
            return f"kinds must be a non-empty subset of {KINDS}, got {kinds!r}"
        if "regression" in kinds and not set(tasks) & set(REGRESSION_TASKS):
            return (f"kinds declares 'regression', but {'/'.join(sorted(tasks))} data is always classification "
                    f"(only {'/'.join(REGRESSION_TASKS)} data can be regression)")
        if getattr(plugin, "owns_optimizer", False) and (
                plugin.family != "torch" or type(plugin).build_optimizer is ModelPlugin.build_optimizer):
            return "owns_optimizer is set, which needs family 'torch' and a build_optimizer() implementation"
        for attribute in ("max_train_rows", "max_search_rows"):
            value = getattr(plugin, attribute, None)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
                return f"{attribute} must be None or a positive number of rows, got {value!r}"
        reason = _starting_points_error(getattr(plugin, "starting_points", ()))
        if reason is not None:
            return reason
    if record.kind == "regularizer":
        families = getattr(plugin, "families", None)
        if not isinstance(families, (set, frozenset, tuple, list)) or not families or not set(families) <= set(
                REGULARIZED_FAMILIES):
            return f"families must be a non-empty subset of {REGULARIZED_FAMILIES}, got {families!r}"
        for attribute, allowed_values in (("tasks", TASKS), ("kinds", KINDS)):
            value = getattr(plugin, attribute, None)
            if value is not None and (not isinstance(value, (set, frozenset, tuple, list)) or not value
                                      or not set(value) <= set(allowed_values)):
                return f"{attribute} must be None or a non-empty subset of {allowed_values}, got {value!r}"
    return None


def _starting_points_error(points: Any) -> str | None:
    """Why a model's ``starting_points`` are not a tuple or list of parameter mappings (local names: non-empty
    strings without ``.``; values: JSON numbers, strings or booleans), or ``None``. Whether each one is a draw of
    the model's space is the search's pre-flight to check (:func:`automl.space.check_starting_points`)."""
    if not isinstance(points, (tuple, list)):
        return f"starting_points must be a tuple of parameter mappings, got {type(points).__name__}"
    for index, point in enumerate(points):
        if not isinstance(point, Mapping) or not point:
            return f"starting_points[{index}] must be a non-empty mapping of parameter names to values, got {point!r}"
        for name, value in point.items():
            if not isinstance(name, str) or not name or "." in name:
                return f"starting_points[{index}]: parameter name {name!r} must be a non-empty string without '.'"
            if not isinstance(value, (bool, int, float, str)) or (isinstance(value, float)
                                                                   and not math.isfinite(value)):
                return (f"starting_points[{index}]: parameter {name!r} is {value!r}; values are finite numbers, "
                        "strings or booleans")
    return None


def validate(records: Sequence[PluginRecord]) -> list[PluginRecord]:
    """Step 3: check each loaded plugin's shape and names; built-in names cannot be shadowed."""
    builtin_names = {(r.kind, r.name) for r in records if r.builtin}
    seen: dict[tuple[str, str], PluginRecord] = {}
    out = []
    for record in sorted(records, key=lambda r: (not r.builtin, r.kind, r.name)):
        if record.ok:
            reason = shape_error(record)
            key = (record.kind, record.name)
            if reason is None and not record.builtin and key in builtin_names:
                reason = f"reuses the name of the built-in {record.kind} {record.name!r}"
            elif reason is None and key in seen:
                reason = f"name {record.name!r} is already registered by {seen[key].origin}"
            if reason is not None:
                record = record.broken(reason)
            else:
                seen[key] = record
        out.append(record)
    return out


class Registry:
    """The validated plugins, by kind and name."""

    def __init__(self, records: Sequence[PluginRecord]) -> None:
        self.records: tuple[PluginRecord, ...] = tuple(records)

    def _ok(self, kind: str) -> list[PluginRecord]:
        return [r for r in self.records if r.kind == kind and r.ok]

    @property
    def broken(self) -> list[PluginRecord]:
        """Records that failed to load or validate."""
        return [r for r in self.records if not r.ok]

    def listing(self, task: str | None = None, kind: str | None = None) -> list[PluginRecord]:
        """Every record (broken ones too) of ``kind``; working ones only if they apply to ``task``, as a search
        chooses them (:meth:`PluginRecord.serves`; all when ``None``)."""
        return [r for r in self.records if (kind is None or r.kind == kind) and r.serves(task)]

    def get(self, kind: str, name: str) -> PluginRecord:
        """The working plugin ``name`` of ``kind``; a :class:`PluginError` lists the known names otherwise."""
        for record in self.records:
            if record.kind == kind and record.name == name:
                if not record.ok:
                    raise PluginError(f"{kind} plugin {name!r} ({record.origin}) is broken: {record.error}")
                return record
        known = ", ".join(sorted(r.name for r in self._ok(kind))) or "none"
        broken = [f"{r.kind} {r.name!r} ({r.origin}): {r.error}" for r in self.broken
                  if name in (r.name, r.declared_name)]
        also = f"; broken plugins of that name: {'; '.join(broken)}" if broken else ""
        raise PluginError(f"unknown {kind} plugin {name!r}; installed: {known}{also}")

    def models(self, task: str | None = None, kind: str | None = None) -> list[PluginRecord]:
        """Working model plugins serving ``task`` and problem ``kind`` (all when ``None``)."""
        return [
            r
            for r in self._ok("model")
            if (task is None or task in r.plugin.tasks) and (kind is None or kind in r.plugin.kinds)
        ]

    def optimizers(self) -> list[PluginRecord]:
        """Working optimizer plugins."""
        return self._ok("optimizer")

    def regularizers(self, family: str | None = None, task: str | None = None,
                     kind: str | None = None) -> list[PluginRecord]:
        """Working regularizer plugins applying to ``family``, ``task`` and problem ``kind`` (all when ``None``)."""
        return [r for r in self._ok("regularizer") if (family is None or family in r.plugin.families)
                and r.serves(task) and (kind is None or r.plugin.kinds is None or kind in r.plugin.kinds)]


def allowed(record: PluginRecord) -> bool:
    """Whether ``record`` may be loaded: always, unless ``$AUTOML_DISABLE_PLUGIN_AUTOLOAD`` is set; then only
    built-ins and the plugins or distributions named in ``$AUTOML_PLUGINS``."""
    if not os.environ.get(NO_AUTOLOAD_ENV) or record.builtin:
        return True
    names = {name.strip() for name in os.environ.get(ALLOW_ENV, "").split(",") if name.strip()}
    return record.name in names or record.distribution in names


def discover(entry_points: Iterable[metadata.EntryPoint] | None = None) -> Registry:
    """Find, load and validate every installed plugin (or those of ``entry_points``), but for those
    :func:`allowed` keeps out, which are listed as disabled without being imported."""
    records = []
    for record in find(entry_points):
        if allowed(record):
            records.append(load(record))
        else:
            reason = f"not loaded: {NO_AUTOLOAD_ENV} is set and {ALLOW_ENV} names neither it nor its distribution"
            records.append(replace(record.broken(reason), disabled=True))
    return Registry(validate(records))
