#!/usr/bin/env bash
# The test command: sets up .venv from the lock file, checks style, runs the whole suite.
# Extra arguments go to pytest, e.g. scripts/test.sh -m "not slow" -x
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/setup_slicer_core.sh  # the Slicer module's slicer-core tier (tests/slicer_plugin/test_slicer_core_tier.py)
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/lint-imports --no-cache
.venv/bin/python -m pytest "$@"
