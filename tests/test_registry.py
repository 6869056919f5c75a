"""Plugin discovery (automl.registry): find imports nothing, load and validate turn every failure into a broken
record naming its distribution, built-in names cannot be shadowed, and the Registry answers by kind, task, kind.

Third-party plugins are real distributions: a ``<name>-<version>.dist-info`` folder (METADATA, entry_points.txt)
and module files in a temporary folder put on ``sys.path``, so ``importlib.metadata`` finds them exactly like
pip-installed packages.
"""

from __future__ import annotations

import importlib.metadata as metadata
import importlib.util
import json
import subprocess
import sys
import textwrap
import tomllib
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import automl
from automl.exceptions import PluginError
from automl.protocols import API_VERSION, GROUPS
from automl.registry import BUILTIN_DISTRIBUTION, PluginRecord, Registry, discover, find, load, validate
from automl.space import Selection, candidates

PYPROJECT = Path(__file__).resolve().parents[1] / "pyproject.toml"


def builtin_entry_points() -> dict[str, set[str]]:
    """Plugin names by kind, as automl's pyproject.toml declares them."""
    declared = tomllib.loads(PYPROJECT.read_text())["project"]["entry-points"]
    return {kind: set(declared.get(group, {})) for kind, group in GROUPS.items()}


def unique_module() -> str:
    return f"automl_fake_{uuid.uuid4().hex[:10]}"


def plugin_source(base: str, body: dict[str, str | None], attrs: dict[str, str | None], cls: str) -> str:
    """Source of a plugin class subclassing ``automl.protocols.<base>`` (``base=None``: a plain class).

    Each attribute is a code string; ``None`` leaves it out (inherited from the base class, if any).
    """
    body = {**body, **attrs}
    header = [f"from automl.protocols import {base}", f"class {cls}({base}):"] if base else [f"class {cls}:"]
    lines = header + [f"    {key} = {value}" for key, value in body.items() if value is not None]
    return "\n".join(lines) + "\n"


def model_source(cls: str = "Plugin", base: str = "ModelPlugin", **attrs: str | None) -> str:
    """A well-formed tabular sklearn classification model named ``knn``, changed by ``attrs``."""
    body = {
        "name": "'knn'",
        "api_version": str(API_VERSION),
        "tasks": "frozenset({'tabular'})",
        "family": "'sklearn'",
        "kinds": "frozenset({'classification'})",
        "search_space": "lambda self, space: space.suggest_int('k', 1, 5)",
        "build": "lambda self, params, problem: None",
    }
    return plugin_source(base, body, attrs, cls)


def optimizer_source(cls: str = "Plugin", base: str = "OptimizerPlugin", **attrs: str | None) -> str:
    body = {"name": "'lion'", "api_version": str(API_VERSION),
            "search_space": "lambda self, space: None", "build": "lambda self, params, parameters, overrides: None"}
    return plugin_source(base, body, attrs, cls)


def regularizer_source(cls: str = "Plugin", base: str = "RegularizerPlugin", **attrs: str | None) -> str:
    body = {"name": "'cutmix'", "api_version": str(API_VERSION), "families": "frozenset({'torch'})",
            "search_space": "lambda self, space: None"}
    return plugin_source(base, body, attrs, cls)


Install = Callable[..., Path]


@pytest.fixture
def install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Install]:
    """``install(dist, version, entry_points={group: {name: value}}, modules={module: source})``.

    Each distribution gets its own folder, prepended to ``sys.path`` (so the last installed is found first).
    Imported fake modules are removed from ``sys.modules`` afterwards.
    """
    modules_made: list[str] = []

    def _install(dist: str, version: str = "1.0", *, entry_points: dict[str, dict[str, str]],
                 modules: dict[str, str] | None = None) -> Path:
        root = tmp_path / f"site-{dist}"
        info = root / f"{dist.replace('-', '_')}-{version}.dist-info"
        info.mkdir(parents=True)
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n")
        sections = []
        for group, points in entry_points.items():
            sections.append(f"[{group}]\n" + "".join(f"{name} = {value}\n" for name, value in points.items()))
        (info / "entry_points.txt").write_text("\n".join(sections))
        for module, source in (modules or {}).items():
            (root / f"{module}.py").write_text(textwrap.dedent(source))
            modules_made.append(module)
        monkeypatch.syspath_prepend(str(root))
        return root

    yield _install
    for module in modules_made:
        sys.modules.pop(module, None)


