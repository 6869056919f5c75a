"""Bad input gets one clear line and an exit status, never a traceback, and writes nothing.

Every kind of bad input of the guarantee goes through the real CLI (typer's CliRunner in-process, a few in a
subprocess): exit status 2, nothing on stdout, exactly one ``error:`` line on stderr naming what is wrong and
where, no traceback, and no new file in the working folder (where the default storage ``studies/automl.db``
would go) or next to the storage. Property tests (hypothesis) then throw generated study names, CLI arguments
and data files at the same code: the only outcomes are success or an :class:`AutomlError` one-liner.
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import json
import os
import re
import subprocess
import sys
import tempfile
import zipfile
import zlib
from dataclasses import asdict
from pathlib import Path

import numpy as np
import optuna
import pandas as pd
import pytest
from automl_cli import app
from hypothesis import HealthCheck, assume, event, given, settings
from hypothesis import strategies as st
from PIL import Image
from typer.testing import CliRunner, Result

import automl
from automl.datasets import Dataset, load_dataset
from automl.exceptions import AutomlError, ConfigError
from automl.metrics import METRICS
from automl.readers import TABLE_SUFFIXES
from automl.samplers import PRUNERS
from automl.storage import open_storage
from automl.study import StudySpec, open_study, spec_of, validate_study_name

HGB = "hist_gradient_boosting"
RUNNER = CliRunner(env={"COLUMNS": "200", "AUTOML_DEBUG": None, "AUTOML_STORAGE": None})
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
#: What hypothesis may leave in a working folder by itself (its example database and caches).
IGNORED = {".hypothesis"}


def invoke(args: list[str]) -> Result:
    return RUNNER.invoke(app, args)


def tree(root: Path) -> set[str]:
    """Every file and folder under ``root``, relative to it."""
    return {p.relative_to(root).as_posix() for p in root.rglob("*")
            if p.relative_to(root).parts[0] not in IGNORED}


def one_error_line(stderr: str) -> str:
    lines = ANSI.sub("", stderr).splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), stderr
    return lines[0]


def assert_one_error_line(result: Result, *fragments: str) -> str:
    """Exit status 2, nothing on stdout, one ``error:`` line on stderr and no traceback anywhere."""
    assert result.exit_code == 2, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert result.stdout == "", result.output
    assert "Traceback" not in result.output
    line = one_error_line(result.stderr)
    for fragment in fragments:
        assert fragment in line, (fragment, line)
    return line


# -- data files ---------------------------------------------------------------------------------------------


def blobs_frame(rows: int = 40) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    half = rows // 2
    frame = pd.DataFrame(np.vstack([rng.normal(-2, 1, (half, 3)), rng.normal(2, 1, (rows - half, 3))]),
                         columns=list("abc"))
    frame["label"] = ["x"] * half + ["y"] * (rows - half)
    return frame


def write_files(root: Path) -> None:
    """The good and bad data files the table of cases refers to (as ``{tmp}/<name>``)."""
    blobs = blobs_frame()
    blobs.to_csv(root / "blobs.csv", index=False)
    (root / "empty.csv").write_bytes(b"")
    (root / "header.csv").write_text("a,b,label\n")
    (root / "dir.csv").mkdir()  # exists, but cannot be read (as root a chmod 000 file still can)
    (root / "data.xlsx").write_text("a,label\n1,x\n")
    blobs.rename(columns={"label": "cls"}).to_csv(root / "nolabel.csv", index=False)
    texts = pd.DataFrame({"text": [f"review number {i} {'good' if i % 2 else 'bad'}" for i in range(20)],
                          "label": ["pos", "neg"] * 10})
    texts.to_csv(root / "text.csv", index=False)
    texts.rename(columns={"text": "body"}).to_csv(root / "notext.csv", index=False)
    texts.assign(text=["   "] + list(texts["text"][1:])).to_csv(root / "emptytext.csv", index=False)
    (root / "latin1.csv").write_bytes("text,label\ncaf\u00e9 cr\u00e8me,a\nthe end,b\n".encode("latin-1"))
    blobs.assign(label="x").to_csv(root / "oneclass.csv", index=False)
    blobs.head(3).assign(label=["x", "y", "x"]).to_csv(root / "tiny.csv", index=False)
    blobs.assign(label=["x"] * 39 + ["y"]).to_csv(root / "rare.csv", index=False)
    blobs.assign(label=[None] + ["x", "y"] * 19 + ["x"]).to_csv(root / "nantarget.csv", index=False)
    blobs.assign(a=np.nan).to_csv(root / "allnan.csv", index=False)
    blobs.assign(b=[np.inf] + [1.0] * 39).to_csv(root / "inf.csv", index=False)
    (root / "nested.jsonl").write_text('{"a": [1, 2], "label": "x"}\n{"a": [3], "label": "y"}\n')
    (root / "notobject.jsonl").write_text("[1, 2]\n3\n")
    np.savez(root / "noimages.npz", X=np.zeros((0, 4, 4)), y=np.zeros(0))
    (root / "corrupt.npz").write_bytes(b"PK\x03\x04" + b"\x00" * 40)
    (root / "notadb.db").write_text("not a database")
    (root / "adir").mkdir()
    for label in "ab":  # PNG headers claiming 30000x30000 pixels: a decompression bomb, refused unread
        (root / "bomb" / label).mkdir(parents=True)
        (root / "bomb" / label / "1.png").write_bytes(png_header(30000, 30000))


def png_header(width: int, height: int) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return len(data).to_bytes(4, "big") + kind + data + zlib.crc32(kind + data).to_bytes(4, "big")

    header = width.to_bytes(4, "big") + height.to_bytes(4, "big") + bytes([8, 0, 0, 0, 0])
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IEND", b"")


BASE = {"task": "tabular", "data": "{tmp}/blobs.csv", "models": HGB, "n-trials": "1", "folds": "2"}


def search(**overrides: str | None) -> list[str]:
    """``search`` of one cheap trial on ``blobs.csv``, with options replaced (``None`` drops one)."""
    options = {**BASE, **{key.replace("_", "-"): value for key, value in overrides.items()}}
    return ["search", "-q", *(x for key, value in options.items() if value is not None for x in (f"--{key}", value))]


# (arguments, fragments the one error line must hold, files the failed run may leave)
CASES: dict[str, tuple[list[str], tuple[str, ...], tuple[str, ...]]] = {
    # data files
    "missing-file": (search(data="{tmp}/missing.csv"), ("{tmp}/missing.csv", "no such file"), ()),
    "empty-file": (search(data="{tmp}/empty.csv"), ("{tmp}/empty.csv", "empty"), ()),
    "header-only-file": (search(data="{tmp}/header.csv"), ("{tmp}/header.csv", "no rows"), ()),
    "unreadable-file": (search(data="{tmp}/dir.csv"), ("{tmp}/dir.csv", "cannot be read"), ()),
    "unsupported-file-type": (search(data="{tmp}/data.xlsx"), ("{tmp}/data.xlsx", "unsupported file type"), ()),
    "empty-data-path": (search(data=""), ("data path is empty",), ()),
    "nested-json": (search(data="{tmp}/nested.jsonl"), ("{tmp}/nested.jsonl", "column 'a'", "list or object"), ()),
    "json-line-not-object": (search(data="{tmp}/notobject.jsonl"), ("{tmp}/notobject.jsonl", "cannot be read"), ()),
    "npz-without-images": (search(task="vision", data="{tmp}/noimages.npz", models=None),
                           ("{tmp}/noimages.npz", "no images"), ()),
    "image-decompression-bomb": (search(task="vision", data="{tmp}/bomb", models=None),
                                 ("{tmp}/bomb/a/1.png", "decompression bomb"), ()),
    "corrupt-npz": (search(task="vision", data="{tmp}/corrupt.npz", models=None),
                    ("{tmp}/corrupt.npz", "cannot be read as .npz"), ()),
    # columns and values
    "wrong-target": (search(target="nope"), ("{tmp}/blobs.csv", "no target column 'nope'", "columns: a, b, c"), ()),
    "missing-target": (search(data="{tmp}/nolabel.csv"), ("{tmp}/nolabel.csv", "which column is the target"), ()),
    "wrong-text-column": (search(task="nlp", data="{tmp}/text.csv", models=None, text_column="body"),
                          ("{tmp}/text.csv", "no text column 'body'"), ()),
    "missing-text-column": (search(task="nlp", data="{tmp}/notext.csv", models=None),
                            ("{tmp}/notext.csv", "which column is the text"), ()),
    "empty-text": (search(task="nlp", data="{tmp}/emptytext.csv", models=None),
                   ("{tmp}/emptytext.csv", "text column 'text' has 1 empty values"), ()),
    "text-column-not-nlp": (search(text_column="a"), ("text column only applies to task 'nlp'",), ()),
    "non-utf8": (search(task="nlp", data="{tmp}/latin1.csv", models=None), ("{tmp}/latin1.csv", "UTF-8"), ()),
    "single-class": (search(data="{tmp}/oneclass.csv"), ("{tmp}/oneclass.csv", "single class ('x')"), ()),
    "fewer-rows-than-folds": (search(data="{tmp}/tiny.csv", folds="5"), ("tiny", "3 rows", "5 folds"), ()),
    "class-rarer-than-folds": (search(data="{tmp}/rare.csv"), ("rare", "class 'y' has 1 rows", "2 folds"), ()),
    "missing-target-values": (search(data="{tmp}/nantarget.csv"), ("{tmp}/nantarget.csv", "1 missing values"), ()),
    "all-nan-feature": (search(data="{tmp}/allnan.csv"), ("{tmp}/allnan.csv", "feature column 'a'", "no values"), ()),
    "infinite-feature": (search(data="{tmp}/inf.csv"), ("{tmp}/inf.csv", "feature column 'b'", "infinite"), ()),
    # names and options
    "unknown-task": (search(task="bogus"), ("unknown task 'bogus'", "nlp, vision, tabular"), ()),
    "unknown-metric": (search(metric="bogus"), ("unknown metric 'bogus'",), ()),
    "metric-of-other-kind": (search(metric="rmse"), ("metric 'rmse' is for regression",), ()),
    "unknown-model": (search(models="nosuch"), ("model plugin 'nosuch'",), ()),
    "unknown-optimizer": (search(optimizers="nosuch"), ("optimizer plugin 'nosuch'",), ()),
    "unknown-regularizer": (search(regularizers="nosuch"), ("regularizer plugin 'nosuch'",), ()),
    "empty-model-list": (search(models=","), ("models restriction names no plugin",), ()),
    "unknown-sampler": (search(sampler="bogus"), ("unknown sampler 'bogus'",), ()),
    "unknown-pruner": (search(pruner="bogus"), ("unknown pruner 'bogus'",), ()),
    "unknown-device": (search(device="gpu"), ("unknown device 'gpu'",), ()),
    "zero-trials": (search(n_trials="0"), ("n_trials must be a positive integer, got 0",), ()),
    "negative-trials": (search(n_trials="-3"), ("n_trials must be a positive integer, got -3",), ()),
    "zero-timeout": (search(timeout="0"), ("timeout must be a positive number of seconds, got 0.0",), ()),
    "negative-timeout": (search(timeout="-1.5"), ("timeout", "got -1.5",), ()),
    "nan-timeout": (search(timeout="nan"), ("timeout", "got nan"), ()),
    "one-fold": (search(folds="1"), ("folds must be at least 2, got 1",), ()),
    "negative-folds": (search(folds="-2"), ("folds must be at least 2, got -2",), ()),
    "negative-seed": (search(seed="-1"), ("seed must be between 0 and", "got -1"), ()),
    "huge-seed": (search(seed=str(2**64)), ("seed must be between 0 and", str(2**64)), ()),
    "zero-threads": (search(threads="0"), ("threads must be at least 1, got 0",), ()),
    # storage URLs that cannot be opened (the SQLite creation lock may leave its empty .lock file, no database)
    "storage-not-a-url": (search(storage="notaurl"), ("'notaurl'", "not a SQLAlchemy URL"), ()),
    "storage-unknown-dialect": (search(storage="nosuchdb://h/x"), ("nosuchdb://h/x",), ()),
    "storage-no-driver-or-server": (search(storage="postgresql://u@127.0.0.1:1/x"),
                                    ("cannot open storage 'postgresql://u@127.0.0.1:1/x'",), ()),
    "storage-folder-is-a-file": (search(storage="sqlite:///{tmp}/blobs.csv/x.db"),
                                 ("sqlite:///{tmp}/blobs.csv/x.db", "cannot create folder"), ()),
    "storage-not-a-database": (search(storage="sqlite:///{tmp}/notadb.db"),
                               ("sqlite:///{tmp}/notadb.db", "file is not a database"), ("notadb.db.lock",)),
    "storage-is-a-folder": (search(storage="sqlite:///{tmp}/adir"),
                            ("sqlite:///{tmp}/adir", "unable to open database file"), ("adir.lock",)),
    "show-missing-database": (["show", "s", "--storage", "sqlite:///{tmp}/none.db"],
                              ("sqlite:///{tmp}/none.db", "no database file"), ()),
    "studies-default-storage-missing": (["studies"], ("sqlite:///studies/automl.db", "no database file"), ()),
    "plugins-unknown-task": (["plugins", "list", "--task", "bogus"], ("unknown task 'bogus'",), ()),
    "plugins-unknown-kind": (["plugins", "list", "--kind", "bogus"], ("unknown plugin kind 'bogus'",), ()),
    "plugins-check-unknown": (["plugins", "check", "nosuch"], ("no installed plugin named nosuch",), ()),
    # study names
    "study-slash": (search(study="a/b"), ("invalid study name 'a/b'",), ()),
    "study-dotdot": (search(study="../../evil"), ("invalid study name '../../evil'",), ()),
    "study-backslash": (search(study="a\\b"), ("invalid study name 'a\\\\b'",), ()),
    "study-nul": (search(study="a\x00b"), ("invalid study name 'a\\x00b'",), ()),
    "study-newline": (search(study="abc\n"), ("invalid study name 'abc\\n'",), ()),
    "study-500-chars": (search(study="x" * 500), ("invalid study name 'xxxx", "1-128"), ()),
    "study-sql": (search(study="s'; DROP TABLE studies; --"), ("invalid study name", "DROP TABLE"), ()),
    "study-empty": (search(study=""), ("invalid study name ''",), ()),
}


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty working folder (the default storage would be created under it) holding the data files."""
    write_files(tmp_path)
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.mark.parametrize("case", list(CASES))
def test_bad_input_is_one_error_line_and_writes_nothing(workdir: Path, case: str) -> None:
    args, fragments, may_leave = CASES[case]
    before = tree(workdir)
    result = invoke([arg.replace("{tmp}", str(workdir)) for arg in args])
    assert_one_error_line(result, *(fragment.replace("{tmp}", str(workdir)) for fragment in fragments))
    new = tree(workdir) - before
    assert new <= set(may_leave), f"a failed run left {sorted(new)}"
    assert not any(name.endswith(".db") or name == "studies" for name in new)


