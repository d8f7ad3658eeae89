#!/usr/bin/env bash
# The main job, offline: every pipeline on scikit-learn's embedded digits, side by side.
source "$(dirname "$0")/_venv.sh"
exec .venv/bin/featpipe bench configs/quickstart.yaml --out runs/quickstart "$@"
