"""The Nextflow pipeline, run for real: the same table as the local runner, failure isolation and
its exit status, -resume semantics (counted in trace.txt), stub runs, parameter checks, staging of
a user's data file, and SLURM through sbatch with the A100 profile's GPU request.

Each run is a tiny sweep on CPU; see conftest.py for how Nextflow is found.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from tests.conftest import DIVERGING, FAST, TINY_TARGETS
from tests.nextflow.conftest import run_nextflow

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


def test_test_profile_gives_the_local_runners_numbers(test_profile_run, tmp_path):
    run = test_profile_run
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


def drawn(run) -> list[int]:
    """How many runs each RUN_SAMPLER task of a Nextflow run was given to draw (its --spec options)."""
    tasks = [row for row in run.trace() if row["name"].startswith("LLC:RUN_SAMPLER ")]
    return sorted(Path(row["workdir"], ".command.sh").read_text().count("--spec ") for row in tasks)


def test_a_failed_run_fails_alone_and_every_rerun_draws_only_what_is_not_done(nextflow, tmp_path):
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
    assert "1 job(s) failed" in first.output and "failed builds and runs are tried again" in first.output
    assert drawn(first) == [2]                                            # both runs in one task
    hmc_folder = next((first.launch / "runs" / "targets").glob(f"*/run_{ok['run_id'].iloc[0]}"))
    drawn_at = (hmc_folder / "analysis.json").read_text()

    # -resume tries the failed run again (a failure may be the node's), and only it: the finished
    # run and the target come from the store
    again = nextflow("-profile", "local", "--config", str(config), "-resume")
    assert again.returncode != 0
    assert again.statuses("BUILD_TARGET") == [] and again.statuses("RUN_SAMPLER") == ["COMPLETED"]
    assert drawn(again) == [1]
    assert "NaN or inf" in table(again).loc[lambda t: t["status"] == "failed", "error"].iloc[0]

    # fixing the failing job draws it alone; the run that shared its task is not drawn again
    fixed = {**SGLD, "overrides": {**SGLD["overrides"], "draws": 40}}
    write_config(folder, {"targets": [target], "samplers": [HMC, fixed]})
    resumed = nextflow("-profile", "local", "--config", str(config), "-resume")
    assert resumed.returncode == 0, resumed.output
    assert resumed.statuses("RUN_SAMPLER") == ["COMPLETED"] and drawn(resumed) == [1]
    rows = table(resumed)
    assert (rows["status"] != "failed").all() and sorted(rows["draws"]) == [30, 40]

    # another packing of runs into tasks, with or without -resume: nothing finished is drawn again
    for extra in (["-resume", "--runs_per_task", "1"], ["--runs_per_task", "1"]):
        repacked = nextflow("-profile", "local", "--config", str(config), *extra)
        assert repacked.returncode == 0, repacked.output
        assert repacked.statuses("RUN_SAMPLER") == [] and repacked.statuses("BUILD_TARGET") == []
        pd.testing.assert_frame_equal(table(repacked), rows)
    assert (hmc_folder / "analysis.json").read_text() == drawn_at
    # --force builds and draws everything again; the target is published as files, so the store keeps
    # its run folders of other sweeps (here: the diverging run's record, no longer in this sweep)
    diverged = next((first.launch / "runs" / "targets").glob(f"*/run_{failed['run_id'].iloc[0]}"))
    forced = nextflow("-profile", "local", "--config", str(config), "--force")
    assert forced.returncode == 0 and forced.statuses("BUILD_TARGET") == ["COMPLETED"] and drawn(forced) == [2]
    assert (diverged / "error.json").is_file() and (hmc_folder / "analysis.json").is_file()
    # the published plan is this run's alone: one task folder, none left of the two per-run tasks before
    assert len(list((forced.outdir / "plan" / "tasks").iterdir())) == 1


def test_a_task_that_fails_records_why_and_one_killed_is_a_failed_row(nextflow, tmp_path):
    """A task whose command fails (here: an option its CLI refuses) completes with a record of the
    failure for each of its runs: exit status, work folder and the error line. A task killed by a
    signal is given up on after its retries; COLLECT still runs and the job's row says where to look."""
    config = write_config(tmp_path / "config", {"targets": [TINY_TARGETS[0]], "samplers": [HMC]})
    broken = tmp_path / "broken.config"
    broken.write_text("process { withName: 'RUN_SAMPLER' { ext.args = '--no-such-option' } }\n")
    run = nextflow("-profile", "local", "-c", str(broken), "--config", str(config), launch=tmp_path / "refused")
    assert run.returncode != 0
    assert run.statuses("RUN_SAMPLER") == ["COMPLETED"] and run.statuses("COLLECT") == ["COMPLETED"]
    [row] = table(run).itertuples()
    [task] = [r for r in run.trace() if r["name"].startswith("LLC:RUN_SAMPLER ")]
    assert row.status == "failed" and "the LLC:RUN_SAMPLER task exited with status 2" in row.error
    assert f"work folder {task['workdir']}" in row.error and "No such option: --no-such-option" in row.error

    killed = tmp_path / "killed.config"
    killed.write_text("process { withName: 'RUN_SAMPLER' { ext.args = '; kill -KILL $$' } }\n")
    run = nextflow("-profile", "local", "-c", str(killed), "--config", str(config), "--max_retries", "1",
                   launch=tmp_path / "killed")
    assert run.returncode != 0
    assert run.statuses("RUN_SAMPLER") == ["FAILED", "FAILED"]             # retried once (a kill), then given up
    assert re.search(r"NOTE: Process `LLC:RUN_SAMPLER \(tgt_\w+ × hmc\[.*\)` terminated with an error exit status \(137\)",
                     run.output)
    [row] = table(run).itertuples()
    assert row.status == "failed" and "its RUN_SAMPLER task was killed" in row.error and "-resume runs it again" in row.error


