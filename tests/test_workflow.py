"""The local sweep end to end: results table, resume, failure isolation, interrupts."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from lambda_hat import health
from lambda_hat.cli import app
from lambda_hat.collect import COLUMNS

from tests.conftest import DIVERGING, FAST, TINY_TARGETS, TINY_VI

runner = CliRunner()
SWEEP = {
    "store_root": "runs",
    "results": "results/llc_runs.parquet",
    "targets": TINY_TARGETS,
    "samplers": [{"name": "hmc", "overrides": FAST}, {"name": "sgld", "overrides": {**FAST, "thin": 1}}, TINY_VI],
}


@pytest.fixture
def sweep(tmp_path, monkeypatch):
    """``sweep(config) -> (result, config path)``: run the CLI in a fresh folder."""
    monkeypatch.chdir(tmp_path)

    def run(config: dict, *extra: str):
        path = tmp_path / "config" / "experiments.yaml"
        path.parent.mkdir(exist_ok=True)
        path.write_text(yaml.safe_dump(config))
        result = runner.invoke(app, ["workflow", "llc", "--local", "--config", str(path), *extra])
        return result, path

    return run


def counts(stdout: str) -> dict:
    """The summary line's counts: ``{"ok": 2, "suspect": 4, "failed": 0, "blocked": 0, "reused": 6}``."""
    line = next(line for line in stdout.splitlines() if " reused from earlier runs)" in line)
    found = {word: int(number) for number, word in re.findall(r"(\d+) (\w+)", line.split(";")[0])}
    return {key: found[key] for key in ("ok", "suspect", "failed", "blocked", "reused")}


def finished(stdout: str) -> int:
    """Jobs that ran now and gave an estimate (ok or suspect), builds included."""
    return counts(stdout)["ok"] + counts(stdout)["suspect"] - counts(stdout)["reused"]


def artifact_times(root: Path) -> dict:
    return {p: p.stat().st_mtime_ns for p in root.rglob("*") if p.is_file() and not p.name.endswith(".lock")}


def test_sweep_resume_and_table(sweep, tmp_path):
    result, _ = sweep(SWEEP)
    assert result.exit_code == 0, result.output
    table = pd.read_parquet(tmp_path / "results" / "llc_runs.parquet")
    assert len(table) == 6
    assert list(table.columns[: len(COLUMNS)]) == list(COLUMNS)
    assert set(table["sampler"].str.split("[").str[0]) == {"hmc", "sgld", "vi"}
    dln = table[table["model"] == "dln"]
    assert dln["llc_true"].notna().all() and dln["llc_rel_error"].notna().all()
    assert table[table["model"] == "tiny"]["llc_true"].isna().all()
    # every VI run carries its own check (Pareto k-hat); one it flags is never a plain ok, in the
    # table or in the printed summary
    vi = table[table["algorithm"] == "vi"]
    assert len(vi) == 2 and vi["pareto_k"].notna().all()
    assert (vi.loc[vi["pareto_k"] > health.PARETO_K_MAX, "status"] == "suspect").all()
    for row in vi.itertuples():
        [line] = [line for line in result.stdout.splitlines() if f"{row.target_id} × vi[" in line]
        assert f" {row.status} " in line
    # the user's own analysis snippet works unchanged
    table.groupby("sampler")[["llc_mean", "llc_std", "ess_bulk"]].mean()
    # a second run does no work and touches no artifact
    before = artifact_times(tmp_path / "runs")
    again, _ = sweep(SWEEP)
    assert again.exit_code == 0
    # ... and still says which jobs are ok and which suspect (and why)
    first = counts(result.stdout)
    assert counts(again.stdout) == {**first, "reused": 8}
    for row in table[table["status"] == "suspect"].itertuples():
        [line] = [line for line in again.stdout.splitlines() if f"{row.target_id} × {row.sampler} " in line]
        assert " suspect " in line and " earlier " in line and row.warnings in line
    assert artifact_times(tmp_path / "runs") == before
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "results" / "llc_runs.parquet"), table)


