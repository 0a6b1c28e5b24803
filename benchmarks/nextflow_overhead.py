"""The same sweep through Nextflow and through the local runner: wall time, ratio, per-task start-up.

Runs a sweep (default: config/experiments.yaml) three times in one fresh folder, all with the same
JAX compilation cache: once with the local runner to warm the cache (not timed), then timed, the
local runner (`lambda-hat workflow llc --local --force`) and `nextflow run main.nf -profile local`
(each task one `lambda-hat` process; the local profile runs tasks one at a time on 2 CPUs, like
the local runner's single worker). Prints both wall times, their ratio, and for every Nextflow task
its run time against the work it did (a build's or a run's own `walltime_sec`); the difference is
that task's start-up (process start, imports, JAX initialisation, reading its inputs, writing and
publishing its outputs).

    python benchmarks/nextflow_overhead.py [--config FILE] [--nextflow CMD] [--runs_per_task N]

A RUN_SAMPLER task holds up to --runs_per_task runs of one target (the pipeline's default; 1 gives
a task per run, as before batching).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def timed(command: list[str], cwd: Path, env: dict) -> float:
    started = time.perf_counter()
    result = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(f"{shlex.join(command)} failed:\n{result.stdout[-3000:]}{result.stderr[-3000:]}")
    return time.perf_counter() - started


def seconds(text: str) -> float:
    """A trace duration such as ``12.3s``, ``1m 4s``, ``850ms``."""
    total = 0.0
    for part in text.split():
        for unit, scale in (("ms", 0.001), ("s", 1), ("m", 60), ("h", 3600)):
            if part.endswith(unit) and part[: -len(unit)].replace(".", "").isdigit():
                total += float(part[: -len(unit)]) * scale
                break
    return total


def own_seconds(workdir: Path) -> float | None:
    """What a build or a run task reports as its own time: its output's meta.json, or the sum over
    its runs' analysis.json (a run's walltime_sec is its share of its batch's time)."""
    for pattern in ("targets/*/run_*/analysis.json", "targets/*/meta.json"):
        found = list(workdir.glob(pattern))
        if found:
            return sum(json.loads(path.read_text())["walltime_sec"] for path in found)
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, default=ROOT / "config" / "experiments.yaml")
    parser.add_argument("--nextflow", default=shutil.which("nextflow") or f"bash {ROOT / 'scripts' / 'nextflow'}")
    parser.add_argument("--runs_per_task", type=int, default=None, help="passed to the pipeline (default: its own)")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="lambda_hat_nf_"))
    config = work / "config" / "experiments.yaml"
    config.parent.mkdir()
    shutil.copy(args.config, config)
    cache = work / "jax-cache"
    env = {**os.environ, "LAMBDA_HAT_CACHE_DIR": str(cache), "JAX_PLATFORMS": "cpu", "NXF_ANSI_LOG": "false"}
    local = [sys.executable, "-m", "lambda_hat.cli", "workflow", "llc", "--local", "--config", str(config)]
    print(f"warming the compilation cache in {work} ...", file=sys.stderr)
    (work / "local").mkdir()
    timed(local, work / "local", env)
    local_wall = timed([*local, "--force"], work / "local", env)
    (work / "nf").mkdir()
    nextflow = [*shlex.split(args.nextflow), "run", str(ROOT / "main.nf"), "-profile", "local",
                "--config", str(config), "--compilation_cache", str(cache), "--outdir", "results",
                *(["--runs_per_task", str(args.runs_per_task)] if args.runs_per_task else [])]
    nf_wall = timed(nextflow, work / "nf", env)

    outdir = work / "nf" / "results"
    with open(sorted((outdir / "pipeline_info").glob("execution_trace_*.txt"))[-1], newline="") as handle:
        tasks = list(csv.DictReader(handle, delimiter="\t"))
    print(f"{'task':<60} {'realtime s':>10} {'own work s':>10} {'start-up s':>10}")
    startups, task_time = [], 0.0
    for task in tasks:
        real = seconds(task["realtime"])
        own = own_seconds(next((work / "nf" / "work").glob(f"{task['hash']}*")))
        startup = real - own if own is not None else None
        if startup is not None:
            startups.append(startup)
            task_time += real
        nan = float("nan")
        print(f"{task['name'][:60]:<60} {real:>10.1f} {own if own is not None else nan:>10.1f} "
              f"{startup if startup is not None else nan:>10.1f}")
    print()
    print(f"local runner wall {local_wall:.1f} s, Nextflow wall {nf_wall:.1f} s, ratio {nf_wall / local_wall:.2f}")
    if startups:
        print(f"per-task start-up: median {statistics.median(startups):.1f} s, "
              f"total {sum(startups):.1f} s over {len(startups)} build/run tasks: "
              f"{sum(startups) / task_time:.0%} of their task time, {sum(startups) / nf_wall:.0%} of the Nextflow wall time")
    print(f"(sweep {args.config}; warm compilation cache; work folder {work})")


if __name__ == "__main__":
    main()