@pytest.mark.skipif(importlib.util.find_spec("cmaes") is not None, reason="cmaes installed: the sampler works")
def test_sampler_without_its_package_is_refused_before_the_storage(workdir: Path) -> None:
    before = tree(workdir)
    args = [arg.replace("{tmp}", str(workdir)) for arg in search(sampler="cmaes")]
    assert_one_error_line(invoke(args), "sampler 'cmaes' needs the cmaes package")
    assert tree(workdir) == before


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root reads a chmod 000 file")
def test_unreadable_file(workdir: Path) -> None:
    path = workdir / "blobs.csv"
    path.chmod(0)
    try:
        assert_one_error_line(invoke(search(data=str(path))), str(path), "Permission denied")
    finally:
        path.chmod(0o644)


def test_nan_features_are_imputed_by_every_tabular_model(workdir: Path) -> None:
    """A few missing feature values work: the tree models take NaN natively, the others impute the median."""
    frame = blobs_frame()
    frame.loc[::3, "a"] = np.nan
    frame.loc[1::5, "c"] = np.nan
    frame.to_csv(workdir / "holes.csv", index=False)
    models = ["hist_gradient_boosting", "random_forest", "linear", "k_neighbors", "mlp"]
    url = f"sqlite:///{workdir / 'nan.db'}"
    for model in models:
        result = invoke(search(data=str(workdir / "holes.csv"), models=model, study=model, storage=url, seed="1"))
        assert result.exit_code == 0, (model, result.output)
        assert "Traceback" not in result.output
    for model in models:
        study = optuna.load_study(study_name=model, storage=url)
        assert [t.state.name for t in study.trials] == ["COMPLETE"], model
        assert np.isfinite(study.best_value)


