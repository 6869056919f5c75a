#!/usr/bin/env bash
# Install PostgreSQL's server programs (Debian's `postgresql` package) when they are missing and this user can:
# the test suite starts its own throw-away server on 127.0.0.1 (tests/conftest.py) and stops it after. Debian's
# default cluster is not created, so nothing else is left running. Without them the PostgreSQL tests are skipped
# (CI sets AUTOML_REQUIRE_POSTGRES=1 to fail them instead).
set -euo pipefail
if ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  exit 0
fi
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
  echo "note: PostgreSQL's server is not installed (Debian: apt-get install postgresql); its tests will be skipped" >&2
  exit 0
fi
mkdir -p /etc/postgresql-common
grep -qs '^create_main_cluster' /etc/postgresql-common/createcluster.conf \
  || echo 'create_main_cluster = false' >> /etc/postgresql-common/createcluster.conf
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