def one_model(install: Install, source: str, *, name: str = "knn", dist: str = "fake-knn",
              version: str = "1.2.3", attr: str = "Plugin") -> tuple[str, PluginRecord]:
    """Install a distribution with one model entry point; return its module name and discovered record."""
    module = unique_module()
    install(dist, version, entry_points={"automl.models": {name: f"{module}:{attr}"}}, modules={module: source})
    return module, record_of(discover(), "model", name, dist)


def record_of(registry: Registry, kind: str, name: str, dist: str | None = None) -> PluginRecord:
    found = [r for r in registry.records if r.kind == kind and r.name == name
             and (dist is None or r.distribution == dist)]
    assert len(found) == 1, found
    return found[0]


# -- built-ins ------------------------------------------------------------------------------------------------


def test_every_builtin_is_found_loaded_and_valid():
    registry = automl.discover()
    builtins = [r for r in registry.records if r.builtin]
    by_kind = {kind: {r.name for r in builtins if r.kind == kind} for kind in GROUPS}
    assert by_kind == builtin_entry_points()
    for record in builtins:
        assert record.ok, (record.name, record.error)
        assert record.distribution == BUILTIN_DISTRIBUTION == "automl"
        assert record.version == automl.__version__
        assert record.origin == f"automl {automl.__version__}"
        assert record.plugin.name == record.name
        assert record.value.startswith("automl_plugins.")
    assert not [r for r in registry.broken if r.builtin]


def test_builtin_models_declare_tasks_family_and_kinds():
    for record in automl.discover().models():
        if record.builtin:
            assert record.plugin.tasks and record.plugin.family in ("sklearn", "torch") and record.plugin.kinds


# -- find -------------------------------------------------------------------------------------------------------


def test_find_lists_entry_points_without_importing_them(install):
    module = unique_module()
    install("fake-bomb", "0.3", entry_points={"automl.models": {"bomb": f"{module}:Plugin"}},
            modules={module: "raise RuntimeError('imported!')\n"})
    records = find()
    [record] = [r for r in records if r.name == "bomb"]
    assert (record.kind, record.value, record.distribution, record.version) == ("model", f"{module}:Plugin",
                                                                               "fake-bomb", "0.3")
    assert record.plugin is None and record.error is None and not record.ok and not record.builtin
    assert module not in sys.modules
    # and it still is not imported once everything else is known: only load() imports
    assert {(r.kind, r.name) for r in records if r.builtin} == {
        (kind, name) for kind, names in builtin_entry_points().items() for name in names}
    assert module not in sys.modules


