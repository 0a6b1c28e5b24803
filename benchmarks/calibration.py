"""Calibration of the error bars: does a row's ``llc_err`` cover its distance from the exact local
posterior, and does ``ok`` mean it does?

On networks the defaults were never tuned on (``HELD_OUT``; the tuning set is
``time_to_accuracy.CASES``), a long HMC run per target is the reference: the exact local
posterior's λ̂ at this n and w*, to a relative MCSE of ``--reference-mcse``. Then every sampler at
its defaults over ``--seeds`` seeds. Prints each row (λ̂, its distance from the reference in
units of ``llc_err``, status), then per sampler: the share of ``ok`` rows within 2 ``llc_err`` of
the reference, the worst ``ok`` miss in units of ``llc_err``, the share of rows ``ok``, and the
median and worst |error| against the true λ.

    python benchmarks/calibration.py                          # the held-out set, 3 seeds (hours on 2 cores)
    python benchmarks/calibration.py --cases 0,1 --seeds 2 --samplers sgld,hmc
    python benchmarks/calibration.py --tuning                 # the tuning set instead
    python benchmarks/calibration.py --json rows.json         # keep the rows
    python benchmarks/calibration.py --references refs.json   # reuse (or save) the HMC references
    python benchmarks/calibration.py --references benchmarks/references.json   # those of docs/accuracy.md
    python benchmarks/calibration.py --first-seed 4 --seeds 2 --json more.json   # seeds 4 and 5
    python benchmarks/calibration.py --report rows.json more.json            # the summary of both
    python benchmarks/calibration.py --samplers vi --set vi.twins=8          # settings other than the defaults

The reference carries its own MCSE; a row is "covered" when |λ̂ − ref| ≤ 2 √(llc_err² + ref_sem²).
A saved reference keeps the loss at the w* it ran at (``loss0``); a row whose w* has another loss
(a target built differently, by other code or on another machine) is refused rather than judged
against it. ``benchmarks/references.json`` holds the held-out references that docs/accuracy.md's
tables use since section *The references themselves*.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import tempfile
from pathlib import Path

import yaml

from accuracy import config, override, sampled
from time_to_accuracy import CASES as TUNING

# (label, model overrides, teacher) on n = 10 000: deep linear networks that no default was chosen on
HELD_OUT = [
    ("dln 3-7-7-3 r1", {"in_dim": 3, "widths": [7, 7], "out_dim": 3}, {"preset": "dln", "rank": 1}),
    ("dln 9-5-9 r2", {"in_dim": 9, "widths": [5], "out_dim": 9}, {"preset": "dln", "rank": 2}),
    ("dln 14-10-6 r3", {"in_dim": 14, "widths": [10], "out_dim": 6}, {"preset": "dln", "rank": 3}),
    ("dln 5-16-16-5 r4", {"in_dim": 5, "widths": [16, 16], "out_dim": 5}, {"preset": "dln", "rank": 4}),
    ("dln 4-8-8-4 r2", {"in_dim": 4, "widths": [8, 8], "out_dim": 4}, {"preset": "dln", "rank": 2}),
    ("dln 20-12-20 r6", {"in_dim": 20, "widths": [12], "out_dim": 20}, {"preset": "dln", "rank": 6}),
]
SAMPLERS = ["sgld", "mclmc", "hmc", "vi"]


def covered(row: dict, reference: dict) -> float:
    """How far a row's λ̂ is from the reference, in units of its combined error bar."""
    bar = math.hypot(row.get("llc_err", row["llc_sem"]), reference["llc_sem"])
    return abs(row["llc_mean"] - reference["llc_mean"]) / bar if bar > 0 else math.inf


#: the relative difference in L(w*) within which a saved reference is for the same target (a float32
#: sampler's L(w*) differs from the float64 reference's by about 1e-7)
SAME_LOSS = 1e-6

#: what a saved reference keeps of its run
KEPT = ("llc_mean", "llc_sem", "draws", "walltime_sec", "llc_true", "d", "status", "warnings", "loss0",
        "target_rel_mcse", "code_version")


def same_target(label: str, reference: dict, row: dict) -> None:
    """Refuse a saved reference made at another w* than the row's (their losses at w* differ)."""
    saved = reference.get("loss0")
    if saved is not None and not math.isclose(saved, row["loss0"], rel_tol=SAME_LOSS):
        raise SystemExit(f"the saved reference for {label} ran at L(w*) = {saved:.12g}, this build of the target has "
                         f"{row['loss0']:.12g}: another w*. Run without --references, or with a new file, to make one.")


def base(sampler: str) -> str:
    """A sampler's name without the overrides its label shows (``sgld[seed=2]`` is ``sgld``)."""
    return sampler.split("[", 1)[0]


