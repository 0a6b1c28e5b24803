"""Running the real Nextflow from pytest: the executable, one run, its trace, a one-node SLURM.

Nextflow is ``nextflow`` on PATH, else ``scripts/nextflow`` (Nextflow 25.04.4 from Maven Central,
fetched with Maven on first use). Without either the pipeline tests are skipped, unless
``LAMBDA_HAT_REQUIRE_NEXTFLOW`` is set (CI), where that is an error.
"""

from __future__ import annotations

import csv
import os
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CACHE = ROOT / ".cache" / "jax"


def nextflow_command() -> list[str] | None:
    if shutil.which("nextflow"):
        return ["nextflow"]
    if shutil.which("java") and (shutil.which("mvn") or (ROOT / ".cache" / "nextflow").is_dir()):
        return ["bash", str(ROOT / "scripts" / "nextflow")]
    return None


@dataclass
class Run:
    """One finished ``nextflow run``: exit status, output, and the files it published."""

    returncode: int
    output: str
    launch: Path
    outdir: Path

    def trace(self) -> list[dict]:
        """The rows of this run's ``pipeline_info/execution_trace_<start time>.txt`` (the newest one):
        name, status, exit, native_id, hash, workdir, ..."""
        traces = sorted((self.outdir / "pipeline_info").glob("execution_trace_*.txt"))
        with open(traces[-1], newline="") as handle:
            return list(csv.DictReader(handle, delimiter="\t"))

    def statuses(self, process: str) -> list[str]:
        """The trace status (COMPLETED, CACHED, FAILED) of every task of one process, sorted."""
        return sorted(row["status"] for row in self.trace() if row["name"].startswith(f"LLC:{process} "))


@pytest.fixture(scope="session")
def nextflow_bin():
    command = nextflow_command()
    if command is None:
        if os.environ.get("LAMBDA_HAT_REQUIRE_NEXTFLOW"):
            raise RuntimeError("Nextflow is required here: put `nextflow` on PATH or install java and mvn "
                               "for scripts/nextflow")
        pytest.skip("no nextflow, and no java + mvn for scripts/nextflow")
    version = subprocess.run([*command, "-version"], capture_output=True, text=True, timeout=600)
    assert version.returncode == 0, version.stderr
    return command


def run_nextflow(nextflow_bin, launch: Path, *args: str, timeout: float = 900) -> Run:
    """``nextflow run main.nf ARGS`` in ``launch``, sharing the test session's JAX compilation cache
    and publishing to ``<launch>/results``."""
    launch.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "NXF_ANSI_LOG": "false", "JAX_PLATFORMS": "cpu"}
    command = [*nextflow_bin, "run", str(ROOT / "main.nf"), *args,
               "--compilation_cache", str(CACHE), "--outdir", "results"]
    result = subprocess.run(command, cwd=launch, env=env, capture_output=True, text=True, timeout=timeout)
    return Run(result.returncode, result.stdout + result.stderr, launch, launch / "results")


@pytest.fixture(scope="session")
def test_profile_run(nextflow_bin):
    """One run of the pipeline's own test sweep, ``-profile test,local --promote``, shared by the
    tests that compare with it or build on it (the local runner's numbers, a stub run after a real
    one, the same sweep in Docker)."""
    launch = Path(tempfile.mkdtemp(prefix="lambda-hat-test-profile-"))
    try:
        yield run_nextflow(nextflow_bin, launch, "-profile", "test,local", "--promote")
    finally:
        shutil.rmtree(launch, ignore_errors=True)


@pytest.fixture
def nextflow(nextflow_bin, tmp_path):
    """``nextflow(*args, launch=tmp_path) -> Run``: ``nextflow run main.nf ARGS`` in a launch folder.

    Every run shares the test session's JAX compilation cache and publishes to ``<launch>/results``.
    """

    def run(*args: str, launch: Path = tmp_path, timeout: float = 900) -> Run:
        return run_nextflow(nextflow_bin, launch, *args, timeout=timeout)

    return run


