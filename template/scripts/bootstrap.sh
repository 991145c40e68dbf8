#!/bin/sh
# Thin wrapper: run scripts/bootstrap.py with python3 (or $PYTHON).
set -e
cd "$(dirname "$0")/.."
exec "${PYTHON:-python3}" scripts/bootstrap.py "$@"
