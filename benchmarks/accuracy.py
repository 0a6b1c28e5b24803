"""Accuracy of every sampler at default settings against known learning coefficients.

Prints, per target and sampler: lambda_true, lambda_hat, relative error, wall time, gradient
evaluations, status (and VI's Pareto k-hat); then the median |relative error| per sampler. Deep linear networks (Aoyagi) and
regular models (d/2), n = 10 000.

    python benchmarks/accuracy.py                     # the standard set (long on 2 cores)
    python benchmarks/accuracy.py --quick             # the two smallest cases
    python benchmarks/accuracy.py --samplers hmc,sgld --markdown
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

import yaml

from lambda_hat import runtime

# (label, model overrides, teacher) on data n = 10 000, noise sigma = 0.5
CASES = [
    ("regular 10→2", {"in_dim": 10, "widths": [], "out_dim": 2}, "_null"),
    ("dln 5-5-5-5 r1", {"in_dim": 5, "widths": [5, 5], "out_dim": 5}, {"preset": "dln", "rank": 1}),
    ("dln 10-10-10 r2", {"in_dim": 10, "widths": [10], "out_dim": 10}, {"preset": "dln", "rank": 2}),
    ("dln 8-16-16-8 r3", {"in_dim": 8, "widths": [16, 16], "out_dim": 8}, {"preset": "dln", "rank": 3}),
    ("dln 20-20-20-20 r5", {"in_dim": 20, "widths": [20, 20], "out_dim": 20}, {"preset": "dln", "rank": 5}),
    ("dln 30-40-40-30 r10", {"in_dim": 30, "widths": [40, 40], "out_dim": 30}, {"preset": "dln", "rank": 10}),
]
SAMPLERS = ["hmc", "nuts", "mclmc", "sgld", "vi", "vi_flow"]


def config(cases, samplers) -> dict:
    targets = []
    for _, model, teacher in cases:
        linear = {"activation": "identity", "bias": False} if teacher != "_null" else {}
        targets.append({"model": "dln", "data": "large", "teacher": teacher, "seed": 1,
                        "overrides": {"model": {**model, **linear}}})
    return {"targets": targets, "samplers": [{"name": name} for name in samplers]}


def override(entries: list[dict], items: list[str]) -> None:
    """Apply ``--set SAMPLER.KEY=VALUE`` items (the value read as YAML) to the sampler entries of
    that name among ``entries``; an unknown sampler name is an error."""
    for item in items:
        name_key, value = item.split("=", 1)
        name, key = name_key.split(".", 1)
        chosen = [entry for entry in entries if entry["name"] == name]
        if not chosen:
            raise SystemExit(f"--set {item}: no sampler {name!r} in this run")
        for entry in chosen:
            entry.setdefault("overrides", {})[key] = yaml.safe_load(value)


def sampled(cases, targets, plans_for, store: Path, progress=None):
    """Build each target and run its sampler plans: yields ``(label, plan, analysis row, seconds,
    progress callback)`` per run that finished; a failure is printed and skipped. ``plans_for(label)``
    gives a target's plans; ``progress()`` makes a fresh callback per run (or none)."""
    import time

    from lambda_hat.config.plan import sampler_document, target_document
    from lambda_hat.sampling import sample
    from lambda_hat.store import read_json
    from lambda_hat.targets import build

    for (label, _, _), target in zip(cases, targets):
        folder, _ = build(target_document(target), store)
        for plan in plans_for(label):
            callback = progress() if progress else None
            started = time.perf_counter()
            try:
                run, _ = sample(folder, sampler_document(plan), progress=callback)
            except Exception as err:  # noqa: BLE001 - a benchmark reports failures and goes on
                print(f"  {label} {plan.name}: FAILED {err}", file=sys.stderr)
                continue
            yield label, plan, read_json(run / "analysis.json"), time.perf_counter() - started, callback


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="only the two smallest cases")
    parser.add_argument("--samplers", default=",".join(SAMPLERS))
    parser.add_argument("--cases", default="", help="comma-separated case indices")
    parser.add_argument("--markdown", action="store_true", help="print a markdown table")
    args = parser.parse_args()
    runtime.configure()
    from lambda_hat.config import load

    cases = CASES[:2] if args.quick else CASES
    if args.cases:
        cases = [CASES[int(i)] for i in args.cases.split(",")]
    samplers = args.samplers.split(",")
    work = Path(tempfile.mkdtemp(prefix="lambda_hat_accuracy_"))
    path = work / "experiments.yaml"
    path.write_text(yaml.safe_dump(config(cases, samplers)))
    experiments = load(path)
    header = "| target | d | sampler | λ true | λ̂ | rel. error | wall s | grad evals | status | k̂ |"
    print(header if args.markdown else header.replace("|", " ").strip(), flush=True)
    if args.markdown:
        print("|---|---|---|---|---|---|---|---|---|---|")
    errors: dict[str, list[float]] = {name: [] for name in samplers}
    for label, plan, row, _, _ in sampled(cases, experiments.targets, lambda _: experiments.samplers, work / "store"):
        errors[plan.name].append(abs(row["llc_rel_error"]))
        cells = [label, row["d"], plan.name, f"{row['llc_true']:.2f}", f"{row['llc_mean']:.2f}",
                 f"{row['llc_rel_error']:+.1%}", f"{row['walltime_sec']:.1f}", f"{row['grad_evals']:,}",
                 row["status"], "–" if row.get("pareto_k") is None else f"{row['pareto_k']:.2f}"]
        print(("| " + " | ".join(map(str, cells)) + " |") if args.markdown else "  ".join(map(str, cells)),
              flush=True)
    print()
    for name, values in errors.items():
        if values:
            print(f"median |relative error| {name}: {statistics.median(values):.1%} over {len(values)} targets")


if __name__ == "__main__":
    main()
