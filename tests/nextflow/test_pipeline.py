"""The Nextflow pipeline, run for real: the same table as the local runner, failure isolation and
its exit status, -resume semantics (counted in trace.txt), stub runs, parameter checks, staging of
a user's data file, and SLURM through sbatch with the A100 profile's GPU request.

Each run is a tiny sweep on CPU; see conftest.py for how Nextflow is found.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from tests.conftest import DIVERGING, FAST, TINY_TARGETS

ROOT = Path(__file__).resolve().parents[2]
FIXTURE = ROOT / "tests" / "fixtures" / "nextflow" / "test.yaml"
VOLATILE = ["walltime_sec", "created_at"]
HMC = {"name": "hmc", "overrides": FAST}
SGLD = {"name": "sgld", "overrides": {**FAST, "thin": 1}}

pytestmark = pytest.mark.nextflow


def write_config(folder: Path, config: dict, name: str = "sweep.yaml") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(yaml.safe_dump(config, sort_keys=False))
    return folder / name


def table(run) -> pd.DataFrame:
    return pd.read_parquet(run.outdir / "llc_runs.parquet")


def test_test_profile_gives_the_local_runners_numbers(nextflow, tmp_path):
    run = nextflow("-profile", "test,local", "--promote", launch=tmp_path / "nf")
    assert run.returncode == 0, run.output
    piped = table(run)
    plan = yaml.safe_load(FIXTURE.read_text())
    assert len(piped) == len(plan["targets"]) * len(plan["samplers"]) == 4
    assert (piped["status"] != "failed").all() and piped["error"].isna().all()
    assert re.search(r"lambda-hat 0\.1\.0\+[0-9a-f]{12}: sweep ", run.output)
    # every run is published into the store layout of the local runner
    for row in piped.itertuples():
        assert (run.outdir / "runs" / "targets" / row.target_id / f"run_{row.run_id}" / "analysis.json").is_file()
    assert run.statuses("RUN_SAMPLER") == ["COMPLETED"] * 2        # one task per target draws its 2 runs
    # PROMOTE: the gallery has a row per job, with each status as in the table
    page = (run.outdir / "gallery" / "index.html").read_text()
    assert page.count('<tr class=run') == 4 and page.count("<td>ok</td>") == (piped["status"] == "ok").sum()
    assert all(f"runs/{row.run_id}/index.html" in page for row in piped.itertuples())

    local = tmp_path / "local"
    config = write_config(local, plan)
    result = subprocess.run(["lambda-hat", "workflow", "llc", "--local", "--config", str(config)], cwd=local,
                            capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stderr
    alone = pd.read_parquet(local / "results" / "llc_runs.parquet")
    pd.testing.assert_frame_equal(piped.drop(columns=VOLATILE), alone.drop(columns=VOLATILE))


def test_a_failed_run_fails_alone_with_its_reason_and_resume_reruns_what_changed(nextflow, tmp_path):
    folder = tmp_path / "config"
    target = TINY_TARGETS[0]
    config = write_config(folder, {"targets": [target], "samplers": [HMC, DIVERGING]})

    first = nextflow("-profile", "local", "--config", str(config))
    assert first.returncode != 0, first.output          # a failed job fails the run
    rows = table(first)
    assert len(rows) == 2
    ok, failed = rows[rows["status"] != "failed"], rows[rows["status"] == "failed"]
    assert len(ok) == 1 and ok["sampler"].str.startswith("hmc").all() and np.isfinite(ok["llc_mean"]).all()
    assert len(failed) == 1 and failed["sampler"].str.startswith("sgld").all()
    assert "NaN or inf" in failed["error"].iloc[0] and failed["llc_mean"].isna().all()   # the run's own reason
    assert "some jobs failed" in first.output and "rerun the same command with -resume" in first.output
    assert first.statuses("RUN_SAMPLER") == ["COMPLETED"]                # both runs in one task

    again = nextflow("-profile", "local", "--config", str(config), "-resume")
    assert again.returncode != 0                                         # still failed: nothing changed
    assert again.statuses("BUILD_TARGET") == ["CACHED"] and again.statuses("RUN_SAMPLER") == ["CACHED"]
    assert "NaN or inf" in table(again).loc[lambda t: t["status"] == "failed", "error"].iloc[0]

    fixed = {**SGLD, "overrides": {**SGLD["overrides"], "draws": 40}}
    write_config(folder, {"targets": [target], "samplers": [HMC, fixed]})
    resumed = nextflow("-profile", "local", "--config", str(config), "-resume")
    assert resumed.returncode == 0, resumed.output
    assert resumed.statuses("BUILD_TARGET") == ["CACHED"] and resumed.statuses("RUN_SAMPLER") == ["COMPLETED"]
    rows = table(resumed)
    assert (rows["status"] != "failed").all() and sorted(rows["draws"]) == [30, 40]

    # an edit in place of the same file is seen: PLAN is never cached, the changed job runs;
    # with a task per run, the unchanged run stays cached
    write_config(folder, {"targets": [target], "samplers": [HMC, {**fixed, "overrides": {**fixed["overrides"], "draws": 50}}]})
    single = nextflow("-profile", "local", "--config", str(config), "-resume", "--runs_per_task", "1")
    assert single.returncode == 0, single.output
    assert single.statuses("RUN_SAMPLER") == ["COMPLETED", "COMPLETED"]   # new tasks: one run each
    write_config(folder, {"targets": [target], "samplers": [HMC, {**fixed, "overrides": {**fixed["overrides"], "draws": 60}}]})
    edited = nextflow("-profile", "local", "--config", str(config), "-resume", "--runs_per_task", "1")
    assert edited.returncode == 0, edited.output
    assert edited.statuses("RUN_SAMPLER") == ["CACHED", "COMPLETED"]
    assert sorted(table(edited)["draws"]) == [30, 60]


def test_a_task_that_fails_whole_gives_failed_rows(nextflow, tmp_path):
    """A task that dies (here: an option its CLI refuses) is ignored after its retries; COLLECT
    still runs on the empty list of runs, and the job's row names the failed task."""
    config = write_config(tmp_path / "config", {"targets": [TINY_TARGETS[0]], "samplers": [HMC]})
    broken = tmp_path / "broken.config"
    broken.write_text("process { withName: 'RUN_SAMPLER' { ext.args = '--no-such-option' } }\n")
    run = nextflow("-profile", "local", "-c", str(broken), "--config", str(config))
    assert run.returncode != 0
    assert run.statuses("RUN_SAMPLER") == ["FAILED"] and run.statuses("COLLECT") == ["COMPLETED"]
    assert re.search(r"NOTE: Process `LLC:RUN_SAMPLER \(tgt_\w+ × hmc\[.*\)` terminated with an error", run.output)
    rows = table(run)
    assert len(rows) == 1 and rows["status"].iloc[0] == "failed" and "RUN_SAMPLER task failed" in rows["error"].iloc[0]


