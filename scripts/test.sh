#!/usr/bin/env bash
# Quick start, part 2: install everything the tests need and run the whole suite.
# - Debian's prometheus package (promtool, prometheus) and prometheus-alertmanager, when missing
#   and we are root (CI and the project's machines are): the end-to-end tests use the real binaries.
# - .venv with ndo-exporter and its test extras.
# Then: ruff, mypy, pytest. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v promtool >/dev/null 2>&1 || ! command -v prometheus-alertmanager >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "== installing Debian's prometheus and prometheus-alertmanager"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      prometheus prometheus-alertmanager >/dev/null
  else
    echo "!! promtool not found and cannot apt-get install it: tests that need it will fail" >&2
  fi
fi
echo "== setting up .venv"
scripts/setup.sh test
echo "== ruff"
.venv/bin/ruff check .
echo "== mypy"
.venv/bin/mypy
echo "== pytest"
exec .venv/bin/python -m pytest -q -p no:cacheprovider "$@"
