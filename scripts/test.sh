#!/usr/bin/env bash
# The test command (README, CI): set up what is missing, lint, run the whole suite.
# Extra arguments go to pytest, e.g. `bash scripts/test.sh -k vocab` or `-m "not slow"`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh convert,dev
.venv/bin/ruff check .
exec .venv/bin/python -m pytest "$@"
