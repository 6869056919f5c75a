"""What every benchmark script shares: the machine line of its results and the section of docs/benchmarks.md it
rewrites (``--write``), whole or only between its markers."""

from __future__ import annotations

import importlib.metadata as metadata
import os
import platform
import re
import subprocess
from collections.abc import Sequence
from datetime import date
from pathlib import Path

__all__ = ["DOCS", "header", "load_line", "machine_line", "versions", "write_generated", "write_section"]

#: The results file of every benchmark.
DOCS = Path(__file__).resolve().parent.parent / "docs" / "benchmarks.md"


def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "not installed"


def versions(dists: Sequence[str]) -> str:
    """Each of ``dists`` with its installed version ("not installed" if it is not), comma-separated."""
    return ", ".join(f"{d} {_version(d)}" for d in dists)


def machine_line(dists: Sequence[str] = ("automl", "optuna", "scikit-learn", "torch")) -> str:
    """The machine and library versions, in one line: CPUs, OS, Python, then each of ``dists``."""
    return (f"{os.cpu_count()} logical CPUs, {platform.platform(terse=True)}, Python {platform.python_version()}; "
            + versions(dists))


def load_line() -> str:
    """What ``uptime`` prints (time, users, load averages), or the load averages alone where it cannot run."""
    try:
        return subprocess.run(["uptime"], capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "load average: %.2f, %.2f, %.2f" % os.getloadavg()


def header(command: str, seconds: float, dists: Sequence[str] = ("automl", "optuna", "scikit-learn", "torch")) -> str:
    """The first line of a results section: the command, the date, the machine, the load and the run's length."""
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    return (f"`{command}`, {date.today().isoformat()}, on this machine ({machine_line(dists)}); load average {load} "
            f"at the end, {seconds:.0f} s in all.")


def write_section(heading: str, body: str, doc: Path = DOCS) -> None:
    """Replace the section ``heading`` (e.g. ``"## Time limits"``) of ``doc`` — up to the next heading of the same
    level — with ``heading`` and ``body``, or append it at the end."""
    lines = doc.read_text().splitlines()
    level = heading.split(" ", 1)[0] + " "
    block = [heading, "", *body.strip("\n").splitlines(), ""]
    if heading in lines:
        first = lines.index(heading)
        last = next((i for i in range(first + 1, len(lines)) if lines[i].startswith(level)), len(lines))
        lines[first:last] = block
    else:
        lines += ["", *block]
    doc.write_text("\n".join(lines).rstrip("\n") + "\n")


def write_generated(heading: str, generated: str, markers: tuple[str, str], doc: Path = DOCS) -> None:
    """Put ``generated`` between the ``markers`` (begin, end) of ``doc``'s section ``heading``, keeping the
    section's hand-written text outside them: in place of the old generated text if the markers are there, right
    under the heading if they are not, in a new section at the end of ``doc`` if the heading is missing too."""
    begin, end = markers
    text = doc.read_text()
    block = f"{begin}\n{generated}\n{end}"
    under = re.search(rf"^{re.escape(heading)}\n", text, re.M)
    if begin in text and end in text:
        head, rest = text.split(begin, 1)
        text = head + block + rest.split(end, 1)[1]
    elif under:
        text = f"{text[:under.end()]}\n{block}\n{text[under.end():]}"
    else:
        text = text.rstrip("\n") + f"\n\n{heading}\n\n{block}\n"
    doc.write_text(text)