def test_find_imports_no_plugin_module_in_a_fresh_interpreter():
    code = ("import sys; from automl.registry import find; records = find(); "
            "print(len(records), sorted(m for m in sys.modules if m.startswith('automl_plugins')))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                          cwd=Path(__file__).parent)
    assert done.returncode == 0, done.stderr
    count, imported = done.stdout.split(" ", 1)
    assert int(count) >= sum(len(names) for names in builtin_entry_points().values())
    assert imported.strip() == "[]"


def test_discover_loads_and_validates_every_builtin_without_importing_torch_or_scikit_learn():
    """Listing plugins is cheap: the built-in plugin modules import torch, scikit-learn, SciPy and pandas in their
    hooks, not at import, so loading and validating all of them pulls in none of these."""
    code = ("import json, sys; from automl.registry import discover; registry = discover(); "
            "print(json.dumps({'ok': [r.name for r in registry.records if r.builtin and r.ok], 'imported': "
            "[m for m in ('torch', 'sklearn', 'scipy', 'pandas', 'optuna', 'transformers') if m in sys.modules]}))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                          cwd=Path(__file__).parent)
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout)
    expected = set().union(*builtin_entry_points().values())
    if importlib.util.find_spec("transformers") is None:  # the pretrained plugins need the transformers extra
        expected -= {"pretrained_transformer", "sentence_embeddings"}
    assert set(found["ok"]) == expected
    assert found["imported"] == []


def test_find_ignores_foreign_groups_and_handles_entry_points_without_distribution(install):
    module = unique_module()
    install("fake-plain", entry_points={}, modules={module: model_source()})
    points = [metadata.EntryPoint("knn", f"{module}:Plugin", "automl.models"),
              metadata.EntryPoint("knn", f"{module}:Plugin", "console_scripts")]
    [record] = find(points)
    assert record.distribution is None and record.version is None and record.origin == "? ?"
    [loaded] = validate([load(record)])
    assert loaded.ok and type(loaded.plugin).__name__ == "Plugin"


# -- load: import failures ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("raise RuntimeError('no GPU driver found')\n", "RuntimeError: no GPU driver found"),
        ("import automl_no_such_module_xyz\n", "ModuleNotFoundError: No module named 'automl_no_such_module_xyz'"),
        ("raise SystemExit(3)\n", "SystemExit: 3"),
        ("import sys\nsys.exit('bad plugin')\n", "SystemExit: bad plugin"),
        ("class Plugin:\n    def __init__(self):\n        raise ValueError('needs a licence key')\n",
         "ValueError: needs a licence key"),
        ("X = 1\n", "AttributeError"),
    ],
    ids=["raises", "missing-dependency", "system-exit", "sys-exit-message", "init-raises", "no-attribute"],
)
def test_a_plugin_failing_to_import_is_broken_and_the_rest_keeps_working(install, source, expected):
    module, record = one_model(install, source)
    assert not record.ok and record.plugin is None
    assert record.error.startswith("import failed: ")
    assert expected in record.error
    assert (record.distribution, record.version, record.origin) == ("fake-knn", "1.2.3", "fake-knn 1.2.3")
    registry = discover()
    assert record in registry.broken
    assert all(r.ok for r in registry.records if r.builtin)
    assert [r.name for r in registry.models("tabular") if r.name == "knn"] == []


def test_keyboard_interrupt_is_not_swallowed(install):
    module = unique_module()
    install("fake-ctrlc", entry_points={"automl.models": {"ctrlc": f"{module}:Plugin"}},
            modules={module: "raise KeyboardInterrupt\n"})
    [record] = [r for r in find() if r.name == "ctrlc"]
    with pytest.raises(KeyboardInterrupt):
        load(record)


# -- validate: shape, protocol version, names ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("attrs", "expected"),
    [
        ({"base": None}, "is Plugin, not a subclass of automl.protocols.ModelPlugin"),
        ({"base": "OptimizerPlugin"}, "is Plugin, not a subclass of automl.protocols.ModelPlugin"),
        ({"build": None}, "does not implement build()"),
        ({"search_space": None}, "does not implement search_space()"),
        ({"name": None}, "plugin.name is None but its entry point is named 'knn'"),
        ({"tasks": "frozenset({'audio'})"}, "tasks must be a non-empty subset of ('nlp', 'vision', 'tabular'), got"),
        ({"tasks": "'tabular'"}, "tasks must be a non-empty subset"),
        ({"tasks": "frozenset()"}, "tasks must be a non-empty subset"),
        ({"tasks": None}, "tasks must be a non-empty subset"),
        ({"family": "'jax'"}, "family must be one of ('sklearn', 'torch'), got 'jax'"),
        ({"family": None}, "family must be one of ('sklearn', 'torch'), got None"),
        ({"kinds": "frozenset({'ranking'})"}, "kinds must be a non-empty subset of ('classification', 'regression')"),
        ({"kinds": "[]"}, "kinds must be a non-empty subset"),
        ({"owns_optimizer": "True"}, "owns_optimizer is set, which needs family 'torch' and a build_optimizer()"),
        ({"owns_optimizer": "True", "family": "'torch'"}, "owns_optimizer is set, which needs family 'torch' and a"),
    ],
    ids=["plain-class", "wrong-base", "no-build", "no-search-space", "no-name", "unknown-task", "tasks-str",
         "tasks-empty", "no-tasks", "bad-family", "no-family", "bad-kinds", "empty-kinds", "owns-optimizer-sklearn",
         "owns-optimizer-without-build-optimizer"],
)
def test_a_model_of_the_wrong_shape_is_broken(install, attrs, expected):
    _, record = one_model(install, model_source(**attrs))
    assert not record.ok and record.plugin is None
    assert expected in record.error
    assert record.origin == "fake-knn 1.2.3"