def test_errors_in_a_real_process_are_one_line_without_traceback(tmp_path: Path) -> None:
    """``python -m automl`` in an empty folder: each bad command prints one line, exits 2, creates nothing."""
    write_files(tmp_path)
    env = {k: v for k, v in os.environ.items() if k not in ("AUTOML_DEBUG", "AUTOML_STORAGE")}
    env["COLUMNS"] = "200"
    commands = {
        "missing-file": (search(data="gone.csv"), "gone.csv"),
        "non-utf8": (search(task="nlp", data="latin1.csv", models=None), "latin1.csv: not valid UTF-8"),
        "bad-storage": (search(storage="sqlite:///blobs.csv/x.db"), "cannot create folder"),
    }
    before = tree(tmp_path)
    running = {name: subprocess.Popen([sys.executable, "-m", "automl", *(a.format(tmp=tmp_path) for a in args)],
                                      cwd=tmp_path, env=env, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
               for name, (args, _) in commands.items()}
    for name, process in running.items():
        stdout, stderr = process.communicate(timeout=120)
        assert process.returncode == 2, (name, stdout, stderr)
        assert stdout == "" and "Traceback" not in stderr, (name, stderr)
        assert commands[name][1] in one_error_line(stderr), (name, stderr)
    assert tree(tmp_path) == before


# -- property tests -----------------------------------------------------------------------------------------

SPEC = StudySpec(task="tabular", dataset="d", source="builtin", fingerprint="f" * 16, kind="classification",
                 metric="accuracy", direction="maximize", folds=3, seed=0, splits="s" * 16)
NASTY = "/\\\x00\n\t .'\";%_*?`$-:|<>"
STUDY_NAMES = st.one_of(
    st.text(max_size=40),
    st.text(alphabet=st.sampled_from("aZ9._-" + NASTY), max_size=30),
    st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}", fullmatch=True),
    st.integers(100, 600).map(lambda n: "y" * n),
    st.sampled_from(["a'; DROP TABLE studies; --", 'x" OR 1=1', "../../etc/passwd", "C:\\x", "a\x00b", "%", "a%",
                     "a_b", "nlp-rotten_tomatoes", "abc\n", "Robert'); --"]),
)