def test_a_failed_build_is_a_failed_row_for_each_of_its_jobs(nextflow, tmp_path):
    bad = {"model": "tiny", "data": "tiny", "seed": 5, "overrides": {"training": {"lr": 1e30, "optimizer": "sgd"}}}
    config = write_config(tmp_path / "config", {"targets": [TINY_TARGETS[0], bad], "samplers": [HMC]})
    run = nextflow("-profile", "local", "--config", str(config))
    assert run.returncode != 0
    assert run.statuses("BUILD_TARGET") == ["COMPLETED", "COMPLETED"] and run.statuses("RUN_SAMPLER") == ["COMPLETED"]
    rows = table(run)
    assert (rows["status"] == "failed").sum() == 1 and len(rows) == 2
    assert rows.loc[rows["status"] == "failed", "error"].iloc[0].startswith(
        "its target failed to build: TrainingDiverged: training diverged")
    # the store keeps the failure; the next run builds that target again and reuses the other
    again = nextflow("-profile", "local", "--config", str(config), "-resume")
    assert again.statuses("BUILD_TARGET") == ["COMPLETED"] and again.statuses("RUN_SAMPLER") == []


def test_when_every_job_fails_the_table_still_comes(nextflow, tmp_path):
    config = write_config(tmp_path / "config", {"targets": [TINY_TARGETS[0]], "samplers": [DIVERGING]})
    run = nextflow("-profile", "local", "--config", str(config))
    assert run.returncode != 0
    assert run.statuses("COLLECT") == ["COMPLETED"]
    rows = table(run)
    assert len(rows) == 1 and rows["status"].iloc[0] == "failed" and "NaN or inf" in rows["error"].iloc[0]


