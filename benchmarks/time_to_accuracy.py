"""Time to accuracy: every sampler at default settings on the DLN set and regular models.

Prints, per target and sampler: λ true, λ̂, relative error, wall time (of the whole stage, of
its compiling and of its warm-up), gradient evaluations in full-batch equivalents, draws kept per chain, the
relative MCSE reached, why the run stopped and its status; then, per sampler, the median and
worst |relative error| and the summed wall time over the deep linear networks.

    python benchmarks/time_to_accuracy.py                         # 6 DLNs (d 48-480) + 2 regular
    python benchmarks/time_to_accuracy.py --cases 0,1 --samplers sgld
    python benchmarks/time_to_accuracy.py --json after.json --compare before.json
    python benchmarks/time_to_accuracy.py --samplers hmc --set hmc.warmup=250 --set hmc.dtype=float32

``--json`` saves the rows; ``--compare`` prints wall-time and error ratios against saved rows.
Each invocation compiles into a fresh, empty compile cache (``--warm`` keeps the user's), so
runs of different versions pay the same compiling.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from pathlib import Path

import yaml

from accuracy import config, override, sampled

# (label, model overrides, teacher) on data n = 10 000, noise sigma = 0.5: six deep linear networks
# with d from 48 to 480 (6-4-6 rank 2 is SGLD's worst case in an independent run), two regular models
CASES = [
    ("dln 6-4-6 r2", {"in_dim": 6, "widths": [4], "out_dim": 6}, {"preset": "dln", "rank": 2}),
    ("dln 5-5-5-5 r1", {"in_dim": 5, "widths": [5, 5], "out_dim": 5}, {"preset": "dln", "rank": 1}),
    ("dln 10-10-10 r2", {"in_dim": 10, "widths": [10], "out_dim": 10}, {"preset": "dln", "rank": 2}),
    ("dln 6-10-10-10-6 r2", {"in_dim": 6, "widths": [10, 10, 10], "out_dim": 6}, {"preset": "dln", "rank": 2}),
    ("dln 8-12-12-8 r3", {"in_dim": 8, "widths": [12, 12], "out_dim": 8}, {"preset": "dln", "rank": 3}),
    ("dln 12-20-12 r5", {"in_dim": 12, "widths": [20], "out_dim": 12}, {"preset": "dln", "rank": 5}),
    ("regular 10→2", {"in_dim": 10, "widths": [], "out_dim": 2}, "_null"),
    ("regular 20→5", {"in_dim": 20, "widths": [], "out_dim": 5}, "_null"),
]
SAMPLERS = ["hmc", "mclmc", "sgld", "vi"]


def full_batch_equivalents(row: dict, spec: dict) -> float:
    """Gradient evaluations counted in full-batch gradients (a minibatch of b rows costs b / n).
    VI's ``batch_size`` is its fit's alone: its refinement (draws and twins) is full batch."""
    settings = spec["settings"]
    batch = settings.get("batch_size", 0)
    share = batch / row["n"] if 0 < batch < row["n"] else 1.0
    if spec["algorithm"] != "vi":
        return row["grad_evals"] * share
    from lambda_hat.samplers import vi

    fit = row["chains"] * settings["steps"] * vi.family(vi.Settings(**settings), row["d_sampled"]).evals_per_step
    return row["grad_evals"] - fit * (1 - share)


class Phases:
    """A progress callback that sums the seconds spent in each phase (compiling, warm-up, sampling)."""

    def __init__(self):
        self.seconds, self._last = {}, None

    def __call__(self, done, total, phase):
        now = time.perf_counter()
        if self._last is not None:
            name, since = self._last
            self.seconds[name] = self.seconds.get(name, 0.0) + now - since
        self._last = ("compiling" if phase.startswith("compiling") else phase, now)

    @property
    def compiling(self) -> float:
        return self.seconds.get("compiling", 0.0)

    @property
    def warming(self) -> float:
        return self.seconds.get("warm-up", 0.0)


def summarize(rows: list[dict]) -> None:
    dln = [row for row in rows if row["label"].startswith("dln")]
    print()
    for name in dict.fromkeys(row["sampler"] for row in rows):
        errors = [abs(row["rel_error"]) for row in dln if row["sampler"] == name]
        wall = sum(row["wall"] for row in dln if row["sampler"] == name)
        if errors:
            print(f"{name:6s} DLNs: median |error| {statistics.median(errors):.1%}, worst {max(errors):.1%}, "
                  f"wall {wall:.0f} s over {len(errors)}")
    print(f"summed wall over the DLNs: {sum(row['wall'] for row in dln):.0f} s "
          f"({len(dln)} runs); everything: {sum(row['wall'] for row in rows):.0f} s")


def compare(rows: list[dict], before: list[dict]) -> None:
    earlier = {(row["label"], row["sampler"]): row for row in before}
    print("\nagainst", len(before), "saved rows: wall before → after (ratio), |error| before → after")
    totals = [0.0, 0.0]
    for row in rows:
        old = earlier.get((row["label"], row["sampler"]))
        if old is None:
            continue
        if row["label"].startswith("dln"):
            totals[0] += old["wall"]
            totals[1] += row["wall"]
        print(f"  {row['label']:20s} {row['sampler']:6s} {old['wall']:7.1f} → {row['wall']:6.1f} s "
              f"({old['wall'] / row['wall']:.1f}×)   {abs(old['rel_error']):.1%} → {abs(row['rel_error']):.1%}")
    if totals[1]:
        print(f"  DLNs summed: {totals[0]:.0f} → {totals[1]:.0f} s ({totals[0] / totals[1]:.1f}× faster)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samplers", default=",".join(SAMPLERS))
    parser.add_argument("--cases", default="", help="comma-separated case indices")
    parser.add_argument("--json", type=Path, help="save the rows here")
    parser.add_argument("--compare", type=Path, help="rows saved by an earlier --json")
    parser.add_argument("--set", action="append", default=[], metavar="SAMPLER.KEY=VALUE",
                        help="override a sampler setting (repeatable), to time settings other than the defaults")
    parser.add_argument("--warm", action="store_true", help="use the user's compile cache, not a fresh one")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="lambda_hat_tta_"))
    if not args.warm:
        os.environ["LAMBDA_HAT_CACHE_DIR"] = str(work / "jax_cache")
    from lambda_hat import runtime

    runtime.configure()
    from lambda_hat.config import load
    from lambda_hat.config.plan import sampler_document

    cases = [CASES[int(i)] for i in args.cases.split(",")] if args.cases else CASES
    samplers = args.samplers.split(",")
    path = work / "experiments.yaml"
    document = config(cases, samplers)
    override(document["samplers"], args.set)
    path.write_text(yaml.safe_dump(document))
    experiments = load(path)
    print(f"{'target':20s} {'d':>4s} {'sampler':6s} {'λ':>7s} {'λ̂':>8s} {'error':>7s} {'wall s':>7s} "
          f"{'compile':>7s} {'warm-up':>7s} {'grads':>8s} {'draws':>5s} {'mcse':>6s} stop / status", flush=True)
    rows = []
    for label, plan, row, wall, phases in sampled(cases, experiments.targets, lambda _: experiments.samplers,
                                                  work / "store", progress=Phases):
        document = sampler_document(plan)
        rel_mcse = row["llc_sem"] / abs(row["llc_mean"]) if row.get("llc_sem") else float("nan")
        rows.append({"label": label, "sampler": plan.name, "d": row["d"], "llc_true": row["llc_true"],
                     "llc": row["llc_mean"], "rel_error": row["llc_rel_error"], "wall": wall,
                     "compile": phases.compiling, "warmup": phases.warming, "grads": full_batch_equivalents(row, document["spec"]),
                     "draws": row["draws"], "rel_mcse": rel_mcse, "stop": row.get("stop_reason", "fixed"),
                     "status": row["status"]})
        r = rows[-1]
        print(f"{label:20s} {r['d']:4d} {plan.name:6s} {r['llc_true']:7.2f} {r['llc']:8.2f} "
              f"{r['rel_error']:+7.1%} {wall:7.1f} {r['compile']:7.1f} {r['warmup']:7.1f} {r['grads']:8.0f} {r['draws']:5d} "
              f"{rel_mcse:6.2%} {r['stop']} / {r['status']}", flush=True)
    summarize(rows)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))
    if args.compare:
        compare(rows, json.loads(args.compare.read_text()))


if __name__ == "__main__":
    main()
