"""benchmarks/peers.py: time to target, one pair of each section on tiny data, resuming and the docs section."""

from __future__ import annotations

import json
from dataclasses import replace

import pandas as pd
import pytest
from bench_support import benchmark_module

from automl.datasets import load_dataset, subset


@pytest.fixture(scope="module")
def peers():
    with benchmark_module("peers.py", "peers_benchmark") as module:
        yield module


def test_time_to_target_is_the_first_trial_that_reaches_it(peers):
    timeline = [(9.0, 0.95), (2.0, 0.90), (5.0, 0.93), (7.0, 0.96)]  # (seconds, score), in any order
    assert peers.time_to_target(timeline, 0.93, "maximize") == 5.0  # reaching it exactly counts
    assert peers.time_to_target(timeline, 0.94, "maximize") == 7.0
    assert peers.time_to_target(timeline, 0.97, "maximize") is None
    assert peers.time_to_target([(1.0, 60.0), (3.0, 52.0), (4.0, 50.0)], 55.0, "minimize") == 3.0  # an rmse
    assert peers.time_to_target([], 0.5, "maximize") is None


def test_plain_optuna_pair_on_tiny_texts(peers, tmp_path):
    texts = load_dataset("nlp")
    small = subset(texts, pd.Series(range(len(texts))).sample(150, random_state=0).to_numpy())
    path = tmp_path / "tiny.csv"
    pd.DataFrame({"text": small.X, "label": [small.classes[i] for i in small.y]}).to_csv(path, index=False)

    pair = peers.compare("optuna", "nlp", str(path), 6, 0, tmp_path, models=["tfidf_nb"])

    assert (pair.train_rows, pair.test_rows) == (120, 30)  # the fixed 80/20 split
    assert pair.metric == "accuracy" and pair.peer.tool == "optuna"
    assert pair.peer.trials >= 1 and 0 <= pair.peer.best_cv <= 1 and 0 <= pair.peer.test <= 1  # runs one at least
    assert 0 < pair.peer.own_best_at <= pair.peer.wall
    assert sum(m["trials"] for m in pair.peer.models.values()) <= pair.peer.trials  # complete ones only
    auto = pair.automl
    assert set(auto.models) <= {"tfidf_nb"} and auto.trials == sum(m["trials"] for m in auto.models.values())
    if auto.best_cv is None:  # a loaded machine may leave no complete trial within the budget
        assert auto.test is None and pair.time_to_target is None
    else:
        assert auto.best_model == "tfidf_nb" and 0 <= auto.test <= 1 and 0 < auto.own_best_at <= auto.wall
        reached = auto.best_cv >= pair.peer.best_cv
        assert (pair.time_to_target is not None) == reached
        if reached:
            assert 0 < pair.time_to_target <= auto.own_best_at


def test_automl_trials_are_summed_up_per_model(peers):
    from datetime import datetime, timedelta

    from optuna.distributions import CategoricalDistribution
    from optuna.trial import FrozenTrial, TrialState

    start = datetime(2026, 12, 2, 12, 0, 0)
    model = {"model": CategoricalDistribution(["linear", "mlp"])}
    trials = [FrozenTrial(number=n, trial_id=n, state=state, value=value, datetime_start=start,
                          datetime_complete=start + timedelta(seconds=seconds), params={"model": name},
                          distributions=model, user_attrs={}, system_attrs={}, intermediate_values={})
              for n, (name, state, value, seconds) in enumerate([
                  ("linear", TrialState.COMPLETE, 0.9, 1.0), ("linear", TrialState.COMPLETE, 0.95, 3.0),
                  ("linear", TrialState.PRUNED, None, 2.0), ("mlp", TrialState.FAIL, None, 8.0)])]
    summary = peers.automl_models(trials, "maximize")
    assert summary == {"linear": {"trials": 3, "complete": 2, "pruned": 1, "failed": 0, "median_s": 2.0,
                                  "best_cv": 0.95},
                       "mlp": {"trials": 1, "complete": 0, "pruned": 0, "failed": 1, "median_s": 8.0, "best_cv": None}}
    assert peers.automl_models(trials, "minimize")["linear"]["best_cv"] == 0.9


