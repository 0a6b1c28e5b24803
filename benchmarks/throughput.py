"""Sampling throughput: chain-steps per second for SGLD and HMC on MLPs of ~1e3, 1e4, 1e5 parameters.

4 chains, float32 and float64, n = 1 000. For each case: compile share (first call minus a second,
already-compiled call, over the first), chain-steps and gradient evaluations per second. Then the
persistent compilation cache: the same job in two fresh processes sharing an empty cache folder.

    python benchmarks/throughput.py            # all sizes
    python benchmarks/throughput.py --quick    # ~1e3 and ~1e4 only
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

SIZES = {  # label: hidden widths, in_dim
    "1e3": ([32, 20], 10),
    "1e4": ([100, 80], 20),
    "1e5": ([300, 250], 50),
}
SAMPLERS = {
    "hmc": {"chains": 4, "warmup": 20, "draws": 40, "num_integration_steps": 8},
    "sgld": {"chains": 4, "warmup": 200, "draws": 400, "thin": 1, "batch_size": 256},
}


def experiments(sizes) -> dict:
    targets = [{"model": "small", "data": "base", "seed": 0,
                "overrides": {"model": {"in_dim": in_dim, "widths": widths, "out_dim": 1},
                              "training": {"steps": 200}}} for widths, in_dim in (SIZES[s] for s in sizes)]
    samplers = [{"name": name, "overrides": {**settings, "dtype": dtype}}
                for name, settings in SAMPLERS.items() for dtype in ("float32", "float64")]
    return {"targets": targets, "samplers": samplers}


def steps_of(settings: dict) -> int:
    return settings["chains"] * (settings["warmup"] + settings["draws"] * settings.get("thin", 1))


def measure(sizes) -> None:
    from lambda_hat import runtime

    runtime.configure()
    from lambda_hat.config import load
    from lambda_hat.config.plan import sampler_document, target_document
    from lambda_hat.sampling import estimate
    from lambda_hat.store import read_target as load_target
    from lambda_hat.targets import build

    work = Path(tempfile.mkdtemp(prefix="lambda_hat_throughput_"))
    (work / "e.yaml").write_text(yaml.safe_dump(experiments(sizes)))
    plan = load(work / "e.yaml")
    print(f"{'d':>7} {'sampler':<6} {'dtype':<8} {'first s':>8} {'again s':>8} {'compile':>8} "
          f"{'chain-steps/s':>14} {'grad evals/s':>13}", flush=True)
    for target in plan.targets:
        loaded = load_target(build(target_document(target), work / "store")[0])
        for sampler in plan.samplers:
            spec = sampler_document(sampler)["spec"]
            started = time.perf_counter()
            estimate(*loaded, spec)
            first = time.perf_counter() - started
            started = time.perf_counter()
            fields, _ = estimate(*loaded, spec)
            again = time.perf_counter() - started
            settings = spec["settings"]
            print(f"{fields['d']:>7} {spec['algorithm']:<6} {settings['dtype']:<8} {first:>8.2f} {again:>8.2f} "
                  f"{max(0.0, first - again) / first:>8.0%} {steps_of(settings) / again:>14,.0f} "
                  f"{fields['grad_evals'] / again:>13,.0f}", flush=True)


def second_process() -> None:
    """The same small job in two fresh processes sharing one (initially empty) cache folder."""
    cache = tempfile.mkdtemp(prefix="lambda_hat_cache_")
    env = {**os.environ, "LAMBDA_HAT_CACHE_DIR": cache, "JAX_PLATFORMS": "cpu"}
    times = []
    for attempt in ("cold cache", "warm cache"):
        started = time.perf_counter()
        subprocess.run([sys.executable, __file__, "--one-job"], env=env, check=True)
        times.append(time.perf_counter() - started)
        print(f"process with {attempt}: {times[-1]:.1f} s (whole process: imports, build, compile, sample)")
    files = sum(1 for _ in Path(cache).rglob("*") if _.is_file())
    print(f"second process / first: {times[1] / times[0]:.2f}  ({files} cache entries in {cache})")


def one_job() -> None:
    from lambda_hat import runtime

    runtime.configure()
    from lambda_hat.config import load
    from lambda_hat.config.plan import sampler_document, target_document
    from lambda_hat.sampling import estimate
    from lambda_hat.store import read_target as load_target
    from lambda_hat.targets import build

    work = Path(tempfile.mkdtemp(prefix="lambda_hat_one_"))
    config = {"targets": [{"model": "base", "data": "base", "seed": 0}],
              "samplers": [{"name": "hmc", "overrides": {"warmup": 50, "draws": 50}}]}
    (work / "e.yaml").write_text(yaml.safe_dump(config))
    plan = load(work / "e.yaml")
    loaded = load_target(build(target_document(plan.targets[0]), work / "store")[0])
    estimate(*loaded, sampler_document(plan.samplers[0])["spec"])


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--one-job", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one_job:
        one_job()
    else:
        measure(["1e3", "1e4"] if args.quick else list(SIZES))
        print()
        second_process()
