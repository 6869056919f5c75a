#!/usr/bin/env bash
# The GPU check, as one command for a lent GPU machine (which has torch but not optuna and friends, and no network).
# Here, first:   ../shared/device/wheels.sh hatchling editables pathspec pluggy trove-classifiers threadpoolctl skops
#                 prettytable safetensors
# There (from the repository root, with .whl carried):   bash scripts/gpu_check.sh
# Writes the report to $OUT/gpu_check.md when $OUT is set.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m pip install -q --no-index --no-deps --no-compile --target /tmp/site .whl/*.whl
export PYTHONPATH=/tmp/site${PYTHONPATH:+:$PYTHONPATH}
python3 -m pip install -q --no-index --no-deps --no-build-isolation --target /tmp/site .
python3 scripts/gpu_check.py ${OUT:+--out "$OUT/gpu_check.md"} "$@"
