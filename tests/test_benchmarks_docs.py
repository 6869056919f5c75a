"""benchmarks/_docs.py: the machine line and the two ways a benchmark rewrites its section of docs/benchmarks.md."""

from __future__ import annotations

import pytest
from bench_support import benchmark_module

MARKERS = ("<!-- x.py: begin -->", "<!-- x.py: end -->")


@pytest.fixture(scope="module")
def docs():
    with benchmark_module("_docs.py", "benchmarks_docs") as module:
        yield module


def test_machine_line_names_each_distribution_and_says_when_one_is_missing(docs):
    line = docs.machine_line(("optuna", "no-such-distribution-x"))
    assert "logical CPUs" in line and "Python " in line
    assert line.endswith("no-such-distribution-x not installed") and "optuna not installed" not in line
    assert "load average" in docs.load_line()


def test_write_section_replaces_its_section_up_to_the_next_of_its_level(docs, tmp_path):
    doc = tmp_path / "benchmarks.md"
    doc.write_text("# Benchmarks\n\nintro\n\n## Data size\n\nold\n\n### Subsection\n\nold too\n\n## After\n\nkept\n")
    for _ in range(2):  # writing again replaces, never appends a second section
        docs.write_section("## Data size", "new\n", doc)
    assert doc.read_text() == "# Benchmarks\n\nintro\n\n## Data size\n\nnew\n\n## After\n\nkept\n"


def test_write_section_appends_a_missing_section(docs, tmp_path):
    doc = tmp_path / "benchmarks.md"
    doc.write_text("# Benchmarks\n\n## Data sizes of old\n\nkept\n")
    docs.write_section("## Data size", "new", doc)
    assert doc.read_text() == "# Benchmarks\n\n## Data sizes of old\n\nkept\n\n## Data size\n\nnew\n"


def test_write_generated_replaces_only_the_text_between_its_markers(docs, tmp_path):
    doc = tmp_path / "benchmarks.md"
    before = "# Benchmarks\n\n## Peers\n\nHand-written lead.\n\n"
    after = "\n\nHand-written reading.\n\n## After\n\nkept\n"
    doc.write_text(f"{before}{MARKERS[0]}\nold table\n{MARKERS[1]}{after}")
    for _ in range(2):
        docs.write_generated("## Peers", "new table", MARKERS, doc)
    assert doc.read_text() == f"{before}{MARKERS[0]}\nnew table\n{MARKERS[1]}{after}"


def test_write_generated_puts_its_markers_under_the_heading_or_appends_the_section(docs, tmp_path):
    doc = tmp_path / "benchmarks.md"
    doc.write_text("# Benchmarks\n\n## Peers\n\nHand-written reading.\n\n## Peers, older\n\nkept\n")
    docs.write_generated("## Peers", "table", MARKERS, doc)
    assert doc.read_text() == (f"# Benchmarks\n\n## Peers\n\n{MARKERS[0]}\ntable\n{MARKERS[1]}\n\nHand-written "
                               "reading.\n\n## Peers, older\n\nkept\n")
    doc.write_text("# Benchmarks\n\n## Peers, older\n\nkept\n")
    docs.write_generated("## Peers", "table", MARKERS, doc)
    docs.write_generated("## Peers", "table again", MARKERS, doc)
    assert doc.read_text() == ("# Benchmarks\n\n## Peers, older\n\nkept\n\n"
                               f"## Peers\n\n{MARKERS[0]}\ntable again\n{MARKERS[1]}\n")
