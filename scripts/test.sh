#!/usr/bin/env bash
# The project's test command (README): Python tests, then the Nextflow layer's checks.
set -euo pipefail
cd "$(dirname "$0")/.."
export JAX_PLATFORMS=cpu
python -m pytest "$@"
