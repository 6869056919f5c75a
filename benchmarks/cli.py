#!/usr/bin/env python
"""How fast does the command line answer? Wall time of ``automl --help``, ``automl plugins list`` and
``automl studies``, each a fresh process, from its start to its exit.

A small study is made first (not timed): ``automl search --task tabular --models linear --n-trials 3 --folds 2``
into a SQLite file in a temporary directory, which ``automl studies --storage`` then lists. Each command runs
``--repeats`` times, the commands interleaved (and, with ``--old PATH``, the other installation's ``automl``
executable alternating with this one's), in the temporary directory; the wall time is taken around the whole
process (``time.perf_counter`` before the start, after the exit), so interpreter start-up, imports, plugin
discovery and the output all count. The children's CPU time (user + system, ``getrusage``) is reported too: on a
shared machine it varies less than the wall time. ``python -c pass`` gives the floor: the interpreter alone.

Usage: ``.venv/bin/python benchmarks/cli.py [--repeats 7] [--old PATH] [--write]`` (results: docs/benchmarks.md,
"Instant CLI").
"""

from __future__ import annotations

import argparse
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _docs import header, write_section  # noqa: E402

NEW = Path(sys.executable).with_name("automl")
#: Target wall time of each command on the 2-core machine (issue 11), seconds; ``None``: a reference, no target.
TARGETS: dict[str, float | None] = {"python -c pass": None, "automl --help": 0.3, "automl plugins list": 1.0,
                                    "automl studies": 1.0}


def commands(automl: Path, url: str) -> dict[str, list[str]]:
    """The command lines measured, by name (``python -c pass`` runs the installation's own interpreter)."""
    return {"python -c pass": [str(automl.with_name("python")), "-c", "pass"],
            "automl --help": [str(automl), "--help"],
            "automl plugins list": [str(automl), "plugins", "list"],
            "automl studies": [str(automl), "studies", "--storage", url]}


def run_once(command: list[str], cwd: str) -> tuple[float, float]:
    """``(wall s, CPU s)`` of one run of ``command``; a failed run stops the benchmark."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(command, cwd=cwd, capture_output=True, text=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed ({done.returncode}):\n{done.stderr[-2000:]}")
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def make_study(automl: Path, tmp: str) -> str:
    """The storage URL of a 3-trial study made in ``tmp``."""
    url = f"sqlite:///{Path(tmp) / 'studies.db'}"
    command = [str(automl), "search", "--task", "tabular", "--models", "linear", "--n-trials", "3", "--folds", "2",
               "--storage", url, "--study", "cli-bench", "-q"]
    done = subprocess.run(command, cwd=tmp, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed ({done.returncode}):\n{done.stderr[-2000:]}")
    return url


def spread(values: list[float]) -> str:
    """``median (min-max)``."""
    return f"{statistics.median(values):.2f} ({min(values):.2f}-{max(values):.2f})"


def ratio(values: dict[tuple[str, str], list[float]], name: str) -> float:
    """Median of this commit's runs of ``name`` over the old installation's."""
    return statistics.median(values["this commit", name]) / statistics.median(values["old", name])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--old", type=Path, default=None, help="another installation's automl executable")
    parser.add_argument("--write", action="store_true", help="update docs/benchmarks.md")
    args = parser.parse_args()
    began = time.perf_counter()
    sides = {"this commit": NEW, **({"old": args.old} if args.old else {})}
    walls: dict[tuple[str, str], list[float]] = {}
    cpus: dict[tuple[str, str], list[float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        url = make_study(NEW, tmp)
        for _ in range(args.repeats):
            for side, exe in sides.items():
                for name, command in commands(exe, url).items():
                    wall, cpu = run_once(command, tmp)
                    walls.setdefault((side, name), []).append(wall)
                    cpus.setdefault((side, name), []).append(cpu)
                    print(f"{side:12} {name:22} wall {wall:5.2f} s  CPU {cpu:5.2f} s", flush=True)
    rows = ["| code | command | wall s, median (range) | CPU s, median (range) | target s | met |",
            "|---|---|---|---|---:|---|"]
    for (side, name), values in walls.items():
        target = TARGETS[name]
        met = "-" if target is None else "yes" if statistics.median(values) <= target else "**no**"
        rows.append(f"| {side} | `{name}` | {spread(values)} | {spread(cpus[side, name])} | "
                    f"{'-' if target is None else f'{target:g}'} | {met} |")
    if args.old:
        ratios = [f"`{name}` {ratio(walls, name):.2f} (CPU {ratio(cpus, name):.2f})" for name in TARGETS]
        rows += ["", "This commit / old, medians: " + "; ".join(ratios) + "."]
    command = ("python benchmarks/cli.py " + " ".join(sys.argv[1:])).strip()
    body = "\n".join([header(command, time.perf_counter() - began), "",
                      f"Each command a fresh process, {args.repeats} runs interleaved; `automl studies` lists a "
                      "3-trial SQLite study.", "", *rows])
    print(body)
    if args.write:
        write_section("## Instant CLI", body)


if __name__ == "__main__":
    main()
