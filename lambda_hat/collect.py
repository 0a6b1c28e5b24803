"""The results table: one row per job, columns and dtypes defined here once.

A row's ``status`` is ``ok`` for a finished run whose diagnostics are fine, ``suspect`` for one
whose diagnostics say its estimate cannot be trusted (reasons in ``warnings``, see
:mod:`lambda_hat.health`), and ``failed`` for a job that produced no estimate (reason in
``error``). Both front ends (the local runner and Nextflow) write the same rows.
"""

from __future__ import annotations

import io
from pathlib import Path

import pandas as pd
import yaml

from lambda_hat import health, store

#: column -> pandas dtype. Sampler-specific diagnostics follow as extra float columns.
COLUMNS: dict[str, str] = {
    "target_id": "string", "run_id": "string", "sampler": "string", "algorithm": "string",
    "status": "string", "error": "string", "warnings": "string",
    "llc_mean": "float64", "llc_err": "float64", "llc_sem": "float64", "llc_raw": "float64", "llc_std": "float64",
    "ess_bulk": "float64", "ess_tail": "float64", "r_hat": "float64",
    "walltime_sec": "float64", "batch_runs": "Int64", "grad_evals": "Int64", "n": "Int64", "d": "Int64",
    "d_sampled": "Int64",
    "beta": "float64", "gamma": "float64", "chains": "Int64", "draws": "Int64",
    "draws_max": "Int64", "target_rel_mcse": "float64", "llc_rel_mcse": "float64", "stop_reason": "string",
    "llc_true": "float64", "llc_rel_error": "float64",
    "model": "string", "data": "string", "teacher": "string", "seed": "Int64", "checkpoint": "string",
    "config_yaml": "string", "lambda_hat_version": "string", "created_at": "string",
}
DIAGNOSTICS = ("acceptance_rate", "target_acceptance", "divergences", "divergent_fraction", "step_size", "energy_change_var",
               "elbo_final", "pareto_k", "is_ess", "llc_is", "llc_q", "refine_drift", "refine_drift_se",
               "refine_gap", "refine_gap_se", "loss0",
               "llc_min", "grad_norm", "llc_bias", "llc_bias_se")
#: the reason given for a planned job with neither a result nor an error record
NO_RECORD = "no result and no error record: the job's task failed or never ran (see its log)"


def config_yaml(sampler: dict) -> str:
    """The resolved target and sampler specs as YAML (what this row was computed from)."""
    return yaml.safe_dump({"target": sampler["target_spec"], "sampler": sampler["spec"]}, sort_keys=True)


def first_line(text: str | None) -> str:
    lines = (text or "").strip().splitlines()
    return lines[0] if lines else ""


def finished(analysis: dict) -> bool:
    """Whether an ``analysis.json`` holds an estimate (an empty or truncated one does not)."""
    return all(key in analysis for key in store.ANALYSIS_KEYS)


def read_run(run: Path) -> dict | None:
    """The row of one run folder: its analysis (status ok or suspect) or its error record (failed).

    ``None`` for a folder with neither.
    """
    if (run / "analysis.json").is_file():
        row = store.read_json(run / "analysis.json")
        if not finished(row):
            return {**row, "status": "failed", "error": f"{run / 'analysis.json'}: incomplete (no estimate)"}
        row["config_yaml"] = config_yaml(store.read_json(run / "sampler.json"))
        status, warnings = health.verdict(row)
        return {**row, "status": status, "error": None, "warnings": warnings}
    if (run / "error.json").is_file():
        error = store.read_json(run / "error.json")
        row = {k: error.get(k) for k in ("target_id", "run_id", "sampler", "algorithm")}
        if "spec" in error and "target_spec" in error:
            row["config_yaml"] = config_yaml(error)
        return {**row, "status": "failed", "error": first_line(error.get("error"))}
    return None


def scan(runs: list[Path]) -> list[dict]:
    """Rows of these run folders (finished and failed), skipping folders with neither record."""
    return [row for row in (read_run(Path(run)) for run in runs) if row is not None]