@pytest.fixture(scope="module")
def name_storage(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, optuna.storages.RDBStorage]:
    root = tmp_path_factory.mktemp("names")
    return root, open_storage(f"sqlite:///{root / 'names.db'}")


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(name=STUDY_NAMES)
def test_study_names_round_trip_or_are_refused(name_storage: tuple[Path, optuna.storages.RDBStorage],
                                               name: str) -> None:
    root, rdb = name_storage
    url = f"sqlite:///{root / 'names.db'}"
    try:
        validate_study_name(name)
    except ConfigError as exc:
        assert "\n" not in str(exc) and str(exc).startswith("invalid study name")
        fresh = root / "refused" / "never.db"
        with pytest.raises(ConfigError, match="invalid study name"):  # refused before the storage is touched
            automl.search("tabular", root / "none.csv", study=name, storage=f"sqlite:///{fresh}", n_trials=1)
        assert not fresh.parent.exists()
        with pytest.raises(ConfigError, match="invalid study name"):
            open_study(rdb, name, SPEC, optuna.samplers.RandomSampler(), optuna.pruners.NopPruner())
        assert name not in optuna.get_all_study_names(rdb)
        shown = invoke(["show", "--storage", url, "--", name])  # a plain lookup: no study of that name
        assert_one_error_line(shown, "no study", url)
        return
    assert len(name) <= 128 and name.isascii() and name == name.strip()
    open_study(rdb, name, SPEC, optuna.samplers.RandomSampler(), optuna.pruners.NopPruner())
    loaded = automl.load_study(name, url)
    assert loaded.study_name == name and spec_of(loaded) == asdict(SPEC)
    shown = invoke(["show", "--storage", url, "--", name])
    assert shown.exit_code == 0 and "task tabular, dataset d" in shown.stdout, shown.output
    assert {p.name for p in root.iterdir()} <= {"names.db", "names.db.lock"}


