#!/usr/bin/env bash
# The project's test command (README, .ci/run): the Python tests, the Nextflow layer's static
# checks, and real Nextflow runs of the pipeline (local and through a one-node SLURM where root
# can start one); then nf-test where it is installed.
#   bash scripts/test.sh                   # everything (18 minutes on 2 cores, two workers)
#   bash scripts/test.sh -m "not nextflow"  # day-to-day: all but the Nextflow runs
set -euo pipefail
cd "$(dirname "$0")/.."
export JAX_PLATFORMS=cpu
if command -v java >/dev/null; then
    bash tests/nextflow/get_nflang.sh || echo "warning: could not fetch the nf-lang jar; Nextflow static checks will be skipped" >&2
    if ! command -v nextflow >/dev/null && command -v mvn >/dev/null; then
        bash scripts/nextflow -version >/dev/null || echo "warning: could not install Nextflow from Maven Central; pipeline runs will be skipped" >&2
    fi
fi
# two pytest-xdist workers, each taking whole test files (--dist loadfile): a file's tests share
# their module fixtures and run one after another (the Nextflow runs of test_pipeline.py among
# them); LAMBDA_HAT_TEST_WORKERS=0 runs everything in this one process
python -m pytest -n "${LAMBDA_HAT_TEST_WORKERS:-2}" --dist loadfile "$@"
if command -v nextflow >/dev/null && command -v nf-test >/dev/null; then
    echo "== nf-test (Nextflow $(nextflow -version 2>/dev/null | grep -o 'version [0-9.]*' | head -1))"
    nf-test test --profile test,local
else
    echo "== nf-test SKIPPED: nf-test is not installed (it is in no registry our machines reach). The pipeline"
    echo "   itself ran above with real Nextflow (tests/nextflow/test_pipeline.py) unless those tests were skipped or deselected."
fi
