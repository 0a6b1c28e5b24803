"""The results table: one row per finished run, columns and dtypes defined here once."""

from __future__ import annotations

import io
from pathlib import Path

import pandas as pd
import yaml

from lambda_hat import store

#: column -> pandas dtype. Sampler-specific diagnostics follow as extra float columns.
COLUMNS: dict[str, str] = {
    "target_id": "string", "run_id": "string", "sampler": "string", "algorithm": "string",
    "llc_mean": "float64", "llc_std": "float64", "llc_sem": "float64",
    "ess_bulk": "float64", "ess_tail": "float64", "r_hat": "float64",
    "walltime_sec": "float64", "grad_evals": "Int64", "n": "Int64", "d": "Int64",
    "beta": "float64", "gamma": "float64", "chains": "Int64", "draws": "Int64",
    "llc_true": "float64", "llc_rel_error": "float64",
    "model": "string", "data": "string", "teacher": "string", "seed": "Int64",
    "config_yaml": "string", "lambda_hat_version": "string", "created_at": "string",
}
DIAGNOSTICS = ("acceptance_rate", "divergences", "step_size", "energy_change_var", "elbo_final", "loss0")


def config_yaml(sampler: dict) -> str:
    """The resolved target and sampler specs as YAML (what this row was computed from)."""
    return yaml.safe_dump({"target": sampler["target_spec"], "sampler": sampler["spec"]}, sort_keys=True)


def run_folders(store_root: Path) -> list[Path]:
    """Every ``run_*`` folder under ``<store>/targets/*/``."""
    return sorted(Path(store_root).glob("targets/tgt_*/run_*/"))


def scan(runs: list[Path]) -> tuple[list[dict], list[dict]]:
    """``(rows of finished runs, failures)`` of these run folders.

    A failure is ``{target_id, run_id, sampler, error}`` from an ``error.json`` with no analysis.
    """
    rows, failures = [], []
    for run in runs:
        if (run / "analysis.json").is_file():
            row = store.read_json(run / "analysis.json")
            row["config_yaml"] = config_yaml(store.read_json(run / "sampler.json"))
            rows.append(row)
        elif (run / "error.json").is_file():
            error = store.read_json(run / "error.json")
            failures.append({k: error.get(k) for k in ("target_id", "run_id", "sampler", "error")})
    return rows, failures


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


def collect(store_root: Path, out: Path, runs: list[Path] | None = None) -> tuple[pd.DataFrame, list[dict]]:
    """Write the parquet of every finished run under ``store_root`` (or of ``runs``) to ``out``, atomically."""
    rows, failures = scan([Path(r) for r in runs] if runs else run_folders(store_root))
    table = frame(rows)
    buffer = io.BytesIO()
    table.to_parquet(buffer, index=False)
    store.write_bytes(Path(out), buffer.getvalue())
    return table, failures
