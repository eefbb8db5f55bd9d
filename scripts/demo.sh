#!/usr/bin/env bash
# Quick start, part 1: install into .venv and run the demo (simulated ONTAP cluster + exporter).
# Extra arguments go to `ndo-exporter demo` (e.g. --listen 127.0.0.1:9940 --interval 10).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
exec .venv/bin/ndo-exporter demo "$@"
