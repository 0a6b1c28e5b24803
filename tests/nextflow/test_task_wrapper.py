"""bin/lambda-hat-task: the environment it gives a task, and its errors."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
WRAPPER = ROOT / "bin" / "lambda-hat-task"
PROBE = ("import os, jax; jax.numpy.ones(1).block_until_ready(); "
         "print(os.environ.get('XLA_FLAGS', '-'), os.environ['OMP_NUM_THREADS'])")


def fake_cli(tmp_path: Path) -> Path:
    """A `lambda-hat` on PATH that runs Python code, to look at the wrapper's environment."""
    folder = tmp_path / "bin"
    folder.mkdir()
    (folder / "lambda-hat").write_text(f'#!/bin/sh\nexec {sys.executable} -c "$1"\n')
    (folder / "lambda-hat").chmod(0o755)
    return folder


def test_thread_flags_are_accepted_by_jaxlib(tmp_path):
    env = {**os.environ, "PATH": f"{fake_cli(tmp_path)}:{os.environ['PATH']}", "JAX_PLATFORMS": "cpu"}
    env.pop("XLA_FLAGS", None)
    for cpus, flags in (("1", "--xla_cpu_multi_thread_eigen=false"), ("4", "-")):
        result = subprocess.run(["bash", str(WRAPPER), "--cpus", cpus, PROBE], env=env, capture_output=True, text=True)
        assert result.returncode == 0, result.stderr         # jaxlib aborts on an unknown XLA flag
        # several CPUs: XLA's defaults, so the compilation cache keys match the local runner's
        assert result.stdout.split()[0] == flags and result.stdout.split()[-1] == cpus


def test_platform_reaches_jax(tmp_path):
    env = {**os.environ, "PATH": f"{fake_cli(tmp_path)}:{os.environ['PATH']}"}
    result = subprocess.run(["bash", str(WRAPPER), "--cpus", "1", "--platform", "cpu",
                             "import os; print(os.environ['JAX_PLATFORMS'])"], env=env, capture_output=True, text=True)
    assert result.returncode == 0 and result.stdout.strip() == "cpu"


def test_a_task_without_the_cli_says_so(tmp_path):
    env = {**os.environ, "PATH": "/usr/bin:/bin"}
    result = subprocess.run(["bash", str(WRAPPER), "--cpus", "1", "presets"], env=env, capture_output=True, text=True)
    assert result.returncode == 127 and "the lambda-hat CLI is not installed in this task's environment" in result.stderr


def test_a_home_that_cannot_be_written_is_replaced(tmp_path):
    """A container run as a uid without a passwd entry gets HOME=/, which arviz and matplotlib write
    under; the wrapper gives the task a private HOME instead (here HOME is a file, unwritable even
    for root)."""
    env = {**os.environ, "PATH": f"{fake_cli(tmp_path)}:{os.environ['PATH']}", "HOME": "/dev/null"}
    probe = "import os, pathlib; folder = pathlib.Path.home() / '.cache' / 'x'; folder.mkdir(parents=True); print(folder)"
    result = subprocess.run(["bash", str(WRAPPER), "--cpus", "1", probe], env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert Path(result.stdout.strip()).is_dir()
    writable = {**env, "HOME": str(tmp_path)}
    result = subprocess.run(["bash", str(WRAPPER), "--cpus", "1", "import os; print(os.environ['HOME'])"],
                            env=writable, capture_output=True, text=True)
    assert result.stdout.strip() == str(tmp_path)                 # a usable HOME is left alone


def test_the_code_check_records_versions_or_stops_the_task(tmp_path):
    """--code: versions.yml with the running code version, or one line and exit 1 for other code."""
    from lambda_hat.provenance import code_version

    cli = Path(sys.executable).parent / "lambda-hat"
    env = {**os.environ, "PATH": f"{cli.parent}:{os.environ['PATH']}"}
    ok = subprocess.run(["bash", str(WRAPPER), "--cpus", "1", "--code", code_version(), "--process", "LLC:PLAN",
                         "presets", "teacher"], env=env, cwd=tmp_path, capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr
    assert f"lambda-hat: {code_version()}" in (tmp_path / "versions.yml").read_text()
    assert (tmp_path / "versions.yml").read_text().startswith("LLC:PLAN:\n")
    stale = subprocess.run(["bash", str(WRAPPER), "--cpus", "1", "--code", "0.1.0+000000000000", "presets"],
                           env=env, cwd=tmp_path, capture_output=True, text=True)
    assert stale.returncode == 1 and stale.stdout == ""
    assert stale.stderr.count("\n") == 1 and "rebuild the image" in stale.stderr


def test_a_failure_is_recorded_for_each_run_and_a_kill_is_not(tmp_path):
    """--record-failure: a command that exits 1..127 leaves error.json in each run folder that has no
    record of its own (exit status, work folder, its last error line) and the task exits 0; a
    command killed by a signal exits as it was, for Nextflow to retry."""
    import json

    env = {**os.environ, "PATH": f"{fake_cli(tmp_path)}:{os.environ['PATH']}"}
    out = tmp_path / "targets" / "tgt_a"
    (out / "run_done").mkdir(parents=True)
    (out / "run_done" / "analysis.json").write_text("{}")
    (tmp_path / ".command.err").write_text("Traceback ...\nValueError: broken\n")
    failing = "import sys; sys.exit(3)"
    result = subprocess.run(["bash", str(WRAPPER), "--cpus", "1", "--process", "LLC:RUN_SAMPLER", "--record-failure",
                             str(out), "--runs", "done,new", failing], env=env, cwd=tmp_path, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    record = json.loads((out / "run_new" / "error.json").read_text())
    assert record["run_id"] == "new" and record["target_id"] == "tgt_a" and record["created_at"]
    assert record["error"] == (f"the LLC:RUN_SAMPLER task exited with status 3 (work folder {tmp_path}, .command.err): "
                               "ValueError: broken")
    assert not (out / "run_done" / "error.json").exists()           # a run with its own record keeps it
    killed = subprocess.run(["bash", str(WRAPPER), "--cpus", "1", "--record-failure", str(tmp_path / "other"),
                             "import os, signal; os.kill(os.getpid(), signal.SIGKILL)"],
                            env=env, cwd=tmp_path, capture_output=True, text=True)
    assert killed.returncode == 137 and not (tmp_path / "other").exists()
