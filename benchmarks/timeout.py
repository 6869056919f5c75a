#!/usr/bin/env python
"""Does ``automl search --timeout S`` end on time? Wall time of the command, from its start to its exit.

For each task and budget, ``automl search --task T --timeout S -q`` runs on the task's default data in a fresh
temporary directory (its own SQLite file), ``--repeats`` times; the wall time is measured around the whole
process (``time.perf_counter`` before ``Popen``, after ``wait``), so interpreter start-up, imports, data loading,
the trials and the exit all count. With ``--old PATH`` (the ``automl`` executable of another installation, e.g. an
older commit's venv) the same commands run with it too, alternating, in the same run.

Usage: ``.venv/bin/python benchmarks/timeout.py [--tasks tabular,nlp] [--budgets 30] [--repeats 2] [--old PATH]
[--write]`` (results: docs/benchmarks.md, "Time limits").
"""

from __future__ import annotations

import argparse
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _docs import header, write_generated  # noqa: E402

NEW = Path(sys.executable).with_name("automl")
#: Where the results go in docs/benchmarks.md (the section's hand-written reading stays outside them).
MARKERS = ("<!-- timeout.py: generated, from here -->", "<!-- timeout.py: generated, to here -->")


def run_once(automl: Path, task: str, budget: float) -> tuple[float, dict[str, int]]:
    """Wall seconds of one ``automl search --timeout`` command and its study's trials by state."""
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "t.db"
        command = [str(automl), "search", "--task", task, "--timeout", f"{budget:g}", "--storage",
                   f"sqlite:///{db}", "--study", "t", "-q"]
        start = time.perf_counter()
        done = subprocess.run(command, cwd=tmp, capture_output=True, text=True)
        wall = time.perf_counter() - start
        if done.returncode != 0 and "no trial completed" not in done.stderr:  # (exit 1 when none completed)
            raise SystemExit(f"{' '.join(command)} failed ({done.returncode}):\n{done.stderr[-2000:]}")
        with sqlite3.connect(db) as con:
            states = dict(con.execute("SELECT state, COUNT(*) FROM trials GROUP BY state").fetchall())
    return wall, {str(k).lower(): v for k, v in states.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", default="tabular,nlp")
    parser.add_argument("--budgets", default="30")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--old", type=Path, default=None, help="another installation's automl executable")
    parser.add_argument("--write", action="store_true", help="update docs/benchmarks.md")
    args = parser.parse_args()
    began = time.perf_counter()
    sides = {"this commit": NEW, **({"old": args.old} if args.old else {})}
    walls: dict[tuple[str, str, float], list[float]] = {}
    trials: dict[tuple[str, str, float], list[dict[str, int]]] = {}
    for task in args.tasks.split(","):
        for budget in (float(b) for b in args.budgets.split(",")):
            for _ in range(args.repeats):
                for side, exe in sides.items():
                    wall, states = run_once(exe, task, budget)
                    walls.setdefault((side, task, budget), []).append(wall)
                    trials.setdefault((side, task, budget), []).append(states)
                    print(f"{side:12} {task:8} --timeout {budget:g}: {wall:6.2f} s {states}", flush=True)
    rows = ["| code | task | --timeout s | wall s (each run) | over the limit s (worst) | trials (each run) |",
            "|---|---|---:|---|---:|---|"]
    for (side, task, budget), values in walls.items():
        states = "; ".join(", ".join(f"{n} {s}" for s, n in sorted(st.items())) for st in trials[side, task, budget])
        rows.append(f"| {side} | {task} | {budget:g} | {', '.join(f'{w:.1f}' for w in values)} | "
                    f"{max(values) - budget:+.1f} | {states} |")
    command = "python benchmarks/timeout.py " + " ".join(sys.argv[1:])
    over = {side: statistics.median(w - b for (s, _, b), values in walls.items() if s == side for w in values)
            for side in sides}
    body = "\n".join([header(command.strip(), time.perf_counter() - began), "", *rows, "",
                      "Median over the limit: " + "; ".join(f"{side} {o:+.1f} s" for side, o in over.items()) + "."])
    print(body)
    if args.write:
        write_generated("## Time limits", body, MARKERS)


if __name__ == "__main__":
    main()