@pytest.mark.parametrize("attribute", ["max_train_rows", "max_search_rows"])
@pytest.mark.parametrize(("source", "value"), [("0", 0), ("-5", -5), ("True", True), ("2.5", 2.5),
                                               ("'1000'", "1000")])
def test_a_row_limit_must_be_a_positive_number_of_rows(install, attribute, source, value):
    _, record = one_model(install, model_source(**{attribute: source}))
    assert not record.ok
    assert record.error == f"{attribute} must be None or a positive number of rows, got {value!r}"


@pytest.mark.parametrize("attribute", ["max_train_rows", "max_search_rows"])
@pytest.mark.parametrize(("source", "value"), [("None", None), ("1", 1), ("50_000", 50_000)])
def test_a_row_limit_may_be_none_or_positive(install, attribute, source, value):
    _, record = one_model(install, model_source(**{attribute: source}))
    assert record.ok, record.error
    assert getattr(record.plugin, attribute) == value


def test_super_linear_builtins_declare_row_limits():
    models = {r.name: r.plugin for r in discover().models()}
    for name in ("k_neighbors", "pixel_svc"):
        assert models[name].max_train_rows is not None and models[name].max_search_rows is not None
        assert models[name].max_train_rows <= models[name].max_search_rows
    assert models["hist_gradient_boosting"].max_search_rows is None  # linear in the rows: no limit


@pytest.mark.parametrize(("tasks", "expected"), [
    ("frozenset({'nlp'})", "kinds declares 'regression', but nlp data is always classification (only tabular data "
                           "can be regression)"),
    ("frozenset({'nlp', 'vision'})", "kinds declares 'regression', but nlp/vision data is always classification "
                                     "(only tabular data can be regression)"),
    ("frozenset({'nlp', 'tabular'})", None),  # regression of its tabular data
])
def test_a_model_may_declare_regression_only_with_a_task_whose_data_can_be_regression(install, tasks, expected):
    _, record = one_model(install, model_source(tasks=tasks, kinds="frozenset({'classification', 'regression'})"))
    assert record.error == expected
    assert record.ok == (expected is None)


@pytest.mark.parametrize(
    ("module", "attrs", "expected"),
    [
        ("model", {"featurizer": "lambda self: None"},
         "featurizer(self) does not take the protocol's arguments: expected featurizer(self, params)"),
        ("model", {"build": "lambda self, params: None"},
         "build(self, params) does not take the protocol's arguments: expected build(self, params, problem)"),
        ("model", {"training": "lambda self, *, params: None"}, "expected training(self, params)"),
        ("model", {"lr_scale": "lambda self, params, problem: 1.0"}, "expected lr_scale(self, params)"),
        ("model", {"featurizer": "staticmethod(lambda params, extra: None)"},
         "featurizer(params, extra) does not take the protocol's arguments"),
        ("model", {"featurizer": "3"}, "featurizer is int, not a method: expected featurizer(self, params)"),
        ("optimizer", {"scheduler": "lambda self, params, optimizer: None"},
         "expected scheduler(self, params, optimizer, total_steps)"),
        ("regularizer", {"transform_batch": "lambda self, params, X, Y: (X, Y)"},
         "expected transform_batch(self, params, X, Y, generator)"),
    ],
    ids=["featurizer-without-params", "build-without-problem", "keyword-only", "lr-scale-extra", "staticmethod",
         "not-callable", "optimizer-scheduler", "regularizer-transform-batch"],
)
def test_a_hook_that_cannot_take_the_protocols_arguments_is_broken(install, module, attrs, expected):
    source = {"model": model_source, "optimizer": optimizer_source, "regularizer": regularizer_source}[module]
    name = {"model": "knn", "optimizer": "lion", "regularizer": "cutmix"}[module]
    path = unique_module()
    install("fake-hooks", "0.4", entry_points={GROUPS[module]: {name: f"{path}:Plugin"}},
            modules={path: source(**attrs)})
    record = record_of(discover(), module, name)
    assert not record.ok and record.status == "broken"
    assert expected in record.error


