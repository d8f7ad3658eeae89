#!/usr/bin/env bash
# Run featpipe's test suite in ./.venv, creating and filling it first if needed.
EXTRAS=test
source "$(dirname "$0")/_venv.sh"
exec .venv/bin/python -m pytest "$@"
