"""Overhead of the local sweep runner: total wall time against the jobs' own sampling time.

Runs `lambda-hat workflow llc --local` on a sweep (default: config/experiments.yaml) in a fresh
folder, first with an empty compilation cache (cold), then again with --force and the cache
warm. Prints wall time, the sum of the runs' `walltime_sec` (sampling incl. in-process compile),
the sum of build times, and what is left (start-up, imports, I/O, planning, collect).

    python benchmarks/sweep_overhead.py [--config FILE] [--jobs N]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, default=ROOT / "config" / "experiments.yaml")
    parser.add_argument("--jobs", type=int, default=1)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="lambda_hat_sweep_"))
    shutil.copy(args.config, work / "experiments.yaml")
    env = {**os.environ, "LAMBDA_HAT_CACHE_DIR": str(work / "jax-cache"), "JAX_PLATFORMS": "cpu"}
    command = [sys.executable, "-m", "lambda_hat.cli", "workflow", "llc", "--local",
               "--config", "experiments.yaml", "--jobs", str(args.jobs)]
    print(f"{'cache':<6} {'wall s':>8} {'sampling s':>11} {'builds s':>9} {'overhead s':>11} {'overhead':>9} {'runs':>5}")
    for label, extra in (("cold", []), ("warm", ["--force"])):
        started = time.perf_counter()
        result = subprocess.run(command + extra, cwd=work, env=env, capture_output=True, text=True)
        wall = time.perf_counter() - started
        if result.returncode not in (0, 1):
            sys.exit(result.stderr)
        table = pd.read_parquet(work / "results" / "llc_runs.parquet")
        builds = sum(json.loads(p.read_text())["walltime_sec"] for p in (work / "runs").glob("targets/*/meta.json"))
        sampling = float(table["walltime_sec"].sum())
        built = builds       # --force rebuilds the targets too
        overhead = wall - sampling - built
        print(f"{label:<6} {wall:>8.1f} {sampling:>11.1f} {built:>9.1f} {overhead:>11.1f} {overhead / wall:>9.0%} {len(table):>5}")
    print(f"(sweep: {args.config}, --jobs {args.jobs}; work folder {work})")


if __name__ == "__main__":
    main()
