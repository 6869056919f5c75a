"""benchmarks/scale.py: the generated tables, the study summary and the docs section (the searches it times are
the plain ``automl search`` command, tested elsewhere)."""

from __future__ import annotations

import optuna
import pytest
from bench_support import benchmark_module


@pytest.fixture(scope="module")
def scale():
    with benchmark_module("scale.py", "scale_benchmark") as module:
        yield module


def test_the_table_is_the_same_every_run_and_written_as_asked(scale, tmp_path):
    first = scale.table(500)
    assert list(first.columns) == [f"x{i}" for i in range(20)] + ["label"]
    assert set(first["label"]) == {0, 1} and first.equals(scale.table(500))
    scale.write_table(500, tmp_path / "t.csv")
    scale.write_table(500, tmp_path / "t.parquet")
    assert (tmp_path / "t.csv").read_text().startswith("x0,x1,") and (tmp_path / "t.parquet").stat().st_size > 0


def test_study_summary_counts_states_and_finds_the_best(scale, tmp_path):
    storage = f"sqlite:///{tmp_path / 's.db'}"
    assert scale.study_summary(storage) == (0, 0, 0, None, None, {})  # the command failed before its study
    study = optuna.create_study(study_name="tabular-x", storage=storage, direction="maximize")
    models = optuna.distributions.CategoricalDistribution(["hist_gradient_boosting", "linear"])
    for model, value in (("linear", 0.7), ("hist_gradient_boosting", 0.9), ("linear", 0.8), ("linear", None)):
        study.enqueue_trial({"model": model})
        trial = study.ask({"model": models})
        if value is None:
            study.tell(trial, state=optuna.trial.TrialState.PRUNED)
        else:
            study.tell(trial, value)
    assert scale.study_summary(storage) == (3, 1, 0, 0.9, "hist_gradient_boosting",
                                            {"linear": 3, "hist_gradient_boosting": 1})


def test_markdown_is_the_sections_body_one_row_a_run(scale):
    runs = [scale.Run("10,000 rows", 10_000, "--n-trials 3", 12.5, 11.0, 2, 1, 0, 0.91, "linear", {"linear": 3}, 0),
            scale.Run("1,000,000 rows", 1_000_000, "--n-trials 3", 99.0, None, 0, 0, 0, None, None, {}, 1)]
    body = scale.markdown(runs, "scale.py --write", 120.0)
    assert scale.SECTION not in body  # the heading is write_section's
    assert "| 10,000 rows | 10,000 | --n-trials 3 | 12.5 | 11.0 | 2 / 1 / 0 | 0.9100 | linear | linear 3 |" in body
    assert "| 1,000,000 rows (exit 1) | 1,000,000 | --n-trials 3 | 99.0 | - | 0 / 0 / 0 | - | - |  |" in body
    assert "Machine: " in body and "logical CPUs" in body and "took 120 s" in body