def test_parallel_workers_give_the_same_table(sweep, tmp_path):
    assert sweep(SWEEP)[0].exit_code == 0
    serial = pd.read_parquet(tmp_path / "results" / "llc_runs.parquet")
    result, _ = sweep(SWEEP, "--jobs", "2", "--force")
    assert result.exit_code == 0, result.output
    assert finished(result.stdout) == 8 and counts(result.stdout)["failed"] == 0
    parallel = pd.read_parquet(tmp_path / "results" / "llc_runs.parquet")
    drop = ["walltime_sec", "created_at"]
    pd.testing.assert_frame_equal(serial.drop(columns=drop), parallel.drop(columns=drop))


def test_adding_a_sampler_runs_only_the_new_jobs(sweep):
    first = {**SWEEP, "samplers": SWEEP["samplers"][:1]}
    assert sweep(first)[0].exit_code == 0
    result, _ = sweep({**SWEEP, "samplers": SWEEP["samplers"][:2]})
    assert result.exit_code == 0
    assert finished(result.stdout) == 2 and counts(result.stdout)["reused"] == 4


def test_a_diverging_sampler_fails_alone(sweep, tmp_path):
    config = {**SWEEP, "samplers": [*SWEEP["samplers"][:1], DIVERGING]}
    result, path = sweep(config)
    assert result.exit_code == 1
    assert finished(result.stdout) == 4 and counts(result.stdout)["failed"] == 2
    table = pd.read_parquet(tmp_path / "results" / "llc_runs.parquet")
    assert len(table) == 4                           # one row per job of the sweep, failed ones included
    estimated, failed = table[table["status"] != "failed"], table[table["status"] == "failed"]
    assert set(estimated["sampler"].str.split("[").str[0]) == {"hmc"} and estimated["llc_mean"].notna().all()
    assert set(failed["sampler"].str.split("[").str[0]) == {"sgld"} and failed["llc_mean"].isna().all()
    assert failed["error"].str.contains("NaN or inf").all()
    errors = list((tmp_path / "runs").rglob("error.json"))
    assert len(errors) == 2
    assert len(list((tmp_path / "logs").glob("sample_*.log"))) == 2
    retry = yaml.safe_load((path.parent / "experiments.retry.yaml").read_text())
    assert retry["samplers"] == [DIVERGING] and retry["retry_of"] == "experiments.yaml"
    assert len(retry["targets"]) == 2
    # the retry file plans exactly the failed jobs
    plan = runner.invoke(app, ["plan", "--config", str(path.parent / "experiments.retry.yaml"), "--out", str(tmp_path / "p")])
    assert "2 targets × 1 samplers = 2 sampling jobs" in plan.stdout
    # running it, as the closing message offers, keeps every row of the sweep's table
    again = runner.invoke(app, ["workflow", "llc", "--local", "--config", str(path.parent / "experiments.retry.yaml")])
    assert again.exit_code == 1 and "--config" in result.stdout and "experiments.retry.yaml" in result.stdout
    kept = pd.read_parquet(tmp_path / "results" / "llc_runs.parquet")
    pd.testing.assert_frame_equal(kept.drop(columns=["created_at"]), table.drop(columns=["created_at"]))
    assert not (path.parent / "experiments.retry.retry.yaml").exists()


def test_a_failed_build_blocks_only_its_own_jobs(sweep, tmp_path):
    bad = {"model": "tiny", "data": "tiny", "seed": 5, "overrides": {"training": {"lr": 1e30, "optimizer": "sgd"}}}
    config = {**SWEEP, "targets": [SWEEP["targets"][0], bad], "samplers": SWEEP["samplers"][:1]}
    result, path = sweep(config)
    assert result.exit_code == 1
    assert "blocked" in result.stdout and "training diverged" in result.stdout
    table = pd.read_parquet(tmp_path / "results" / "llc_runs.parquet")
    assert len(table) == 2 and (table["status"] == "failed").sum() == 1
    assert table.loc[table["status"] == "failed", "error"].iloc[0].startswith("its target failed to build: TrainingDiverged: training diverged")


def test_config_errors_stop_before_any_work(sweep, tmp_path):
    result, _ = sweep({**SWEEP, "samplers": [{"name": "hmcc"}]})
    assert result.exit_code == 1 and "did you mean 'hmc'" in result.stderr
    assert not (tmp_path / "runs").exists() and not (tmp_path / "plan").exists()