def test_a_failed_build_is_a_failed_row_for_each_of_its_jobs(nextflow, tmp_path):
    bad = {"model": "tiny", "data": "tiny", "seed": 5, "overrides": {"training": {"lr": 1e30, "optimizer": "sgd"}}}
    config = write_config(tmp_path / "config", {"targets": [TINY_TARGETS[0], bad], "samplers": [HMC]})
    run = nextflow("-profile", "local", "--config", str(config))
    assert run.returncode != 0
    assert run.statuses("BUILD_TARGET") == ["COMPLETED", "FAILED"]
    rows = table(run)
    assert (rows["status"] == "failed").sum() == 1 and len(rows) == 2
    assert rows.loc[rows["status"] == "failed", "error"].iloc[0] == "its target failed to build"


def test_when_every_job_fails_the_table_still_comes(nextflow, tmp_path):
    config = write_config(tmp_path / "config", {"targets": [TINY_TARGETS[0]], "samplers": [DIVERGING]})
    run = nextflow("-profile", "local", "--config", str(config))
    assert run.returncode != 0
    assert run.statuses("COLLECT") == ["COMPLETED"]
    rows = table(run)
    assert len(rows) == 1 and rows["status"].iloc[0] == "failed" and "NaN or inf" in rows["error"].iloc[0]