ARG_TEXT = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=10)


@st.composite
def cli_arguments(draw: st.DrawFn) -> list[str]:
    """``search`` options on a tiny table: one option (or more) out of range or misspelt, the others valid or
    left out; one example in eight has only valid ones, and runs a real search of one trial. Never a large valid
    budget (the default is 30 trials): every example must stay cheap."""
    classification = [name for name, metric in METRICS.items() if metric.kind == "classification"]
    options: dict[str, tuple[st.SearchStrategy[object], st.SearchStrategy[object]]] = {  # good, bad values
        "models": (st.sampled_from([HGB, "linear"]), st.sampled_from(["nosuch", ",", "mlp,nosuch"])),
        "task": (st.just("tabular"), st.sampled_from(["nlp", "vision", "TABULAR"]) | ARG_TEXT),
        "n-trials": (st.just(1), st.integers(-3, 0) | st.sampled_from(["", "x", "1.5", str(-2**70)])),
        "folds": (st.integers(2, 4), st.integers(-2, 1) | st.sampled_from([str(10**30), "two", "", "41"])),
        "seed": (st.integers(0, 2**32 - 2**20 - 1),
                 st.integers(-5, -1) | st.integers(2**32 - 2**20, 2**65) | st.sampled_from(["nan", "x"])),
        "timeout": (st.floats(10, 1e9) | st.just("inf"),
                    st.floats(max_value=0) | st.sampled_from(["-1", "nan", "-inf", "abc", ""])),
        "metric": (st.sampled_from(classification), st.sampled_from(["rmse", "mae", "r2"]) | ARG_TEXT),
        "sampler": (st.sampled_from(["tpe", "random", "cmaes"]), st.sampled_from(["TPE", "grid"]) | ARG_TEXT),
        "pruner": (st.sampled_from(PRUNERS), ARG_TEXT),
        "device": (st.sampled_from(["auto", "cpu"]), st.sampled_from(["cuda:7", "gpu"]) | ARG_TEXT),
        "threads": (st.integers(1, 2), st.integers(-1, 0)),
        "study": (st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._-]{0,20}", fullmatch=True), STUDY_NAMES),
    }
    bad = set() if draw(st.integers(0, 7)) == 0 else set(draw(st.lists(st.sampled_from(sorted(options)),
                                                                        min_size=1, max_size=3)))
    args = ["search", "-q", "--data", "blobs.csv"]
    for name, (good_values, bad_values) in options.items():
        required = name in ("models", "task", "n-trials")
        value = draw(bad_values if name in bad else good_values if required else st.none() | good_values)
        if value is not None:
            args += [f"--{name}", str(value)]
    return args