def test_corrupt_artifact_is_rebuilt(sweep, tmp_path):
    small = {**SWEEP, "targets": SWEEP["targets"][:1], "samplers": SWEEP["samplers"][:1]}
    assert sweep(small)[0].exit_code == 0
    analysis = next((tmp_path / "runs").rglob("analysis.json"))
    analysis.write_text("{ not json")
    result, _ = sweep(small)
    assert result.exit_code == 0, result.output
    assert finished(result.stdout) == 1
    assert analysis.read_text().startswith("{\n")
    analysis.write_text("{}")                  # valid JSON without an estimate is not a finished run either
    result, _ = sweep(small)
    assert result.exit_code == 0 and finished(result.stdout) == 1
    assert "llc_mean" in analysis.read_text()


def test_interrupted_run_resumes_to_the_same_table(tmp_path):
    """SIGTERM mid-sweep keeps what finished; the resumed table equals an uninterrupted one."""
    config = {**SWEEP, "samplers": [{"name": "hmc", "overrides": {"draws": 400, "warmup": 200, "chains": 2}},
                                    *SWEEP["samplers"][1:]]}
    for folder in ("a", "b"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "experiments.yaml").write_text(yaml.safe_dump(config))
    command = [sys.executable, "-m", "lambda_hat.cli", "workflow", "llc", "--local", "--config", "experiments.yaml"]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(command, cwd=tmp_path / "a", env=env, stderr=subprocess.PIPE, text=True)
    for line in process.stderr:      # wait until the first sampling job has finished (ok or suspect)
        if "sample" in line and (": ok" in line or ": suspect" in line):
            break
    process.send_signal(signal.SIGTERM)
    process.communicate(timeout=120)
    assert process.returncode == 130
    assert not list((tmp_path / "a" / "runs").rglob("*.tmp"))
    resumed = subprocess.run(command, cwd=tmp_path / "a", env=env, capture_output=True, text=True)
    assert resumed.returncode == 0, resumed.stderr
    assert counts(resumed.stdout)["reused"] > 0
    straight = subprocess.run(command, cwd=tmp_path / "b", env=env, capture_output=True, text=True)
    assert straight.returncode == 0
    drop = ["walltime_sec", "created_at"]
    first = pd.read_parquet(tmp_path / "a" / "results" / "llc_runs.parquet").drop(columns=drop)
    second = pd.read_parquet(tmp_path / "b" / "results" / "llc_runs.parquet").drop(columns=drop)
    pd.testing.assert_frame_equal(first, second)


def test_a_successful_retry_leaves_nothing_of_the_failure(sweep, tmp_path, monkeypatch):
    from lambda_hat import sampling

    real = sampling.estimate_batch

    def flaky(meta, params, arrays, specs, progress=None):
        if specs[0]["algorithm"] == "sgld":
            raise RuntimeError("flaky node")
        return real(meta, params, arrays, specs, progress)

    config = {**SWEEP, "targets": SWEEP["targets"][:1], "samplers": SWEEP["samplers"][:2]}
    monkeypatch.setattr(sampling, "estimate_batch", flaky)
    result, path = sweep(config)
    assert result.exit_code == 1 and (path.parent / "experiments.retry.yaml").is_file()
    assert list((tmp_path / "logs").glob("sample_*.log")) and list((tmp_path / "runs").rglob("error.json"))
    monkeypatch.setattr(sampling, "estimate_batch", real)
    result, _ = sweep(config)
    assert result.exit_code == 0, result.output
    assert not (path.parent / "experiments.retry.yaml").exists()
    assert not list((tmp_path / "logs").glob("*.log")) and not list((tmp_path / "runs").rglob("error.json"))
    assert (pd.read_parquet(tmp_path / "results" / "llc_runs.parquet")["status"] != "failed").all()