def resolved(nextflow_bin, profile: str, cwd: Path) -> str:
    """``nextflow config -flat`` of a profile: the settings as Nextflow resolves them."""
    result = subprocess.run([*nextflow_bin, "config", str(ROOT / "main.nf"), "-profile", profile, "-flat"],
                            cwd=cwd, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_profiles_resolve_as_documented(nextflow_bin, tmp_path):
    """Docker and Apptainer cannot run here; what Nextflow makes of their profiles can be checked."""
    slurm = resolved(nextflow_bin, "slurm_a100", tmp_path)
    # the GPU label keeps its resources and error strategy under the profile (a withLabel block
    # inside a profile would have replaced them), and asks SLURM for the GRES
    gpu = {line.split(" = ")[0].split(".", 2)[-1]: line.split(" = ", 1)[1] for line in slurm.splitlines()
           if line.startswith("process.'withLabel:process_gpu'.")}
    assert gpu["cpus"] == "4" and gpu["memory"] == "{ 16.GB * task.attempt }" and "'ignore'" in gpu["errorStrategy"]
    assert "--gres=${params.gpu_gres}" in gpu["clusterOptions"] and "'cuda'" in gpu["ext.platform"]
    assert "params.gpu = true" in slurm and "process.resourceLimits = [cpus:16, memory:'128.GB', time:'48.h']" in slurm
    assert f"apptainer.runOptions = '-B {tmp_path}/.cache/lambda_hat_jax'" in slurm
    assert "lambda-hat_0.1.0.sif" in slurm
    docker = resolved(nextflow_bin, "local,docker", tmp_path)
    assert f"-v {tmp_path}/.cache/lambda_hat_jax:{tmp_path}/.cache/lambda_hat_jax" in docker
    assert "params.gpu = false" in docker
    # the CPU image, or the CUDA one with --gpu (run for real in test_docker.py)
    assert 'params.gpu ? "lambda-hat:${params.container_tag}" : "lambda-hat:${params.container_tag}-cpu"' in docker
    assert "-cpu.sif" in resolved(nextflow_bin, "slurm_cpu", tmp_path)
    for text in (slurm, docker):
        assert "accelerator" not in text                   # the local executor refuses it without GPUs


def test_stub_run_fans_out_every_job(nextflow, tmp_path):
    run = nextflow("-profile", "test,local", "-stub-run")
    assert run.returncode == 0, run.output
    assert "the sweep file's value is not used" not in run.output       # the test sweep sets no paths
    tasks = [row for row in run.trace() if row["name"].startswith("LLC:RUN_SAMPLER ")]
    assert len(tasks) == 2 and len({row["hash"] for row in tasks}) == 2    # a task per target, 2 runs each
    runs = list((run.outdir / "runs" / "targets").glob("tgt_*/run_*"))
    assert len(runs) == 4 and len({path.name for path in runs}) == 4


def test_a_sweep_files_own_paths_are_reported_as_not_followed(nextflow, tmp_path):
    """Under Nextflow the store and the table go where --store and --outdir say; a sweep file that
    names other places is told so, once per path, rather than silently ignored."""
    config = yaml.safe_load(FIXTURE.read_text())
    sweep = write_config(tmp_path / "sweep", {"store_root": "elsewhere/runs", "results": "results/llc_runs.parquet", **config})
    run = nextflow("-profile", "test,local", "-stub-run", "--config", str(sweep))
    assert run.returncode == 0, run.output
    assert "the sweep file sets store_root: elsewhere/runs, but under Nextflow it is" in run.output
    assert "sets results:" not in run.output                          # the same place as --outdir's: nothing to say
    assert not (tmp_path / "elsewhere").exists()


def test_parameters_are_checked_against_the_schema(nextflow, tmp_path):
    run = nextflow("-profile", "test,local", "--gpu-partition", "big", "--queue_size", "many", "--promote", "maybe")
    assert run.returncode != 0
    assert "unknown parameter --gpu-partition; did you mean --gpu_partition?" in run.output
    assert "--queue_size: expected an integer, got 'many'" in run.output
    assert "--promote: expected true or false, got 'maybe'" in run.output
    assert "gpuPartition" not in run.output                       # the camelCase twin is not reported again
    assert not list(tmp_path.glob("work/*/*"))                      # refused before any task ran


def test_a_users_data_file_is_staged_into_its_build(nextflow, tmp_path):
    folder = tmp_path / "config"
    folder.mkdir()
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 2))
    np.savez(folder / "mine.npz", X=x, Y=x @ np.array([[1.0], [-0.5]]) + 0.1 * rng.normal(size=(200, 1)))
    target = {"model": "tiny", "data": {"preset": "tiny", "source": "npz", "path": "mine.npz"}, "seed": 3}
    config = write_config(folder, {"targets": [target], "samplers": [SGLD]})
    run = nextflow("-profile", "local", "--config", str(config))
    assert run.returncode == 0, run.output
    first = table(run)
    assert (first["status"] != "failed").all() and (first["n"] == 200).all()
    build = next(row for row in run.trace() if row["name"].startswith("LLC:BUILD_TARGET "))
    workdir = next((tmp_path / "work").glob(f"{build['hash']}*"))
    staged = workdir / "mine.npz"
    assert staged.is_symlink() and staged.resolve() == (folder / "mine.npz").resolve()

    # new content in place: a new plan (the checksum is part of the target), a new build
    np.savez(folder / "mine.npz", X=x, Y=-x @ np.array([[1.0], [-0.5]]))
    again = nextflow("-profile", "local", "--config", str(config), "-resume")
    assert again.returncode == 0, again.output
    assert again.statuses("BUILD_TARGET") == ["COMPLETED"]
    assert table(again)["target_id"].iloc[0] != first["target_id"].iloc[0]