@pytest.fixture(scope="module")
def arg_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("args")


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(args=cli_arguments())
def test_cli_arguments_end_in_0_1_or_2_never_a_traceback(arg_root: Path, args: list[str]) -> None:
    work = Path(tempfile.mkdtemp(dir=arg_root))
    blobs_frame().to_csv(work / "blobs.csv", index=False)
    with contextlib.chdir(work):  # the default storage, studies/automl.db, goes here
        result = invoke(args)
    assert result.exception is None or isinstance(result.exception, SystemExit), (args, repr(result.exception))
    assert result.exit_code in (0, 1, 2), (args, result.output)
    assert "Traceback" not in result.output, args
    event(f"exit {result.exit_code}")
    made_db = (work / "studies" / "automl.db").exists()
    if result.exit_code == 2:
        if ANSI.sub("", result.stderr).startswith("error: "):
            one_error_line(result.stderr)
        else:  # click refused the value before automl saw it: its usage message
            assert "Invalid value" in result.stderr or "requires an argument" in result.stderr, result.stderr
        assert not made_db and tree(work) == {"blobs.csv"}, (args, sorted(tree(work)))
    else:
        assert made_db, args


CELLS = st.one_of(st.none(), st.integers(-3, 3), st.floats(), st.booleans(), st.text(max_size=6),
                  st.sampled_from(["label", "text", "", " ", "nan", "inf", "a,b", '"', "\n", "é"]))