def test_a_failing_job_still_gets_its_gallery(nextflow, tmp_path):
    """--promote with a failed job: the gallery is written (the failure in it), then the run exits non-zero."""
    config = write_config(tmp_path / "config", {"targets": [TINY_TARGETS[0]], "samplers": [HMC, DIVERGING]})
    run = nextflow("-profile", "local", "--config", str(config), "--promote")
    assert run.returncode != 0 and "1 job(s) failed" in run.output
    assert run.statuses("PROMOTE") == ["COMPLETED"]
    page = (run.outdir / "gallery" / "index.html").read_text()
    assert page.count("<tr class=run>") == 1 and page.count('<tr class="run failed">') == 1 and "NaN or inf" in page


def test_two_pipelines_never_write_one_folder_at_once(nextflow_bin, nextflow, tmp_path):
    """A second pipeline started in the same launch folder while one runs is refused at once, in one
    line; each run keeps its own pipeline_info reports."""
    import os

    config = write_config(tmp_path / "config", {"targets": [TINY_TARGETS[0]],
                                                "samplers": [{"name": "hmc", "overrides": {**FAST, "draws": 3000}}]})
    launch = tmp_path / "launch"
    launch.mkdir()
    env = {**os.environ, "NXF_ANSI_LOG": "false"}
    command = [*nextflow_bin, "run", str(ROOT / "main.nf"), "-profile", "local", "--config", str(config),
               "--outdir", "results", "--compilation_cache", str(ROOT / ".cache" / "jax")]
    running = subprocess.Popen(command, cwd=launch, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        for _ in range(600):
            if list(launch.glob("work/*/*/.command.begin")):
                break
            time.sleep(0.1)
        second = nextflow("-profile", "local", "--config", str(config), launch=launch)
        assert second.returncode != 0
        assert "another pipeline is writing to results now (its lock: results/.lambda-hat.lock)" in second.output
    finally:
        output, _ = running.communicate(timeout=900)
    assert running.returncode == 0, output
    third = nextflow("-profile", "local", "--config", str(config), launch=launch)
    assert third.returncode == 0, third.output
    # the first run's report is still there, beside the later ones
    traces = sorted((launch / "results" / "pipeline_info").glob("execution_trace_*.txt"))
    assert len(traces) >= 2 and "LLC:RUN_SAMPLER" in traces[0].read_text()


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
    # a GPU task asks for a GPU task's resources, a CPU one for a CPU task's
    assert gpu["cpus"] == "{ params.gpu ? 4 : 2 }" and gpu["memory"] == "{ (params.gpu ? 16.GB : 8.GB) * task.attempt }"
    assert "--gres=${params.gpu_gres}" in gpu["clusterOptions"] and "'cuda'" in gpu["ext.platform"]
    # one error strategy: resource kills retried (a cancel's 143 only when SLURM says it was DUE TO its limits)
    assert "' DUE TO '" in slurm and "task.ext.fatal ? 'terminate' : 'ignore'" in slurm
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


def test_a_stub_run_fans_out_every_job_and_never_touches_real_results(test_profile_run, nextflow_bin):
    """After a real run, a stub run with the same --outdir and --store publishes under
    <outdir>/stub-run/ (every job fanned out) and leaves every real file as it was."""
    launch = test_profile_run.launch

    def files() -> dict:
        return {path: path.read_bytes() for path in (launch / "results").rglob("*")
                if path.is_file() and "pipeline_info" not in path.parts and "stub-run" not in path.parts}

    before = files()
    time.sleep(1)                                    # a report of its own (they are named by the second)
    run = run_nextflow(nextflow_bin, launch, "-profile", "test,local", "-stub-run")
    assert run.returncode == 0, run.output
    assert files() == before
    assert (launch / "results" / "stub-run" / "llc_runs.parquet").is_file()
    assert "the sweep file's value is not used" not in run.output       # the test sweep sets no paths
    tasks = [row for row in run.trace() if row["name"].startswith("LLC:RUN_SAMPLER ")]
    assert len(tasks) == 2 and len({row["hash"] for row in tasks}) == 2    # a task per target, 2 runs each
    runs = list((run.outdir / "stub-run" / "store" / "targets").glob("tgt_*/run_*"))
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
    run = nextflow("-profile", "test,local", "--gpu-partition", "big", "--queue_size", "many", "--promote", "maybe",
                   "--max_memory", "12", "--max_time", "48", "--outDir", "x", "--run_per_task", "2")
    assert run.returncode != 0
    assert "unknown parameter --gpu-partition; did you mean --gpu_partition?" in run.output
    assert "--queue_size: expected an integer, got 'many'" in run.output
    assert "--promote: expected true or false, got 'maybe'" in run.output
    assert "gpuPartition" not in run.output                       # the camelCase twin is not reported again
    # a bare number is not a memory size or a duration (SLURM would read them as 0M and no limit)
    assert "--max_memory: expected a memory size like '128.GB', got '12'" in run.output
    assert "--max_time: expected a duration like '48.h', got '48'" in run.output
    assert "unknown parameter --outDir; did you mean --outdir?" in run.output               # as typed
    assert "unknown parameter --run_per_task; did you mean --runs_per_task?" in run.output
    assert not list(tmp_path.glob("work/*/*"))                      # refused before any task ran


def test_help_lists_every_parameter_and_a_missing_config_is_named(nextflow, tmp_path):
    import json

    shown = nextflow("--help")
    assert shown.returncode == 0, shown.output
    schema = json.loads((ROOT / "nextflow_schema.json").read_text())
    for group in schema["$defs"].values():
        for name, rule in group["properties"].items():
            assert (f"--{name} " in shown.output) != bool(rule.get("hidden")), name
    assert not list(tmp_path.glob("work/*/*"))
    missing = nextflow("-profile", "test,local", "--config", "nope.yaml")
    assert missing.returncode != 0 and "--config: no such file: nope.yaml" in missing.output


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
    staged = workdir / "inputs" / "data" / "mine.npz"
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


@pytest.mark.skipif(shutil.which("scontrol") is None and shutil.which("slurmctld") is None,
                    reason="slurm-wlm is not installed")
def test_slurm_limits_beyond_the_partitions_nodes_are_refused_at_start(nextflow, slurm, tmp_path):
    """A task asking for more than the partition's largest node would stay PENDING forever: the run
    is refused before anything is submitted, one line per problem, with the value that fits."""
    import os

    cpus = os.cpu_count()
    run = nextflow("-profile", "test,slurm_a100", "-c", str(ROOT / "tests" / "nextflow" / "slurm_local.config"),
                   "--cpu_partition", "debug", "--gpu_partition", "a100", "--max_cpus", str(cpus + 2),
                   "--max_memory", "4.TB")
    assert run.returncode != 0
    for partition in ("debug", "a100"):
        assert (f"--max_cpus {cpus + 2}: the largest node of partition '{partition}' has {cpus} CPUs, so a task asking "
                f"for more would stay PENDING forever; set --max_cpus {cpus}") in run.output
        assert f"--max_memory 4.TB: the largest node of partition '{partition}' has" in run.output
    assert not list(tmp_path.glob("work/*/*"))


@pytest.mark.skipif(shutil.which("scontrol") is None and shutil.which("slurmctld") is None,
                    reason="slurm-wlm is not installed")
def test_a_cancelled_slurm_job_is_a_failed_row_not_a_retry(nextflow_bin, slurm, tmp_path):
    """scancel of a running sampling job: not resubmitted (SIGTERM's 143 is retried only for SLURM's
    own time limits), its job is a failed row, and the run's exit status is non-zero."""
    import os

    long_hmc = {"name": "hmc", "overrides": {**FAST, "draws": 20000, "target_acceptance": 0.95}}
    config = write_config(tmp_path / "config", {"targets": [TINY_TARGETS[0]], "samplers": [long_hmc]})
    command = [*nextflow_bin, "run", str(ROOT / "main.nf"), "-profile", "test,slurm_a100", "-c",
               str(ROOT / "tests" / "nextflow" / "slurm_local.config"), "--config", str(config), "--cpu_partition",
               "debug", "--gpu_partition", "a100", "--outdir", "results", "--compilation_cache", str(ROOT / ".cache" / "jax")]
    process = subprocess.Popen(command, cwd=tmp_path, env={**os.environ, "NXF_ANSI_LOG": "false"},
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        job = None
        for _ in range(600):
            queue = subprocess.run(["squeue", "-h", "-t", "R", "-o", "%i %j"], capture_output=True, text=True).stdout
            job = next((line.split()[0] for line in queue.splitlines() if "RUN_SAMPLER" in line), None)
            if job and list(tmp_path.glob("work/*/*/.command.begin")):
                break
            time.sleep(0.5)
        assert job, "the sampling job never ran"
        time.sleep(3)
        subprocess.run(["scancel", job], check=True)
        output, _ = process.communicate(timeout=600)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode != 0, output
    [row] = pd.read_parquet(tmp_path / "results" / "llc_runs.parquet").itertuples()
    assert row.status == "failed" and "its RUN_SAMPLER task was killed" in row.error
    traces = sorted((tmp_path / "results" / "pipeline_info").glob("execution_trace_*.txt"))
    assert traces[-1].read_text().count("LLC:RUN_SAMPLER") == 1, "the cancelled job was resubmitted"


def test_users_models_data_and_checkpoints_run_under_both_front_ends(nextflow, tmp_path):
    """(d) cnn_shallow on the packaged digits with SGLD, and a user's model file read at two
    checkpoints: under Nextflow the model file and the checkpoints are staged into their builds and
    the model file travels with its target to sampling; the table is the local runner's."""
    from lambda_hat import checkpoints, model_file

    folder = tmp_path / "config"
    folder.mkdir()
    (folder / "models.py").write_text((ROOT / "examples" / "models" / "jax_mlp.py").read_text())
    init, _ = model_file.functions(folder / "models.py", "mlp", 64, 10, {"width": 8})
    for seed in (0, 1):
        checkpoints.save(folder / f"step_{seed}.npz", init(__import__("jax").random.key(seed)))
    fast_sgld = {"name": "sgld", "overrides": {"warmup": 300, "draws": 60, "chains": 2, "thin": 5}}
    config = write_config(folder, {"targets": [
        {"model": "cnn_shallow", "data": "digits", "seed": 0, "overrides": {"training": {"steps": 200}}},
        {"model": {"file": "models.py", "name": "mlp", "args": {"width": 8}}, "data": "digits", "seed": 1,
         "checkpoints": ["step_0.npz", "step_1.npz"]}],
        "samplers": [fast_sgld]})
    run = nextflow("-profile", "local", "--config", str(config))
    assert run.returncode == 0, run.output
    piped = table(run)
    assert len(piped) == 3 and (piped["status"] != "failed").all()
    cnn = piped[piped["model"] == "cnn_shallow"].iloc[0]
    assert cnn["d"] == 1898 and np.isfinite(cnn["llc_mean"]) and 0 < cnn["llc_mean"] < cnn["d"] / 2
    assert sorted(piped["checkpoint"].dropna()) == ["step_0.npz", "step_1.npz"]
    builds = [row for row in run.trace() if row["name"].startswith("LLC:BUILD_TARGET ")]
    staged = sorted(p.name for row in builds for p in Path(row["workdir"]).glob("inputs/*/*"))
    assert staged == ["models.py", "models.py", "step_0.npz", "step_1.npz"]

    local = tmp_path / "local"
    local.mkdir()
    result = subprocess.run(["lambda-hat", "workflow", "llc", "--local", "--config", str(config)], cwd=local,
                            capture_output=True, text=True, timeout=1800)
    assert result.returncode == 0, result.stderr
    alone = pd.read_parquet(local / "results" / "llc_runs.parquet")
    pd.testing.assert_frame_equal(piped.drop(columns=VOLATILE), alone.drop(columns=VOLATILE))