@pytest.mark.skipif(shutil.which("scontrol") is None and shutil.which("slurmctld") is None,
                    reason="slurm-wlm is not installed")
def test_slurm_a100_profile_submits_through_sbatch(nextflow, slurm, tmp_path):
    config = write_config(tmp_path / "config", {"targets": [TINY_TARGETS[0]], "samplers": [SGLD]})
    run = nextflow("-profile", "test,slurm_a100", "-c", str(ROOT / "tests" / "nextflow" / "slurm_local.config"),
                   "--config", str(config), "--cpu_partition", "debug", "--gpu_partition", "a100")
    assert run.returncode == 0, run.output
    assert (table(run)["status"] != "failed").all()
    tasks = {row["name"].split(" ")[0]: row for row in run.trace()}
    assert set(tasks) == {"LLC:PLAN", "LLC:BUILD_TARGET", "LLC:RUN_SAMPLER", "LLC:COLLECT"}
    for name, row in tasks.items():
        job = subprocess.run(["scontrol", "show", "job", row["native_id"]], capture_output=True, text=True)
        assert "JobState=COMPLETED" in job.stdout, (name, job.stdout + job.stderr)
        if name == "LLC:RUN_SAMPLER":
            assert "Partition=a100" in job.stdout and "TresPerNode=gres:gpu:a100:1" in job.stdout
        else:
            assert "Partition=debug" in job.stdout and "gres" not in job.stdout
    header = next((tmp_path / "work").glob(f"{tasks['LLC:RUN_SAMPLER']['hash']}*/.command.run")).read_text()
    assert "#SBATCH --gres=gpu:a100:1" in header and "#SBATCH -p a100" in header
    # the label's resources survive the profile (a profile's own withLabel block would drop them)
    assert "#SBATCH -c 2" in header and "#SBATCH --mem 6144M" in header