def report(rows: list[dict]) -> None:
    print()
    print(f"{'sampler':8s} {'ok':>7s} {'ok within 2 err':>16s} {'worst ok miss':>14s} "
          f"{'median |err| vs λ':>18s} {'worst':>7s}")
    for name in dict.fromkeys(base(row["sampler"]) for row in rows):
        mine = [row for row in rows if base(row["sampler"]) == name]
        ok = [row for row in mine if row["status"] == "ok"]
        inside = sum(row["misses"] <= 2 for row in ok)
        worst = max((row["misses"] for row in ok), default=float("nan"))
        errors = [abs(row["rel_error"]) for row in mine]
        print(f"{name:8s} {len(ok):3d}/{len(mine):<3d} {inside:6d}/{len(ok):<3d} ({inside / max(len(ok), 1):4.0%}) "
              f"{worst:13.1f}  {statistics.median(errors):17.1%} {max(errors):7.1%}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samplers", default=",".join(SAMPLERS))
    parser.add_argument("--cases", default="", help="comma-separated case indices")
    parser.add_argument("--seeds", type=int, default=3, help="seeds per sampler and target")
    parser.add_argument("--first-seed", type=int, default=1, help="the first of the seeds (more rows for rows saved before)")
    parser.add_argument("--tuning", action="store_true", help="the tuning set (time_to_accuracy.CASES), not the held-out one")
    parser.add_argument("--reference-mcse", type=float, default=0.003, help="the HMC reference's relative MCSE target")
    parser.add_argument("--json", type=Path, help="save the rows here")
    parser.add_argument("--report", type=Path, nargs="+", help="only print the summary of rows saved by --json (one or more files)")
    parser.add_argument("--set", action="append", default=[], metavar="SAMPLER.KEY=VALUE",
                        help="override a sampler setting (repeatable) of the runs measured, not of the reference")
    parser.add_argument("--references", type=Path,
                        help="HMC references by target: read from this file where it has them, saved to it otherwise "
                             "(to compare versions of the code against one reference)")
    args = parser.parse_args()
    if args.report:
        return report([row for path in args.report for row in json.loads(path.read_text())])
    from lambda_hat import runtime

    runtime.configure()
    from lambda_hat.config import load

    pool = [case for case in (TUNING if args.tuning else HELD_OUT) if case[2] != "_null"]
    cases = [pool[int(i)] for i in args.cases.split(",")] if args.cases else pool
    samplers = args.samplers.split(",")
    work = Path(tempfile.mkdtemp(prefix="lambda_hat_calibration_"))
    document = config(cases, [])
    reference = {"name": "hmc", "overrides": {"target_rel_mcse": args.reference_mcse, "draws": 40000}}
    runs = [reference] + [{"name": name, "overrides": {"seed": seed}} for name in samplers for seed in range(args.first_seed, args.first_seed + args.seeds)]
    override(runs[1:], args.set)                 # the settings measured, never the reference's
    document["samplers"] = runs
    path = work / "experiments.yaml"
    path.write_text(yaml.safe_dump(document))
    experiments = load(path)
    print(f"{'target':18s} {'d':>4s} {'sampler':8s} {'seed':>4s} {'λ':>7s} {'ref':>8s} {'λ̂':>8s} {'err':>6s} "
          f"{'miss':>5s} {'vs λ':>7s} status", flush=True)
    rows, saved, refs = [], {}, {}

    def plans_for(label: str) -> list:
        """The reference run first, unless one is saved for this target (read afresh: another
        version's run may have saved it meanwhile)."""
        saved.update(json.loads(args.references.read_text()) if args.references and args.references.exists() else {})
        if label in saved:
            refs[label] = saved[label]
            return experiments.samplers[1:]
        return experiments.samplers

    for label, plan, row, _, _ in sampled(cases, experiments.targets, plans_for, work / "store"):
        ref = refs.get(label)
        if ref is None:
            ref = refs[label] = saved[label] = {key: row.get(key) for key in KEPT}
            if args.references:
                args.references.write_text(json.dumps(saved, indent=1))
            print(f"{label:18s} {row['d']:4d} {'ref hmc':8s} {'':4s} {row['llc_true']:7.2f} {row['llc_mean']:8.3f} "
                  f"± {row['llc_sem']:.3f} ({row['draws']} draws, {row['walltime_sec']:.0f} s, {row['status']}"
                  f"{': ' + row['warnings'] if row.get('warnings') else ''})", flush=True)
            continue
        same_target(label, ref, row)
        seed = plan.spec["settings"]["seed"]
        misses = covered(row, ref)
        rows.append({"label": label, "sampler": plan.name, "seed": seed, "d": row["d"], "llc_true": row["llc_true"],
                     "reference": ref["llc_mean"], "reference_sem": ref["llc_sem"], "llc_mean": row["llc_mean"],
                     "llc_err": row.get("llc_err", row["llc_sem"]), "misses": misses, "rel_error": row["llc_rel_error"],
                     "status": row["status"], "warnings": row.get("warnings")})
        print(f"{label:18s} {row['d']:4d} {plan.name:8s} {seed:4d} {row['llc_true']:7.2f} {ref['llc_mean']:8.3f} "
              f"{row['llc_mean']:8.3f} {rows[-1]['llc_err']:6.3f} {misses:5.1f} {row['llc_rel_error']:+7.1%} "
              f"{row['status']}", flush=True)
    report(rows)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