COLUMN_NAMES = st.sampled_from(["label", "target", "y", "text", "a", "b"]) | st.text(max_size=5)


@st.composite
def data_files(draw: st.DrawFn) -> tuple[str, bytes, list[str]]:
    """(suffix, file content, column names) of a generated table file: written by pandas or raw bytes/text."""
    suffix = draw(st.sampled_from([*TABLE_SUFFIXES, ".CSV"]))
    columns = draw(st.lists(COLUMN_NAMES, min_size=1, max_size=4, unique=True))
    how = draw(st.sampled_from(["pandas", "pandas", "pandas", "bytes", "text", "jsonl"]))
    if how == "bytes":
        return suffix, draw(st.binary(max_size=300)), columns
    if how == "text":
        lines = draw(st.lists(st.lists(CELLS.map(lambda v: "" if v is None else str(v)), min_size=1, max_size=5),
                              max_size=8))
        text = "\n".join([",".join(columns)] + [",".join(line) for line in lines])
        encoding = draw(st.sampled_from(["utf-8", "utf-8-sig", "latin-1", "utf-16", "cp1252"]))
        return suffix, text.encode(encoding, errors="replace"), columns
    if draw(st.booleans()):  # a plausible table: a label column of few values (or floats), text, numbers
        columns = ["label", "text", *(c for c in columns if c not in ("label", "text"))]
        labels = st.sampled_from(["x", "y", "z"]) | st.integers(0, 2) | st.floats(-5, 5)
        row = st.tuples(labels, st.text(min_size=1, max_size=8), *[CELLS] * (len(columns) - 2)).map(list)
        rows = draw(st.lists(row, min_size=2, max_size=30))
    else:
        rows = draw(st.lists(st.lists(CELLS, min_size=len(columns), max_size=len(columns)), max_size=12))
    if how == "jsonl":
        content = "\n".join(json.dumps(dict(zip(columns, row, strict=True))) for row in rows)
        return suffix, content.encode(), columns
    frame = pd.DataFrame(rows, columns=columns)
    buffer = io.BytesIO()
    try:
        if suffix.lower() in (".csv", ".tsv"):
            frame.to_csv(buffer, sep="\t" if suffix == ".tsv" else ",", index=False)
        elif suffix in (".parquet", ".pq"):
            frame.to_parquet(buffer, index=False)
        else:
            frame.to_json(buffer, orient="records", lines=True)
    except Exception:  # noqa: BLE001  (pandas cannot write this frame in this format: nothing to test)
        assume(False)
    return suffix, buffer.getvalue(), columns


def check_dataset(ds: Dataset) -> None:
    assert len(ds) == len(ds.X) == len(ds.y) > 0
    if ds.kind == "classification":
        assert ds.classes is not None and len(ds.classes) >= 2
        assert ds.y.min() >= 0 and ds.y.max() < len(ds.classes)
    else:
        assert np.isfinite(ds.y).all()


@pytest.fixture(scope="module")
def file_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("files")


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                    HealthCheck.too_slow])
@given(file=data_files(), task=st.sampled_from(["tabular", "nlp"]), data=st.data())
def test_generated_table_files_load_or_raise_a_data_error(file_root: Path, file: tuple[str, bytes, list[str]],
                                                          task: str, data: st.DataObject) -> None:
    suffix, content, columns = file
    path = Path(tempfile.mkdtemp(dir=file_root)) / f"t{suffix}"
    path.write_bytes(content)
    target = data.draw(st.none() | st.sampled_from(columns) | COLUMN_NAMES, label="target")
    text_column = data.draw(st.none() | st.sampled_from(columns), label="text_column") if task == "nlp" else None
    try:
        ds = load_dataset(task, path, target=target, text_column=text_column)
    except AutomlError as exc:
        assert str(exc) and "Traceback" not in str(exc)
        event(f"refused: {type(exc).__name__}")
        return
    check_dataset(ds)
    event(f"loaded: {ds.kind}")