def free_ports(count: int) -> list[int]:
    """Ports nothing listens on now (so that a cluster left over by an earlier run is no obstacle)."""
    sockets = [socket.socket() for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


@pytest.fixture(scope="session")
def slurm():
    """A one-node SLURM (tests/nextflow/slurm_local.sh) with partitions ``debug`` and ``a100`` and a
    fake ``gpu:a100`` GRES; yields the environment for its clients. Needs root and slurm-wlm."""
    reason = None
    if os.geteuid() != 0:
        reason = "the local SLURM needs root"
    elif not (shutil.which("slurmctld") and shutil.which("munged")):
        reason = "slurm-wlm and munge are not installed"
    if reason:
        if os.environ.get("LAMBDA_HAT_REQUIRE_SLURM"):
            raise RuntimeError(f"SLURM is required here: {reason}")
        pytest.skip(reason)
    # not under pytest's temporary folder: that is private to root, and munged runs as `munge`
    base = Path(tempfile.mkdtemp(prefix="lambda-hat-slurm-"))
    script = ROOT / "tests" / "nextflow" / "slurm_local.sh"
    env = {**os.environ, "SLURM_LOCAL_PORTS": " ".join(str(port) for port in free_ports(2))}
    started = subprocess.run(["bash", str(script), "up", str(base)], capture_output=True, text=True, timeout=120,
                             env=env)
    assert started.returncode == 0, started.stdout + started.stderr
    previous = os.environ.get("SLURM_CONF")
    os.environ["SLURM_CONF"] = str(base / "slurm.conf")
    try:
        yield os.environ["SLURM_CONF"]
    finally:
        subprocess.run(["bash", str(script), "down", str(base)], capture_output=True, timeout=120)
        shutil.rmtree(base, ignore_errors=True)
        if previous is None:
            os.environ.pop("SLURM_CONF", None)
        else:
            os.environ["SLURM_CONF"] = previous


#: the uid the container tests run Nextflow as: neither root nor the image's own user (1000)
TASK_UID = 1234


def required(variable: str, reason: str):
    """Skip with ``reason``, or fail where CI requires the capability (``variable`` is set)."""
    if os.environ.get(variable):
        raise RuntimeError(f"{variable} is set but {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def docker_engine():
    """A Docker engine: one that answers already, else dockerd started here (tests/nextflow/docker_local.sh,
    stopped at the end). Needs root and Debian's docker.io where none runs."""
    if not shutil.which("docker"):
        required("LAMBDA_HAT_REQUIRE_DOCKER", "docker is not installed")
    answers = subprocess.run(["docker", "info"], capture_output=True).returncode == 0
    if not answers and (os.geteuid() != 0 or not shutil.which("dockerd")):
        required("LAMBDA_HAT_REQUIRE_DOCKER", "no Docker engine answers, and none can be started (root and dockerd)")
    base = Path(tempfile.mkdtemp(prefix="lambda-hat-docker-"))
    script = ROOT / "tests" / "nextflow" / "docker_local.sh"
    started = subprocess.run(["bash", str(script), "up", str(base)], capture_output=True, text=True, timeout=120)
    assert started.returncode == 0, started.stdout + started.stderr
    try:
        yield
    finally:
        subprocess.run(["bash", str(script), "down", str(base)], capture_output=True, timeout=120)
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="session")
def cpu_image(docker_engine):
    """The CPU image, built by containers/build.sh (its layers cached by the engine); yields the
    build's output (the context size and build time are in it)."""
    result = subprocess.run(["bash", str(ROOT / "containers" / "build.sh"), "cpu"], capture_output=True, text=True,
                            timeout=1800)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result.stdout + result.stderr


@pytest.fixture(scope="session")
def task_user(docker_engine):
    """``(name, uid)`` of a user with uid 1234 in the docker group (created where missing; needs root)."""
    import pwd

    try:
        user = pwd.getpwuid(TASK_UID).pw_name
    except KeyError:
        if os.geteuid() != 0:
            required("LAMBDA_HAT_REQUIRE_DOCKER", f"no user with uid {TASK_UID}, and only root can add one")
        subprocess.run(["useradd", "--uid", str(TASK_UID), "--create-home", "lambda-hat-ci"], check=True)
        user = "lambda-hat-ci"
    if os.geteuid() == 0:
        subprocess.run(["usermod", "--append", "--groups", "docker", user], check=True)
    elif os.geteuid() != TASK_UID:
        required("LAMBDA_HAT_REQUIRE_DOCKER", f"the container tests run as uid {TASK_UID}: run them as root or as that user")
    return user, TASK_UID


@pytest.fixture
def nextflow_as(nextflow_bin, task_user):
    """``nextflow_as(*args, launch=DIR) -> Run``: ``nextflow run main.nf ARGS`` started by the task
    user (uid 1234) in a launch folder of its own, outside pytest's private temporary folder."""
    user, uid = task_user
    folders = []

    def run(*args: str, launch: Path | None = None, main: Path = ROOT / "main.nf", timeout: float = 900) -> Run:
        if launch is None:
            launch = Path(tempfile.mkdtemp(prefix="lambda-hat-nf-"))
            folders.append(launch)
        launch.mkdir(parents=True, exist_ok=True)
        os.chown(launch, uid, -1)
        env = {"PATH": "/usr/local/bin:/usr/bin:/bin",            # the tasks run lambda-hat inside the image
               "HOME": str(launch), "NXF_HOME": str(launch / ".nextflow-home"), "NXF_ANSI_LOG": "false",
               "JAX_PLATFORMS": "cpu", "LANG": "C.UTF-8"}
        if os.environ.get("JAVA_HOME"):
            env["JAVA_HOME"] = os.environ["JAVA_HOME"]
        command = [*nextflow_bin, "run", str(main), *args, "--outdir", "results"]
        if os.geteuid() == 0:
            command = [shutil.which("runuser") or "/usr/sbin/runuser", "-u", user, "--", "env",
                       *(f"{k}={v}" for k, v in env.items()), *command]
        result = subprocess.run(command, cwd=launch, env={**os.environ, **env}, capture_output=True, text=True,
                                timeout=timeout)
        return Run(result.returncode, result.stdout + result.stderr, launch, launch / "results")

    yield run
    for folder in folders:
        shutil.rmtree(folder, ignore_errors=True)
