"""The results table of a sweep: one row per planned job, whatever happened to it."""

from __future__ import annotations

import pandas as pd
import pytest

from lambda_hat import collect, store

JOB = {"target_id": "tgt_aaaaaaaaaaaa", "sampler_id": "smp_1", "run_id": "111111111111", "sampler": "hmc",
       "algorithm": "hmc", "model": "tiny", "data": "tiny", "teacher": "_null", "seed": 1}
ANALYSIS = {"target_id": JOB["target_id"], "run_id": JOB["run_id"], "sampler": "hmc", "algorithm": "hmc",
            "llc_mean": 2.5, "llc_err": 0.05, "llc_std": 1.0, "llc_sem": 0.05, "ess_bulk": 800.0, "r_hat": 1.001, "chains": 4}
SAMPLER = {"spec": {"algorithm": "hmc"}, "target_spec": {"seed": 1}}


def job(run_id: str, target_id: str = JOB["target_id"], sampler: str = "hmc") -> dict:
    return {**JOB, "run_id": run_id, "target_id": target_id, "sampler": sampler}


def run_folder(root, run_id: str, analysis: dict | None = None, error: str | None = None):
    folder = root / "targets" / JOB["target_id"] / f"run_{run_id}"
    store.write_json(folder / "sampler.json", SAMPLER)
    if analysis is not None:
        store.write_json(folder / "analysis.json", {**analysis, "run_id": run_id})
    if error is not None:
        store.write_json(folder / "error.json", {"target_id": JOB["target_id"], "run_id": run_id, "sampler": "sgld",
                                                 "error": error + "\ntraceback line", **SAMPLER})
    return folder


def test_every_planned_job_gets_one_row(tmp_path):
    run_folder(tmp_path, "111111111111", ANALYSIS)
    run_folder(tmp_path, "222222222222", {**ANALYSIS, "r_hat": 1.3})
    run_folder(tmp_path, "333333333333", error="SamplerFailure: 60 of 60 draws are NaN or inf")
    run_folder(tmp_path, "444444444444", {"target_id": JOB["target_id"]})            # truncated analysis
    plan = {"jobs": [job("111111111111"), job("222222222222"), job("333333333333", sampler="sgld"),
                     job("444444444444"), job("555555555555", sampler="vi"),
                     job("666666666666", target_id="tgt_bbbbbbbbbbbb")]}
    store.write_json(tmp_path / "targets" / "tgt_bbbbbbbbbbbb" / "error.json", {"error": "FloatingPointError: boom"})
    table = collect.collect(tmp_path, tmp_path / "out.parquet", plan=plan, built={JOB["target_id"]})
    assert list(table.columns[: len(collect.COLUMNS)]) == list(collect.COLUMNS)
    rows = table.set_index("run_id")
    assert rows.loc["111111111111", "status"] == "ok" and pd.isna(rows.loc["111111111111", "warnings"])
    assert rows.loc["222222222222", "status"] == "suspect" and "R-hat 1.3" in rows.loc["222222222222", "warnings"]
    assert rows.loc["333333333333", "status"] == "failed"
    assert rows.loc["333333333333", "error"] == "SamplerFailure: 60 of 60 draws are NaN or inf"
    assert rows.loc["444444444444", "status"] == "failed" and "incomplete" in rows.loc["444444444444", "error"]
    assert rows.loc["555555555555", "error"] == collect.NO_RECORD and rows.loc["555555555555", "model"] == "tiny"
    assert rows.loc["666666666666", "error"] == "its target failed to build: FloatingPointError: boom"
    assert rows.loc[rows["status"] == "failed", "llc_mean"].isna().all()
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "out.parquet"), table)


def test_runs_outside_the_plan_are_not_in_the_sweeps_table(tmp_path):
    run_folder(tmp_path, "111111111111", ANALYSIS)
    run_folder(tmp_path, "999999999999", ANALYSIS)
    table = collect.collect(tmp_path, tmp_path / "out.parquet", plan={"jobs": [job("111111111111")]}, built=set())
    assert list(table["run_id"]) == ["111111111111"]
    everything = collect.collect(tmp_path, tmp_path / "all.parquet")
    assert sorted(everything["run_id"]) == ["111111111111", "999999999999"]


def test_built_targets_default_to_the_store(tmp_path):
    store.write_json(tmp_path / "targets" / JOB["target_id"] / "meta.json", {"target_id": JOB["target_id"]})
    table = collect.collect(tmp_path, tmp_path / "out.parquet", plan={"jobs": [job("111111111111")]})
    assert table["error"].iloc[0] == collect.NO_RECORD


def test_a_plan_without_jobs_is_refused(tmp_path):
    with pytest.raises(store.StoreError, match="no job list"):
        collect.collect(tmp_path, tmp_path / "out.parquet", plan={"targets": []})


def test_a_mistyped_store_never_empties_a_table(tmp_path):
    run_folder(tmp_path, "111111111111", ANALYSIS)
    out = tmp_path / "results.parquet"
    collect.collect(tmp_path, out)
    with pytest.raises(store.StoreError, match="typo: no such store"):
        collect.collect(tmp_path / "typo", out)
    (tmp_path / "empty").mkdir()
    with pytest.raises(store.StoreError, match="refusing to replace its 1 rows with an empty table"):
        collect.collect(tmp_path / "empty", out)
    assert len(pd.read_parquet(out)) == 1


def test_files_follow_the_umask(tmp_path):
    import os

    previous = os.umask(0o022)
    try:
        store.write_json(tmp_path / "a.json", {})
        os.umask(0o077)
        store.write_json(tmp_path / "b.json", {})
    finally:
        os.umask(previous)
    assert (tmp_path / "a.json").stat().st_mode & 0o777 == 0o644
    assert (tmp_path / "b.json").stat().st_mode & 0o777 == 0o600
