#!/usr/bin/env bash
# The project's test command (README, .ci/run): the Python tests (the Nextflow layer's static
# checks included), then nf-test where Nextflow and nf-test are installed.
set -euo pipefail
cd "$(dirname "$0")/.."
export JAX_PLATFORMS=cpu
if command -v java >/dev/null; then
    bash tests/nextflow/get_nflang.sh || echo "warning: could not fetch the nf-lang jar; Nextflow static checks will be skipped" >&2
fi
python -m pytest "$@"
if command -v nextflow >/dev/null && command -v nf-test >/dev/null; then
    echo "== nf-test (Nextflow $(nextflow -version 2>/dev/null | grep -o 'version [0-9.]*' | head -1))"
    nf-test test --profile test,local
else
    echo "== nf-test SKIPPED: nextflow and/or nf-test are not on PATH here; the pipeline was checked"
    echo "   statically only (nf-lang lint + wiring checks in tests/nextflow). Run nf-test on a host with Nextflow."
fi
