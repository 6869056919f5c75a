"""Write the catalogue of built-in plugins into docs/plugins.md, from the installed plugins themselves.

The table sits between the ``<!-- catalogue:start -->`` and ``<!-- catalogue:end -->`` markers. Each plugin's
searched parameters come from random draws of its own search space (:func:`automl.space.explore`), so the table
cannot drift from the code; ``tests/test_catalogue.py`` fails when it has.

    .venv/bin/python scripts/catalogue.py           # rewrite the table
    .venv/bin/python scripts/catalogue.py --check   # exit 1 if the table is out of date
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import automl
from automl.registry import PluginRecord
from automl.space import describe, explore

DOC = Path(__file__).resolve().parents[1] / "docs" / "plugins.md"
START, END = "<!-- catalogue:start -->", "<!-- catalogue:end -->"
ORDER = {"model": 0, "optimizer": 1, "regularizer": 2}


def row(record: PluginRecord) -> str:
    """One table row: name, kind, what it applies to, and its searched parameters with their ranges."""
    params = "; ".join(f"`{name}` {describe(dist)}" for name, dist in explore(record).items())
    return f"| `{record.name}` | {record.kind} | {record.applies_to} | {params or '(none)'} |"


def table() -> str:
    """The markdown table of every built-in plugin that loads here, models first."""
    records = sorted((r for r in automl.discover().records if r.builtin and r.ok),
                     key=lambda r: (ORDER[r.kind], r.applies_to if r.kind == "model" else "", r.name))
    lines = ["| plugin | kind | applies to | searched parameters |", "|---|---|---|---|"]
    return "\n".join(lines + [row(r) for r in records])


def render(text: str) -> str:
    """``text`` (the doc) with the table between the markers replaced by the current one."""
    pattern = re.compile(f"{re.escape(START)}.*?{re.escape(END)}", re.DOTALL)
    if not pattern.search(text):
        raise SystemExit(f"{DOC}: markers {START} ... {END} not found")
    return pattern.sub(lambda _: f"{START}\n{table()}\n{END}", text)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if docs/plugins.md is out of date")
    args = parser.parse_args()
    text = DOC.read_text(encoding="utf-8")
    new = render(text)
    if args.check:
        if new != text:
            print(f"{DOC} is out of date: run python scripts/catalogue.py", file=sys.stderr)
            return 1
        return 0
    DOC.write_text(new, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