@pytest.mark.parametrize("featurizer", [
    "lambda self, features: None",  # another name for the argument
    "lambda self, params, extra=1: None",  # an extra argument with a default
    "lambda self, *args: None",
    "staticmethod(lambda params: None)",
])
def test_hooks_that_can_take_the_protocols_arguments_are_fine(install, featurizer):
    _, record = one_model(install, model_source(featurizer=featurizer))
    assert record.ok, record.error


def test_optimizers_and_regularizers_are_checked_too(install):
    opt, reg, reg2, good_opt, good_reg = (unique_module() for _ in range(5))
    install("fake-extras", "2.0",
            entry_points={"automl.optimizers": {"lion": f"{opt}:Plugin", "lamb": f"{good_opt}:Plugin"},
                          "automl.regularizers": {"cutmix": f"{reg}:Plugin", "cutout": f"{good_reg}:Plugin",
                                                  "shakedrop": f"{reg2}:Plugin"}},
            modules={opt: optimizer_source(build=None),
                     reg: regularizer_source(families="frozenset({'jax'})"),
                     reg2: regularizer_source(name="'shakedrop'", kinds="frozenset({'ranking'})"),
                     good_opt: optimizer_source(name="'lamb'"),
                     good_reg: regularizer_source(name="'cutout'")})
    registry = discover()
    assert record_of(registry, "optimizer", "lion").error == "does not implement build()"
    assert "families must be a non-empty subset of ('torch',)" in record_of(registry, "regularizer", "cutmix").error
    assert "kinds must be None or a non-empty subset of ('classification', 'regression')" in record_of(
        registry, "regularizer", "shakedrop").error
    assert record_of(registry, "optimizer", "lamb").ok
    assert record_of(registry, "regularizer", "cutout").ok
    assert "lamb" in [r.name for r in registry.optimizers()]
    assert "cutout" in [r.name for r in registry.regularizers("torch")]
    assert "cutout" not in [r.name for r in registry.regularizers("sklearn")]


@pytest.mark.parametrize("version", ["2", "0", "'1'"])
def test_another_api_version_is_broken(install, version):
    _, record = one_model(install, model_source(api_version=version))
    assert record.error == f"targets plugin API version {version}, this automl speaks version {API_VERSION}"


def test_a_plugin_must_declare_its_api_version(install):
    _, record = one_model(install, model_source(api_version=None))
    assert record.error == f"declares no api_version (this automl speaks plugin API version {API_VERSION})"


def test_a_non_callable_build_is_broken(install):
    _, record = one_model(install, model_source(build="3"))
    assert record.error == "does not implement build()"


def test_plugin_name_must_equal_its_entry_point_name(install):
    _, record = one_model(install, model_source(name="'knn2'"))
    assert record.error == "plugin.name is 'knn2' but its entry point is named 'knn'"


