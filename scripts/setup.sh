#!/usr/bin/env bash
# Creates .venv (Python 3.11) and installs ptxseg with the exact versions of requirements-lock.txt, and the
# federated extra (NVIDIA FLARE) with those of requirements-federated-lock.txt, so its tests run too.
# Safe to re-run: an up-to-date .venv is left as it is (the lock file's hash is remembered).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3.11}"
command -v "$PYTHON" >/dev/null || PYTHON=python3
stamp=.venv/.ptxseg-lock.sha256
want=$(cat requirements-lock.txt requirements-federated-lock.txt pyproject.toml | sha256sum | cut -d' ' -f1)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  exit 0
fi
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install --quiet --disable-pip-version-check -c requirements-lock.txt -r requirements-lock.txt
.venv/bin/python -m pip install --quiet --disable-pip-version-check -c requirements-lock.txt -r requirements-federated-lock.txt
.venv/bin/python -m pip install --quiet --disable-pip-version-check --no-deps -e .
.venv/bin/python -m pip check
echo "$want" > "$stamp"
