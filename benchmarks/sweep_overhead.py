"""Overhead of the local sweep runner, and what batching runs saves.

Three measurements, each in a fresh folder with its own JAX compilation cache:

    python benchmarks/sweep_overhead.py [--config FILE] [--jobs N]
        cold and warm cache: wall time against the runs' own time (`walltime_sec`) and the builds'
    python benchmarks/sweep_overhead.py --batching [--config FILE] [--layouts map,vmap]
        warm cache: every run alone (`--batch 1`) against batched runs, per batch layout
        (LAMBDA_HAT_BATCH_LAYOUT); e.g. --config benchmarks/sweeps/sampler_hyper.yaml
    python benchmarks/sweep_overhead.py --seeds 10 [--layouts map,vmap]
        warm cache: SGLD on one deep linear network (d = 500, n = 10 000) with 1 seed and with 10
        seeds, unbatched and batched: the 10-seed sweep's wall time over the 1-seed sweep's

Numbers of the same seed are compared too: batched runs must equal their unbatched selves
(layout `map`; `vmap` agrees to rounding).
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
import yaml

ROOT = Path(__file__).resolve().parents[1]
DLN_500 = {"model": "dln", "data": {"preset": "base", "n": 10000}, "teacher": {"preset": "dln", "rank": 2},
           "seed": 7, "overrides": {"model": {"in_dim": 10, "widths": [20, 10], "out_dim": 10}}}


def sweep(folder: Path, config: dict | Path, *extra: str, layout: str = "map") -> tuple[float, pd.DataFrame, float]:
    """Run the local runner in ``folder`` (cache in ``folder/../jax-cache``): ``(wall s, table, builds s)``."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "experiments.yaml"
    if isinstance(config, Path):
        shutil.copy(config, path)
    else:
        path.write_text(yaml.safe_dump(config, sort_keys=False))
    env = {**os.environ, "LAMBDA_HAT_CACHE_DIR": str(folder.parent / "jax-cache"), "JAX_PLATFORMS": "cpu",
           "LAMBDA_HAT_BATCH_LAYOUT": layout}
    command = [sys.executable, "-m", "lambda_hat.cli", "workflow", "llc", "--local", "--config", "experiments.yaml",
               *extra]
    started = time.perf_counter()
    result = subprocess.run(command, cwd=folder, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - started
    if result.returncode not in (0, 1):
        sys.exit(result.stderr[-3000:])
    table = pd.read_parquet(folder / "results" / "llc_runs.parquet")
    builds = sum(json.loads(p.read_text())["walltime_sec"] for p in (folder / "runs").glob("targets/*/meta.json"))
    return wall, table, builds


def overhead(args) -> None:
    work = Path(tempfile.mkdtemp(prefix="lambda_hat_sweep_"))
    print(f"{'cache':<6} {'wall s':>8} {'sampling s':>11} {'builds s':>9} {'overhead s':>11} {'overhead':>9} {'runs':>5}")
    for label, extra in (("cold", []), ("warm", ["--force"])):
        wall, table, builds = sweep(work / "sweep", args.config, "--jobs", str(args.jobs), *extra)
        sampling = float(table["walltime_sec"].sum())
        left = wall - sampling - builds        # --force rebuilds the targets too
        print(f"{label:<6} {wall:>8.1f} {sampling:>11.1f} {builds:>9.1f} {left:>11.1f} {left / wall:>9.0%} {len(table):>5}")
    print(f"(sweep: {args.config}, --jobs {args.jobs}; work folder {work})")


def same_numbers(first: pd.DataFrame, second: pd.DataFrame) -> str:
    """How the estimates of the same runs compare: identical, or the largest relative difference."""
    merged = first.merge(second, on="run_id", suffixes=("_a", "_b"))
    a, b = merged["llc_mean_a"], merged["llc_mean_b"]
    if (a == b).all():
        return "identical"
    return f"max rel diff {float(((a - b).abs() / b.abs()).max()):.1e}"


def batching(args) -> None:
    work = Path(tempfile.mkdtemp(prefix="lambda_hat_batching_"))
    sweep(work / "warm", args.config)                               # fills the compilation cache
    alone, table, _ = sweep(work / "alone", args.config, "--batch", "1")
    print(f"{'runs':<24} {'wall s':>8} {'ratio':>7}  numbers")
    print(f"{'each alone (--batch 1)':<24} {alone:>8.1f} {1:>7.2f}")
    for layout in args.layouts:
        sweep(work / f"warm-{layout}", args.config, layout=layout)
        wall, batched, _ = sweep(work / layout, args.config, layout=layout)
        print(f"{'batched, ' + layout:<24} {wall:>8.1f} {wall / alone:>7.2f}  {same_numbers(batched, table)}")
    print(f"(sweep: {args.config}, {len(table)} runs; warm cache; work folder {work})")


def seeds(args) -> None:
    work = Path(tempfile.mkdtemp(prefix="lambda_hat_seeds_"))
    config = {"targets": [DLN_500], "samplers": [{"name": "sgld", "overrides": {"seed": s}} for s in range(args.seeds)]}
    one = {**config, "samplers": config["samplers"][:1]}
    sweep(work / "warm", config)                                     # builds nothing later: fills the cache
    for layout in args.layouts:
        sweep(work / f"warm-{layout}", config, layout=layout)
    single, single_table, _ = sweep(work / "one", one)
    print(f"{'sweep':<32} {'wall s':>8} {'x 1 seed':>9}  numbers of seed 0..")
    print(f"{'1 seed':<32} {single:>8.1f} {1:>9.2f}")
    alone, table, _ = sweep(work / "alone", config, "--batch", "1")
    print(f"{f'{args.seeds} seeds, each alone':<32} {alone:>8.1f} {alone / single:>9.2f}  {same_numbers(single_table, table)}")
    for layout in args.layouts:
        wall, batched, _ = sweep(work / layout, config, layout=layout)
        print(f"{f'{args.seeds} seeds, batched ({layout})':<32} {wall:>8.1f} {wall / single:>9.2f}  "
              f"{same_numbers(batched, table)}")
    print(f"(SGLD defaults on a DLN with d = 500, n = 10 000; warm cache; work folder {work})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, default=ROOT / "config" / "experiments.yaml")
    parser.add_argument("--jobs", type=int, default=1)
    parser.add_argument("--batching", action="store_true", help="compare every run alone with batched runs")
    parser.add_argument("--seeds", type=int, default=0, help="compare a sweep of this many SGLD seeds with one seed")
    parser.add_argument("--layouts", default="map,vmap", help="batch layouts to measure (comma-separated)")
    args = parser.parse_args()
    args.layouts = [layout for layout in args.layouts.split(",") if layout]
    if args.seeds:
        seeds(args)
    elif args.batching:
        batching(args)
    else:
        overhead(args)


if __name__ == "__main__":
    main()