def test_a_third_party_plugin_cannot_shadow_a_builtin(install):
    model, reg = unique_module(), unique_module()
    install("fake-shadow", "0.9",
            entry_points={"automl.models": {"mlp": f"{model}:Plugin"},
                          "automl.regularizers": {"dropout": f"{reg}:Plugin"}},
            modules={model: model_source(name="'mlp'"), reg: regularizer_source(name="'dropout'")})
    registry = discover()
    fake_mlp = record_of(registry, "model", "mlp", "fake-shadow")
    assert not fake_mlp.ok and fake_mlp.error == "reuses the name of the built-in model 'mlp'"
    fake_dropout = record_of(registry, "regularizer", "dropout", "fake-shadow")
    assert fake_dropout.error == "reuses the name of the built-in regularizer 'dropout'"
    # the built-ins still answer to their names
    assert registry.get("model", "mlp").distribution == "automl"
    assert registry.get("regularizer", "dropout").distribution == "automl"
    assert [r.distribution for r in registry.models("tabular") if r.name == "mlp"] == ["automl"]


def test_names_are_per_kind(install):
    module = unique_module()  # a model may be called like a built-in regularizer
    install("fake-kinds", entry_points={"automl.models": {"dropout": f"{module}:Plugin"}},
            modules={module: model_source(name="'dropout'")})
    registry = discover()
    assert registry.get("model", "dropout").distribution == "fake-kinds"
    assert registry.get("regularizer", "dropout").distribution == "automl"


def test_two_third_party_plugins_with_one_name_the_second_is_broken(install):
    first, second = unique_module(), unique_module()
    install("fake-a", "1.0", entry_points={"automl.models": {"knn": f"{first}:Plugin"}},
            modules={first: model_source()})
    install("fake-b", "2.0", entry_points={"automl.models": {"knn": f"{second}:Plugin"}},
            modules={second: model_source()})
    registry = discover()
    records = [r for r in registry.records if r.kind == "model" and r.name == "knn"]
    assert sorted(r.distribution for r in records) == ["fake-a", "fake-b"]
    [winner] = [r for r in records if r.ok]
    [loser] = [r for r in records if not r.ok]
    assert loser.error == f"name 'knn' is already registered by {winner.origin}"
    assert registry.get("model", "knn") == winner
    assert [r.name for r in registry.models("tabular")].count("knn") == 1


def test_an_entry_point_may_name_an_instance(install):
    source = model_source(cls="_KNN") + "plugin = _KNN()\n"
    module, record = one_model(install, source, attr="plugin")
    assert record.ok
    assert record.plugin is sys.modules[module].plugin  # used as it is, not called


def test_an_entry_point_naming_a_class_is_instantiated_once(install):
    source = model_source() + textwrap.dedent("""
        Plugin.made = 0
        def _init(self):
            type(self).made += 1
        Plugin.__init__ = _init
    """)
    module, record = one_model(install, source)
    assert record.ok and isinstance(record.plugin, sys.modules[module].Plugin)
    assert sys.modules[module].Plugin.made == 1


def test_subclassing_the_base_class_works(install):
    source = textwrap.dedent("""
        from automl.protocols import ModelPlugin
        class Plugin(ModelPlugin):
            name = "knn"
            api_version = 1
            tasks = frozenset({"tabular"})
            family = "sklearn"
            def search_space(self, space):
                space.suggest_int("n_neighbors", 1, 30)
            def build(self, params, problem):
                from sklearn.neighbors import KNeighborsClassifier
                return KNeighborsClassifier(params["n_neighbors"])
    """)
    _, record = one_model(install, source)
    assert record.ok and record.plugin.kinds == frozenset({"classification"})  # the base class default


# -- Registry ------------------------------------------------------------------------------------------------------


def test_get_an_unknown_plugin_lists_the_installed_ones():
    registry = discover()
    with pytest.raises(PluginError) as info:
        registry.get("model", "xgboost")
    message = str(info.value)
    assert message.startswith("unknown model plugin 'xgboost'; installed: ")
    for name in builtin_entry_points()["model"]:
        assert name in message
    with pytest.raises(PluginError,
                       match=r"unknown optimizer plugin 'mlp'; installed: adagrad, adam, adamw, rmsprop, sgd"):
        registry.get("optimizer", "mlp")