def failed_job(job: dict, error: str) -> dict:
    """The row of a planned job that has no run record of its own."""
    return {**{k: job.get(k) for k in ("target_id", "run_id", "sampler", "algorithm", "model", "data",
                                       "teacher", "seed", "checkpoint")}, "status": "failed", "error": error}


def target_failure(store_root: Path | None, target_id: str) -> str:
    """Why a target has no build: its ``error.json`` in the store, if there is one."""
    reason = "its target failed to build"
    if store_root is not None:
        path = store.target_dir(store_root, target_id) / "error.json"
        if path.is_file():
            return f"{reason}: {first_line(store.read_json(path).get('error'))}"
    return reason


def sweep_rows(jobs: list[dict], runs: list[Path], built: set[str], store_root: Path | None = None,
               missing: str = NO_RECORD) -> list[dict]:
    """One row per planned job, in plan order: its run's record, else why there is none."""
    by_run = {store.run_id_of(run): Path(run) for run in runs}
    rows = []
    for job in jobs:
        row = read_run(by_run[job["run_id"]]) if job["run_id"] in by_run else None
        if row is None:
            reason = missing if job["target_id"] in built else target_failure(store_root, job["target_id"])
            row = failed_job(job, reason)
        else:
            row = {**failed_job(job, ""), **row}     # labels of the plan fill what an error record lacks
        rows.append(row)
    return rows


def frame(rows: list[dict]) -> pd.DataFrame:
    """Rows as a typed frame: the fixed columns first, then any sampler diagnostics, sorted stably."""
    extra = [c for c in DIAGNOSTICS if any(c in row for row in rows)]
    table = pd.DataFrame([{c: row.get(c) for c in [*COLUMNS, *extra]} for row in rows],
                         columns=[*COLUMNS, *extra])
    for column, dtype in COLUMNS.items():
        table[column] = table[column].astype(dtype)
    for column in extra:
        table[column] = pd.to_numeric(table[column], errors="coerce").astype("float64")
    return table.sort_values(["target_id", "sampler", "run_id"], kind="stable").reset_index(drop=True)


def status_counts(table: pd.DataFrame) -> dict[str, int]:
    """Rows by status: ``{"ok": n, "suspect": n, "failed": n}`` (what the pipeline's exit status follows)."""
    return {status: int((table["status"] == status).sum()) for status in ("ok", "suspect", "failed")}


def built_targets(store_root: Path, target_ids) -> set[str]:
    """The targets of ``target_ids`` whose build finished in the store."""
    return {t for t in target_ids if (store.target_dir(store_root, t) / "meta.json").is_file()}


def collect(store_root: Path, out: Path, runs: list[Path] | None = None, plan: dict | None = None,
            built: set[str] | None = None, missing: str = NO_RECORD) -> pd.DataFrame:
    """Write the results parquet to ``out`` atomically and return it.

    Without ``plan``: a row for every run folder under ``store_root`` (or in ``runs``). With a
    plan (``plan.json``): exactly one row per planned job, failed ones included; ``built`` names
    the targets that were built (default: those finished in the store); ``missing`` is the reason
    given for a built target's job that left no run folder.
    """
    folders = [Path(r) for r in runs] if runs else store.run_folders(store_root)
    if plan is None:
        if not runs and not Path(store_root).is_dir():
            raise store.StoreError(f"{store_root}: no such store (name it with --store, or give run folders)")
        rows = scan(folders)
    else:
        jobs = plan.get("jobs")
        if jobs is None:
            raise store.StoreError("the plan has no job list (written by an older lambda-hat; run `lambda-hat plan` again)")
        if built is None:
            built = built_targets(store_root, {job["target_id"] for job in jobs})
        rows = sweep_rows(jobs, folders, built, store_root, missing)
    table = frame(rows)
    if table.empty and Path(out).is_file():
        kept = len(pd.read_parquet(out, columns=["run_id"]))
        if kept:
            raise store.StoreError(f"{out}: refusing to replace its {kept} rows with an empty table "
                                   f"(no runs found in {store_root})")
    buffer = io.BytesIO()
    table.to_parquet(buffer, index=False)
    store.write_bytes(Path(out), buffer.getvalue())
    return table
