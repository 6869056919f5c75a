"""benchmarks/gpu.py: its smoke run on the CPU (every variant, JSON and markdown), the engine's rates, and the docs
section it writes (GPU runs only)."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path

import optuna
import pytest
from bench_support import benchmark_module

ROOT = Path(__file__).resolve().parents[1]
VARIANTS = ["naive", "automl n_jobs=1", "automl n_jobs=2", "stacked x2"]


@pytest.fixture(scope="module")
def gpu():
    with benchmark_module("gpu.py", "gpu_benchmark") as module:
        yield module


@pytest.fixture(scope="module")
def smoke(tmp_path_factory):
    """One ``--smoke`` run in a subprocess: its JSON, its stdout and the JSON's path."""
    out = tmp_path_factory.mktemp("gpu") / "smoke.json"
    done = subprocess.run([sys.executable, "benchmarks/gpu.py", "--smoke", "--json", str(out)], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(out.read_text()), done.stdout, out


def test_smoke_runs_every_variant_on_the_cpu(smoke):
    report, _, _ = smoke
    assert [v["name"] for v in report["variants"]] == VARIANTS
    for variant in report["variants"]:
        assert "error" not in variant, variant
        assert variant["trials"] >= 1 and variant["per_min"] > 0 and variant["speedup"] > 0
        assert 0 <= variant["score"] <= 1 and variant["memory_gib"] is None  # no device memory on the CPU
    by_name = {v["name"]: v for v in report["variants"]}
    assert by_name["naive"]["speedup"] == pytest.approx(1.0)
    assert by_name["stacked x2"]["trials"] % 2 == 0  # both stacked models of every round are trials
    for k in (1, 2):
        engine = by_name[f"automl n_jobs={k}"]
        # every counted trial ran the queued configuration, on the device asked for, in at most k workers
        assert engine["other_trials"] == 0
        assert engine["devices"] == ["cpu"] and 1 <= engine["workers"] <= k
        assert engine["per_min_call"] <= engine["per_min_span"]  # the call also starts the workers
    assert report["machine"]["device_type"] == "cpu" and report["trial_tflop"] > 0
    assert report["sizes"]["n_jobs"] == [1, 2] and report["total_s"] > 0


def test_smoke_prints_the_section_with_one_row_per_variant(smoke):
    _, stdout, _ = smoke
    lines = stdout.splitlines()
    assert lines[0] == "## GPU trial packing"
    header = next(i for i, line in enumerate(lines) if line.startswith("| variant |"))
    rows = [line for line in lines[header + 2:] if line.startswith("| ")]
    assert [row.split(" | ")[0].removeprefix("| ") for row in rows] == VARIANTS
    assert all(row.count("|") == lines[header].count("|") for row in rows)
    words = " ".join(stdout.split())  # paragraphs are wrapped
    assert "`python benchmarks/gpu.py --smoke" in words and "on the CPU" in words


def test_write_refuses_a_cpu_run(gpu, smoke, tmp_path, monkeypatch):
    _, _, out = smoke
    docs = tmp_path / "benchmarks.md"
    docs.write_text("# Benchmarks\n\n## GPU trial packing\n\nNot measured yet.\n")
    monkeypatch.setattr(sys, "argv", ["gpu.py", "--from-json", str(out), "--write", "--docs", str(docs)])
    with pytest.raises(SystemExit) as stopped:
        gpu.main()
    assert "GPU runs only" in str(stopped.value.code)
    assert docs.read_text().endswith("Not measured yet.\n")


def test_write_replaces_only_its_section(gpu, smoke, tmp_path):
    report, _, _ = smoke
    report = {**report, "machine": {**report["machine"], "device": "NVIDIA H200", "device_type": "cuda"}}
    docs = tmp_path / "benchmarks.md"
    docs.write_text("# Benchmarks\n\n## Before\n\nkept\n\n## GPU trial packing\n\nNot measured yet.\n\n"
                    "## After\n\nalso kept\n")
    for _ in range(2):  # writing again replaces, never appends a second section
        gpu.write_section(gpu.SECTION, gpu.markdown(report), docs)
    text = docs.read_text()
    assert text.count("## GPU trial packing") == 1 and "Not measured yet" not in text
    words = " ".join(text.split())  # paragraphs are wrapped
    assert words.index("## Before") < words.index("on NVIDIA H200") < words.index("## After")
    assert "kept\n" in text and text.endswith("## After\n\nalso kept\n")
    assert "| automl n_jobs=2 |" in text and "Fastest: " in text


def _trial(worker: int, start: float, seconds: float) -> optuna.trial.FrozenTrial:
    began = datetime(2026, 1, 1) + timedelta(seconds=start)
    trial = optuna.trial.create_trial(value=0.5, user_attrs={"resources": {"worker": worker, "device": "cuda:0"}})
    trial.datetime_start, trial.datetime_complete = began, began + timedelta(seconds=seconds)
    return trial


def test_engine_rate_counts_the_time_all_workers_ran(gpu):
    # worker 0 runs 10 s trials from 0 s to 100 s; worker 1 starts at 40 s (a late process) and stops at 100 s
    trials = [_trial(0, 10 * i, 10) for i in range(10)] + [_trial(1, 40 + 10 * i, 10) for i in range(6)]
    rates = gpu.engine_rates(trials)
    assert rates["span_s"] == pytest.approx(100)
    assert rates["span"] == pytest.approx(60 * 16 / 100)
    # from 40 s to 100 s both ran: 6 + 6 trials finished in those 60 s
    assert rates["packed"] == pytest.approx(60 * 12 / 60)


def test_engine_rate_falls_back_to_the_span_when_workers_barely_overlap(gpu):
    trials = [_trial(0, 10 * i, 10) for i in range(10)] + [_trial(1, 95, 10)]
    rates = gpu.engine_rates(trials)
    assert rates["packed"] == rates["span"] == pytest.approx(60 * 11 / 105)
    assert gpu.engine_rates([]) == {"span": 0.0, "packed": 0.0, "span_s": 0.0}


def test_docs_say_plainly_whether_the_section_was_measured():
    text = (ROOT / "docs" / "benchmarks.md").read_text()
    section = text.split("## GPU trial packing\n", 1)[1].split("\n## ", 1)[0]
    assert "| variant |" in section or "Not measured yet" in section
