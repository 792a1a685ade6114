#!/usr/bin/env bash
# Creates .venv-slicer-core (Python 3.11) for the Slicer module's slicer-core test tier, pinned by
# slicer_plugin/requirements-slicer-core.txt. Safe to re-run: an up-to-date environment is left as it is.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3.11}"
command -v "$PYTHON" >/dev/null || PYTHON=python3
lock=slicer_plugin/requirements-slicer-core.txt
stamp=.venv-slicer-core/.lock.sha256
want=$(sha256sum "$lock" | cut -d' ' -f1)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  exit 0
fi
[ -x .venv-slicer-core/bin/python ] || "$PYTHON" -m venv .venv-slicer-core
.venv-slicer-core/bin/python -m pip install --quiet --disable-pip-version-check -c "$lock" -r "$lock"
.venv-slicer-core/bin/python -m pip check
.venv-slicer-core/bin/python -c "import slicer; slicer.vtkMRMLScene()"
echo "$want" > "$stamp"