def test_get_a_broken_plugin_says_why(install):
    _, record = one_model(install, model_source(family="'jax'"))
    with pytest.raises(PluginError) as info:
        discover().get("model", "knn")
    message = str(info.value)
    assert "model plugin 'knn' (fake-knn 1.2.3) is broken" in message
    assert "family must be one of" in message


def test_an_unknown_name_mentions_the_broken_plugins_of_that_name(install):
    renamed, misgrouped = unique_module(), unique_module()
    install("fake-charcnn", "0.5",
            entry_points={"automl.models": {"charcnn": f"{renamed}:Plugin"},  # the class calls itself char_cnn
                          "automl.optimizers": {"char_cnn": f"{misgrouped}:Plugin"}},  # a model in the wrong group
            modules={renamed: model_source(name="'char_cnn'"), misgrouped: model_source(name="'char_cnn'")})
    registry = discover()
    with pytest.raises(PluginError) as info:
        registry.get("model", "char_cnn")
    message = str(info.value)
    assert message.startswith("unknown model plugin 'char_cnn'; installed: ")
    assert "broken plugins of that name: " in message
    assert ("model 'charcnn' (fake-charcnn 0.5): plugin.name is 'char_cnn' but its entry point is named 'charcnn'"
            in message)
    assert ("optimizer 'char_cnn' (fake-charcnn 0.5): is Plugin, not a subclass of automl.protocols.OptimizerPlugin"
            in message)
    # what a search naming it (--models char_cnn) reports, before any study exists
    with pytest.raises(PluginError, match="broken plugins of that name: model 'charcnn'"):
        candidates(registry, "tabular", "classification", Selection(models=("char_cnn",)))
    # and nothing about broken plugins when none has the name
    with pytest.raises(PluginError) as info:
        registry.get("model", "xgboost")
    assert "broken" not in str(info.value)


def test_get_with_nothing_installed():
    with pytest.raises(PluginError, match="installed: none"):
        Registry([]).get("model", "knn")


def test_models_filter_by_task_and_kind(install):
    reg_only, multi, broken = unique_module(), unique_module(), unique_module()
    install("fake-models", "0.1",
            entry_points={"automl.models": {"ridge": f"{reg_only}:Plugin", "forest": f"{multi}:Plugin",
                                            "busted": f"{broken}:Plugin"}},
            modules={reg_only: model_source(name="'ridge'", kinds="frozenset({'regression'})"),
                     multi: model_source(name="'forest'", tasks="('tabular', 'vision')",
                                         kinds="['classification', 'regression']"),
                     broken: model_source(name="'busted'", api_version="99")})
    registry = discover()

    def names(task=None, kind=None):
        return {r.name for r in registry.models(task, kind)}

    tabular = {"hist_gradient_boosting", "mlp", "linear", "random_forest", "k_neighbors"}
    nlp = {"tfidf_linear", "tfidf_svm", "tfidf_nb", "bag_of_embeddings", "textcnn", "rnn", "transformer"}
    optional = {"pretrained_transformer", "sentence_embeddings"}  # with the transformers extra only
    assert names("tabular") == tabular | {"ridge", "forest"}
    assert names("tabular", "classification") == tabular | {"forest"}
    assert names("tabular", "regression") == tabular | {"ridge", "forest"}
    assert names("vision") == {"pixel_svc", "vision_mlp", "small_cnn", "resnet", "forest"}
    assert nlp <= names("nlp") <= nlp | optional
    assert names("nlp", "regression") == set()
    assert "ridge" not in names(kind="classification")
    assert names() >= builtin_entry_points()["model"] | {"ridge", "forest"}
    assert "busted" not in names() and "busted" in {r.name for r in registry.broken}


