#!/usr/bin/env bash
# Install Chromium (Debian's `chromium` package, without its recommended desktop packages) when it is missing and
# this user can: tests/test_dashboard.py loads optuna-dashboard's pages in headless Chromium and checks what they
# show. Measured on Debian 12: 19 packages, 117 MB downloaded, 374 MB installed, 16 s. Without it that test is
# skipped (CI sets AUTOML_REQUIRE_BROWSER=1 to fail it instead).
set -euo pipefail
if command -v chromium >/dev/null || command -v chromium-browser >/dev/null; then
  exit 0
fi
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
  echo "note: Chromium is not installed (Debian: apt-get install chromium); the dashboard's browser test will be skipped" >&2
  exit 0
fi
apt-get update -qq
# fonts-liberation (a recommendation of chromium-common) gives screenshots the usual web fonts
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium fonts-liberation >/dev/null