def test_flaml_side_on_wine(peers):
    pytest.importorskip("flaml", reason="FLAML is a benchmark-only extra: pip install -e '.[bench]'")
    from automl.metrics import get_metric

    train, test = peers.split_rows(load_dataset("tabular", "wine"), 0)
    side = peers.run_flaml(train, test, get_metric("accuracy", "classification"), 1, 0)
    assert side.tool == "flaml" and side.trials >= 1 and side.best_model in side.models
    assert 0 < side.best_cv <= 1 and 0 <= side.test <= 1
    assert side.best_cv == max(m["best_cv"] for m in side.models.values())


def _fake_pair(peers, section, task, data, budget, seed, workdir):
    automl = peers.Side("automl", 0.9, 0.88, budget + 1, 3.0, 7, {"tfidf_nb": {
        "trials": 7, "complete": 5, "pruned": 2, "failed": 0, "median_s": 1.5, "best_cv": 0.9}}, "tfidf_nb")
    peer = peers.Side("optuna", 0.8, 0.79, budget + 2, 2.0, 3, {"logreg (word)": {"trials": 3, "best_cv": 0.8}},
                      "logreg (word)")
    return peers.Pair(section, data, budget, seed, "accuracy", "maximize", 100, 25, automl, peer, 1.0,
                      "2026-12-02 12:00 UTC", "peers.py", "load average: 0.50, 0.40, 0.30")


def test_resumes_stored_pairs_and_rewrites_its_docs_section(peers, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(peers, "warm_up", lambda sections: None)  # no tool runs here: nothing to import
    calls = []

    def run(section, task, data, budget, seed, workdir):
        calls.append((section, budget))
        return _fake_pair(peers, section, task, data, budget, seed, workdir)

    results, doc = tmp_path / "results.json", tmp_path / "benchmarks.md"
    doc.write_text("# Benchmarks\n\n## Earlier section\n\ntext\n")
    args = ["--only", "optuna", "--budgets", "1,2", "--results", str(results), "--doc", str(doc)]

    assert peers.main([*args, "--write"], run=run) == 0
    assert calls == [("optuna", 1.0), ("optuna", 2.0)]
    assert len(json.loads(results.read_text())) == 2
    first = doc.read_text()
    assert first.startswith("# Benchmarks\n\n## Earlier section\n\ntext\n")
    assert first.count(peers.HEADING) == 1 and "| vs optuna, seed 0 | rotten_tomatoes (100/25), accuracy | 1 |" in first
    assert "`tfidf_nb` 7 (5 complete, 2 pruned, 0 failed; median 1.50 s; best 0.9000)" in " ".join(first.split())
    assert max(len(line) for line in first.splitlines() if not line.startswith("|")) <= peers.WIDTH

    # hand-written reading after the generated part survives a rewrite; stored pairs are not run again
    doc.write_text(first + "\nWhy automl loses here: ...\n")
    assert peers.main([*args, "--budgets", "1,2,3", "--write"], run=run) == 0
    assert calls[2:] == [("optuna", 3.0)]
    second = doc.read_text()
    assert second.count(peers.HEADING) == 1 and second.count(peers.MARKERS[0]) == 1
    assert "Why automl loses here: ..." in second
    assert "| vs optuna, seed 0 | rotten_tomatoes (100/25), accuracy | 3 |" in second

    assert peers.main([*args, "--fresh"], run=run) == 0  # --fresh runs stored pairs again
    assert calls[3:] == [("optuna", 1.0), ("optuna", 2.0)]
    assert "benchmark wall time:" in capsys.readouterr().out


def test_report_says_which_tool_won(peers):
    pair = _fake_pair(peers, "flaml", "tabular", "wine", 30, 0, None)
    assert peers._verdict(pair) == "CV: automl; test: automl"
    losing = replace(pair, automl=replace(pair.automl, best_cv=0.7, test=0.79), time_to_target=None)
    assert peers._verdict(losing) == "CV: optuna; test: tie"
    assert "not reached" in peers.table([losing])