def test_listing_by_task_keeps_what_a_search_of_that_task_may_choose(install):
    nlp_only, busted = unique_module(), unique_module()
    install("fake-listing", "0.2",
            entry_points={"automl.regularizers": {"word_dropout": f"{nlp_only}:Plugin",
                                                  "busted_reg": f"{busted}:Plugin"}},
            modules={nlp_only: regularizer_source(name="'word_dropout'", tasks="frozenset({'nlp'})"),
                     busted: regularizer_source(name="'busted_reg'", api_version="99")})
    registry = discover()

    def listed(task, kind):
        return {r.name for r in registry.listing(task, kind)}

    for task in ("nlp", "vision", "tabular"):
        searched = {r.name for r in registry.regularizers("torch", task=task)}
        assert listed(task, "regularizer") == searched | {"busted_reg"}  # broken ones are always listed
        assert listed(task, "optimizer") == {r.name for r in registry.optimizers()}
    assert {"augmentation", "mixup"}.isdisjoint(listed("nlp", "regularizer"))
    assert {"augmentation", "mixup", "dropout"} <= listed("vision", "regularizer")
    assert "word_dropout" in listed("nlp", "regularizer") and "word_dropout" not in listed("tabular", "regularizer")
    assert listed(None, "regularizer") >= {"augmentation", "mixup", "word_dropout", "busted_reg"}


def test_records_order_builtins_first():
    registry = discover()
    flags = [r.builtin for r in registry.records]
    assert flags == sorted(flags, reverse=True)


# -- allow-list ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("allow", ["knn", "fake-knn", " unrelated , knn "])
def test_disabled_autoload_loads_builtins_and_the_allowed_plugins_only(install, monkeypatch, allow):
    allowed_module, other_module = unique_module(), unique_module()
    install("fake-knn", entry_points={"automl.models": {"knn": f"{allowed_module}:Plugin"}},
            modules={allowed_module: model_source()})
    install("fake-other", entry_points={"automl.models": {"other": f"{other_module}:Plugin"}},
            modules={other_module: model_source(name="'other'")})
    monkeypatch.setenv("AUTOML_DISABLE_PLUGIN_AUTOLOAD", "1")
    monkeypatch.setenv("AUTOML_PLUGINS", allow)
    registry = discover()
    assert record_of(registry, "model", "knn").ok
    other = record_of(registry, "model", "other")
    assert other.status == "disabled" and "AUTOML_DISABLE_PLUGIN_AUTOLOAD" in other.error
    assert other_module not in sys.modules  # never imported
    assert all(r.ok for r in registry.records if r.builtin)


def test_autoload_is_the_default(install, monkeypatch):
    module = unique_module()
    install("fake-knn", entry_points={"automl.models": {"knn": f"{module}:Plugin"}}, modules={module: model_source()})
    monkeypatch.delenv("AUTOML_DISABLE_PLUGIN_AUTOLOAD", raising=False)
    assert record_of(discover(), "model", "knn").status == "ok"


@pytest.mark.parametrize(
    ("points", "expected"),
    [
        ("{'k': 3}", "starting_points must be a tuple of parameter mappings, got dict"),
        ("({},)", "starting_points[0] must be a non-empty mapping of parameter names to values, got {}"),
        ("({'k': 3}, 3)", "starting_points[1] must be a non-empty mapping"),
        ("({'model.knn.k': 3},)", "starting_points[0]: parameter name 'model.knn.k' must be a non-empty string"),
        ("({'k': float('nan')},)", "starting_points[0]: parameter 'k' is nan; values are finite numbers"),
        ("({'k': [3]},)", "starting_points[0]: parameter 'k' is [3]; values are finite numbers, strings or booleans"),
    ],
    ids=["not-a-tuple", "empty-point", "not-a-mapping", "dotted-name", "nan", "list-value"],
)
def test_starting_points_of_the_wrong_form_make_a_model_broken(install, points, expected):
    _, record = one_model(install, model_source(starting_points=points))
    assert not record.ok and expected in record.error
    _, good = one_model(install, model_source(starting_points="({'k': 3}, {'k': 5})"), dist="fake-knn-ok")
    assert good.ok and good.plugin.starting_points == ({"k": 3}, {"k": 5})
