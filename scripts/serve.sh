#!/usr/bin/env bash
# The main job: sets up .venv from the lock file, then serves the MONAI Label app on http://127.0.0.1:8000.
# Without arguments it serves a built-in demo of synthetic chest X-rays; pass e.g. --studies DIR for real data.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
exec .venv/bin/ptxseg serve "$@"