ARRAYS = st.tuples(st.lists(st.integers(0, 4), max_size=5),
                   st.sampled_from(["float32", "float64", "uint8", "int64", "bool", "complex64", "<U2"]))


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(x=ARRAYS, y=ARRAYS, fill=st.sampled_from([0.0, 1.0, 300.0, np.nan, np.inf]), keys=st.sampled_from(
    [("X", "y"), ("X",), ("x", "y")]), cut=st.none() | st.integers(0, 400))
def test_generated_npz_files_load_or_raise_a_data_error(file_root: Path, x: tuple[list[int], str],
                                                        y: tuple[list[int], str], fill: float, keys: tuple[str, ...],
                                                        cut: int | None) -> None:
    def array(shape: list[int], dtype: str) -> np.ndarray:
        if dtype == "<U2":
            return np.full(shape, "ab", dtype=dtype)
        with np.errstate(invalid="ignore"):
            values = np.arange(int(np.prod(shape)), dtype=np.float64).reshape(shape) % 3 * fill
            return values.astype(dtype)

    buffer = io.BytesIO()
    np.savez(buffer, **dict(zip(keys, (array(*x), array(*y)), strict=False)))
    path = Path(tempfile.mkdtemp(dir=file_root)) / "images.npz"
    path.write_bytes(buffer.getvalue()[:cut])
    try:
        ds = load_dataset("vision", path)
    except AutomlError as exc:
        assert str(path) in str(exc)
        return
    check_dataset(ds)
    assert ds.X.ndim == 4 and ds.X.dtype == np.float32


def _image_bytes(fmt: str) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(np.arange(8 * 8 * 3, dtype=np.uint8).reshape(8, 8, 3)).save(buffer, fmt)
    return buffer.getvalue()


IMAGES = {suffix: _image_bytes(fmt) for suffix, fmt in [(".png", "PNG"), (".gif", "GIF"), (".bmp", "BMP"),
                                                         (".jpg", "JPEG"), (".tif", "TIFF")]}


@pytest.mark.filterwarnings("ignore::UserWarning")  # PIL on the damaged images: corrupt EXIF, skipped tags
@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(suffix=st.sampled_from(sorted(IMAGES)), at=st.integers(0, 200), patch=st.binary(max_size=8),
       cut=st.none() | st.integers(0, 300))
def test_damaged_images_load_or_raise_a_data_error(file_root: Path, suffix: str, at: int, patch: bytes,
                                                   cut: int | None) -> None:
    good = IMAGES[suffix]
    damaged = (good[:at] + patch + good[at + len(patch):])[:cut]
    folder = Path(tempfile.mkdtemp(dir=file_root))
    for label, content in (("a", damaged), ("b", good)):
        (folder / label).mkdir()
        (folder / label / f"1{suffix}").write_bytes(content)
    try:
        ds = load_dataset("vision", folder)
    except AutomlError as exc:
        assert str(folder) in str(exc)
        return
    check_dataset(ds)


@pytest.mark.parametrize("damage", ["truncated", "crc"])
def test_an_npz_that_is_a_damaged_zip_is_a_data_error(tmp_path: Path, damage: str) -> None:
    buffer = io.BytesIO()
    np.savez(buffer, X=np.zeros((4, 3, 3)), y=np.arange(4))  # stored, not compressed: the bytes are the array's
    content = buffer.getvalue()
    if damage == "truncated":  # the central directory is gone
        content = content[: len(content) // 2]
    else:  # the array data changed under its CRC-32
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            info = archive.getinfo("X.npy")
        end = info.header_offset + 30 + len(info.filename) + len(info.extra) + info.compress_size
        content = content[: end - 8] + b"\xff" * 8 + content[end:]
    path = tmp_path / "damaged.npz"
    path.write_bytes(content)
    with pytest.raises(AutomlError, match="damaged.npz: cannot be read as .npz"):
        load_dataset("vision", path)