@pytest.mark.parametrize("how", ["ctrl-c to the group", "sigterm", "sigkill"])
def test_interrupting_parallel_workers_stops_them_all(tmp_path, how):
    """With --jobs 2: Ctrl-C and SIGTERM exit 130 without waiting for running jobs, SIGKILL of the
    main process takes its workers with it, and no worker is left behind; a rerun resumes."""
    config = {**SWEEP, "samplers": [{"name": "hmc", "overrides": {"draws": 4000, "warmup": 300, "chains": 2}}]}
    (tmp_path / "experiments.yaml").write_text(yaml.safe_dump(config))
    command = [sys.executable, "-m", "lambda_hat.cli", "workflow", "llc", "--local", "--config", "experiments.yaml",
               "--jobs", "2"]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    # as from a terminal: the child must not inherit an ignored SIGINT (pytest run as a background
    # job of a script has one, and Python would keep it); a handler here resets to the default on exec
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        process = subprocess.Popen(command, cwd=tmp_path, env=env, stderr=subprocess.PIPE, text=True,
                                   start_new_session=True)
    finally:
        signal.signal(signal.SIGINT, previous)
    for line in process.stderr:          # both workers are up once a build has finished
        if "build" in line and ": ok" in line:
            break
    workers = Path(f"/proc/{process.pid}/task/{process.pid}/children").read_text().split()
    assert workers
    if how == "ctrl-c to the group":
        os.killpg(process.pid, signal.SIGINT)
    else:
        os.kill(process.pid, signal.SIGTERM if how == "sigterm" else signal.SIGKILL)
    process.communicate(timeout=120)     # a hang fails here
    assert process.returncode == (-signal.SIGKILL if how == "sigkill" else 130)

    def alive() -> list[str]:
        return [pid for pid in workers if Path(f"/proc/{pid}/status").is_file()
                and "zombie" not in Path(f"/proc/{pid}/status").read_text()]

    for _ in range(100):
        if not alive():
            break
        time.sleep(0.1)
    assert not alive(), f"workers left running: {alive()}"
    if how != "sigkill":     # the main process clears what its killed workers left (a SIGKILL's rerun does)
        assert not list((tmp_path / "runs").rglob("*.tmp")) and not list((tmp_path / "runs").rglob("*.lock"))
    resumed = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert resumed.returncode == 0, resumed.stderr
    assert not list((tmp_path / "runs").rglob("*.lock"))        # none left behind, even by a SIGKILL
    assert not list((tmp_path / "runs").rglob("*.tmp"))


def test_two_sweeps_in_one_folder_keep_their_own_retry_files(sweep, tmp_path):
    first = {**SWEEP, "targets": SWEEP["targets"][:1], "samplers": [DIVERGING]}
    result, path = sweep(first)
    assert result.exit_code == 1
    other = path.parent / "other.yaml"
    other.write_text(yaml.safe_dump({**first, "results": "results/other.parquet",
                                     "samplers": [{**DIVERGING, "overrides": {**DIVERGING["overrides"], "draws": 31}}]}))
    assert runner.invoke(app, ["workflow", "llc", "--local", "--config", str(other)]).exit_code == 1
    mine, theirs = (yaml.safe_load((path.parent / name).read_text())
                    for name in ("experiments.retry.yaml", "other.retry.yaml"))
    assert mine["retry_of"] == "experiments.yaml" and theirs["retry_of"] == "other.yaml"
    assert mine["samplers"] != theirs["samplers"]


def test_a_stale_lock_file_is_cleared(sweep, tmp_path):
    """A lock file no process holds (its holder was killed with SIGKILL) is removed by the next sweep,
    with the temporary files its holder's unfinished writes left; a held one and its folder are left alone."""
    import fcntl

    small = {**SWEEP, "targets": SWEEP["targets"][:1], "samplers": SWEEP["samplers"][:1]}
    assert sweep(small)[0].exit_code == 0
    target = next((tmp_path / "runs" / "targets").glob("tgt_*"))
    stale, held = Path(f"{target}.lock"), target / "run_held.lock"
    (target / "run_held").mkdir()
    left, writing = target / ".params.npz.x1.tmp", target / "run_held" / ".trace.npz.x2.tmp"
    for path in (stale, held, left, writing):
        path.touch()
    with open(held) as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        result, _ = sweep(small)
        assert held.exists() and writing.exists()
    assert result.exit_code == 0 and not stale.exists() and not left.exists()


def test_outputs_follow_the_working_folder_and_the_run_says_where(sweep, tmp_path):
    result, _ = sweep({**SWEEP, "targets": SWEEP["targets"][:1], "samplers": SWEEP["samplers"][:1]})
    assert result.exit_code == 0
    assert f"store {tmp_path / 'runs'}, results {tmp_path / 'results' / 'llc_runs.parquet'}, logs {tmp_path / 'logs'}" \
        in result.stderr
