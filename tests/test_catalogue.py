"""docs/plugins.md carries the catalogue of built-in plugins that scripts/catalogue.py generates from the code."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

import automl

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.skipif(importlib.util.find_spec("transformers") is None,
                    reason="the catalogue lists the pretrained models, which need the transformers extra")
def test_the_catalogue_in_the_docs_is_up_to_date() -> None:
    env = {k: v for k, v in os.environ.items() if k != "AUTOML_PRETRAINED"}  # the packaged checkpoint's ranges
    done = subprocess.run([sys.executable, str(ROOT / "scripts" / "catalogue.py"), "--check"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr


def test_the_catalogue_lists_every_builtin_plugin() -> None:
    doc = (ROOT / "docs" / "plugins.md").read_text(encoding="utf-8")
    table = doc[doc.index("<!-- catalogue:start -->"):doc.index("<!-- catalogue:end -->")]
    for record in automl.discover().records:
        if record.builtin:
            assert f"| `{record.name}` | {record.kind} |" in table, record.name
